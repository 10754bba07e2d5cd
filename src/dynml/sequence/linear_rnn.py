"""Linear continuous-time RNN `ḣ = W h + U x`, `ŷ = c h` (Li, Han, E, Li, ICLR 2021).

Its output is `ŷ_t = ∫_0^∞ ρ̂(s) x_{t-s} ds` with the closed-form kernel `ρ̂(s) = c e^{Ws} U`.
Discretised with step `dt` as `h_k = e^{W dt} h_{k-1} + U x_k`, `ŷ_k = dt c h_k`, the output is
exactly `ŷ_k = dt Σ_{s=0}^{k} ρ̂(s dt) x_{k-s}`: the left Riemann sum of the continuous
convolution, the same discretisation as `systems.memory.causal_convolution`.
"""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.linalg import expm
from jaxtyping import Array, Float, PRNGKeyArray

from .base import AbstractSequenceModel


class LinearRNN(AbstractSequenceModel):
    """Linear RNN of width `m` with weights `W (m, m)`, `U (m, in)`, `c (out, m)`."""

    W: Float[Array, "m m"]
    U: Float[Array, "m in"]
    c: Float[Array, "out m"]
    dt: float = eqx.field(static=True)

    def __init__(
        self,
        width: int,
        in_size: int = 1,
        out_size: int = 1,
        dt: float = 0.1,
        *,
        key: PRNGKeyArray,
        rates: Float[Array, " m"] | None = None,
        noise: float = 0.1,
        readout_scale: float = 1.0,
    ):
        """`W = -diag(rates) + noise·N(0, 1/m)`; rates default to log-spaced in [0.1, 10]."""
        if width < 1 or dt <= 0:
            raise ValueError(f"need width >= 1 and dt > 0, got width={width}, dt={dt}")
        kw, ku, kc = jax.random.split(key, 3)
        if rates is None:
            rates = jnp.asarray(np.logspace(-1, 1, width), jnp.float32)
        rates = jnp.asarray(rates, jnp.float32)
        if rates.shape != (width,):
            raise ValueError(f"rates must have shape ({width},), got {rates.shape}")
        self.W = -jnp.diag(rates) + noise * jax.random.normal(kw, (width, width)) / np.sqrt(width)
        self.U = jax.random.normal(ku, (width, in_size)) / np.sqrt(in_size)
        self.c = readout_scale * jax.random.normal(kc, (out_size, width)) / np.sqrt(width)
        self.dt = float(dt)

    @property
    def width(self) -> int:
        return self.W.shape[0]

    def kernel(self, t: Float[Array, " n_t"]) -> Float[Array, "n_t out in"]:
        """The closed-form kernel `ρ̂(t) = c e^{W t} U`, one matrix exponential per time."""
        return jax.vmap(lambda s: self.c @ expm(self.W * s) @ self.U)(jnp.asarray(t))

    def sampled_kernel(self, length: int) -> Float[Array, "length out in"]:
        """`ρ̂(s dt) = c A^s U` for `s = 0, …, length-1`, `A = e^{W dt}` (one `expm`).

        The powers `A^s U` are built by doubling, `[V, A^n V]` with `A^{2n} = (A^n)²`, in
        `log2(length)` batched products instead of a sequential scan.
        """
        A = expm(self.W * self.dt)
        V = self.U[None]
        while V.shape[0] < length:
            V = jnp.concatenate([V, A @ V])
            A = A @ A
        return self.c @ V[:length]

    def forward(self, x: Float[Array, "n_t in"]) -> Float[Array, "n_t out"]:
        """Run `h_k = e^{W dt} h_{k-1} + U x_k` from `h_{-1} = 0`; return `ŷ_k = dt c h_k`."""
        A = expm(self.W * self.dt)

        def step(h, xk):
            h = A @ h + self.U @ xk
            return h, self.dt * (self.c @ h)

        return jax.lax.scan(step, jnp.zeros(self.width), x)[1]


class DiagonalLinearRNN(AbstractSequenceModel):
    """Linear RNN with `W = -diag(λ)`, `U = 1`, readout `c`: kernel `ρ̂(t) = Σ_i c_i e^{-λ_i t}`.

    The parametrisation of the plateau analysis of Li, Han, E, Li (JMLR 2022, §5): gradient
    descent acts on the rates `λ` and weights `c` directly. `__call__` runs
    `h_k = e^{-λ dt} h_{k-1} + x_k`, `ŷ_k = dt c·h_k` (the left Riemann sum, as `LinearRNN`).
    """

    rates: Float[Array, " m"]
    weights: Float[Array, " m"]
    dt: float = eqx.field(static=True)

    def __init__(self, rates, weights, dt: float = 0.1):
        rates, weights = jnp.asarray(rates, jnp.float32), jnp.asarray(weights, jnp.float32)
        if rates.ndim != 1 or rates.shape != weights.shape or dt <= 0:
            raise ValueError(
                f"need rates, weights of one shape (m,), dt > 0; got {rates.shape}, {weights.shape}, {dt}"
            )
        self.rates, self.weights, self.dt = rates, weights, float(dt)

    def kernel(self, t: Float[Array, " n_t"]) -> Float[Array, " n_t"]:
        """`ρ̂(t) = Σ_i c_i e^{-λ_i t}`."""
        return jnp.exp(-jnp.outer(jnp.asarray(t), self.rates)) @ self.weights

    def sampled_kernel(self, length: int) -> Float[Array, "length 1 1"]:
        """`ρ̂(s dt)`, `s = 0, …, length-1`, shaped like `LinearRNN.sampled_kernel`."""
        return self.kernel(jnp.arange(length) * self.dt)[:, None, None]

    def forward(self, x: Float[Array, "n_t 1"]) -> Float[Array, "n_t 1"]:
        decay = jnp.exp(-self.rates * self.dt)

        def step(h, xk):
            h = decay * h + xk[0]
            return h, self.dt * (self.weights @ h)

        return jax.lax.scan(step, jnp.zeros_like(self.rates), x)[1][:, None]

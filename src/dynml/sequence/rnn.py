"""Nonlinear RNN `h_k = σ(W h_{k-1} + U x_k + b)`, or residual `h_k = h_{k-1} + dt σ(…)`.

The residual form is the forward-Euler discretisation of `ḣ = σ(W h + U x + b)`, the
continuous-time RNN of Li, Han, E, Li (2021). The readout `ŷ_k = C h_k + d` is affine.
"""

from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, PRNGKeyArray

from ..core.nn import activation as named_activation
from .base import AbstractSequenceModel


class RNN(AbstractSequenceModel):
    """Elman RNN (tanh by default) of width `m`, optionally residual, with a linear readout."""

    W: Float[Array, "m m"]
    U: Float[Array, "m in"]
    b: Float[Array, " m"]
    readout: eqx.nn.Linear
    residual: bool = eqx.field(static=True)
    dt: float = eqx.field(static=True)
    act: Callable[[Array], Array] = eqx.field(static=True)

    def __init__(
        self,
        width: int,
        in_size: int = 1,
        out_size: int = 1,
        *,
        key: PRNGKeyArray,
        residual: bool = False,
        dt: float = 0.1,
        activation: str = "tanh",
    ):
        if width < 1:
            raise ValueError(f"width must be a positive integer, got {width}")
        kw, ku, kr = jax.random.split(key, 3)
        # orthogonal recurrent weights keep the spectrum on the unit circle at the start
        q, _ = jnp.linalg.qr(jax.random.normal(kw, (width, width)))
        self.W = q if not residual else q - jnp.eye(width)
        self.U = jax.random.normal(ku, (width, in_size)) / np.sqrt(in_size)
        self.b = jnp.zeros(width)
        self.readout = eqx.nn.Linear(width, out_size, key=kr)
        self.residual = residual
        self.dt = float(dt)
        self.act = named_activation(activation)

    def forward(self, x: Float[Array, "n_t in"]) -> Float[Array, "n_t out"]:
        def step(h, xk):
            z = self.act(self.W @ h + self.U @ xk + self.b)
            h = h + self.dt * z if self.residual else z
            return h, h

        hs = jax.lax.scan(step, jnp.zeros(self.W.shape[0]), x)[1]
        return jax.vmap(self.readout)(hs)

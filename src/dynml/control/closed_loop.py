"""Closed-loop control defence of a trained residual network (Chen, Li, Zhang, ICLR 2021).

A trained net `x_{t+1} = f_t(x_t)` (`t = 0..T-1`, a tuple of `control.layers`) is seen as a
discrete dynamical system. For chosen layers `t ∈ C` the *embedding manifold* of the hidden
states of correctly classified training points is fitted as an affine subspace by PCA: the
mean `m_t` and the leading right singular vectors `V_r` of the centred states, `r` the
smallest rank whose cumulative singular values reach `threshold` (0.99 in the paper) of their
sum; `Q_t = I − V_r V_rᵀ` projects onto the orthogonal complement.

At test time the controlled net runs `x_{t+1} = f_t(x_t + u_t)`, with controls that minimise
the running cost only (no labels, no retraining)

    J(u) = Σ_{t∈C} ‖Q_t(x_t + u_t − m_t)‖² + c ‖u_t‖²,

solved by the method of successive approximations from `u = 0`: with the Hamiltonian
`H_t = p_{t+1} · f_t(x_t + u_t) − ‖Q_t(x_t + u_t − m_t)‖² − c‖u_t‖²` (Li & Hao, ICML 2018),

- forward  `x_{t+1} = f_t(x_t + u_t)`,
- backward `p_T = 0`, `p_t = ∇_x H_t = (∂f_t)ᵀ p_{t+1} − 2 Q_t(x_t + u_t − m_t)`,
- update   `u_t ← u_t + η ∂H_t/∂u_t / (2(1 + c))`, `∂H_t/∂u_t = p_t − 2c u_t`,

a fixed number of iterations. `∂H_t/∂u_t = −∂J/∂u_t`, so this is gradient descent on `J`
preconditioned by the curvature `2(1 + c)` of the running cost: for one controlled layer
with nothing downstream, one step with `η = 1` is the exact minimiser
`u = −Q(x − m)/(1 + c)`, and `c → ∞` gives `u → 0`. `optimizer="adam"` replaces the update by
Adam ascent on `H` (the authors' choice: learning rate 0.01, 10 iterations). The cost is a sum
over samples and both updates act per coordinate, so each example is controlled on its own.
"""

from collections.abc import Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
from jaxtyping import Array, Float, Int

from . import pmp
from .layers import AvgPool, Conv, ConvResidual, Dense, Flatten


def residual_cnn(side: int, channels: int = 8, blocks: int = 2, *, key) -> tuple:
    """A small residual CNN as layers: conv stem (tanh), 2×2 average pool, `blocks` residual
    convs `x_{t+1} = x_t + 0.5 tanh(conv x_t)`, flatten, dense 10 (images `(S, 1, side, side)`)."""
    k = jax.random.split(key, blocks + 2)
    res = tuple(ConvResidual(channels, key=kk) for kk in k[2:])
    flat = channels * (side // 2) ** 2
    return (Conv(1, channels, key=k[0]), AvgPool(), *res, Flatten(), Dense(flat, 10, key=k[1]))


class EmbeddingManifold(eqx.Module):
    """Affine subspace `m + span(V)` of flattened hidden states; `Q = I − V Vᵀ`."""

    mean: Float[Array, " d"]
    basis: Float[Array, "d r"]

    @property
    def rank(self) -> int:
        return int(self.basis.shape[1])

    def projector(self) -> Float[Array, "d d"]:
        """`Q = I − V_r V_rᵀ` as a matrix."""
        d = self.basis.shape[0]
        return jnp.eye(d) - self.basis @ self.basis.T

    def residual(self, z: Float[Array, "S ..."]) -> Float[Array, "S ..."]:
        """`Q(z − m)` for a batch of states, in the states' shape."""
        c = z.reshape(z.shape[0], -1) - self.mean
        return (c - (c @ self.basis) @ self.basis.T).reshape(z.shape)


def fit_manifold(states: Float[Array, "N ..."], threshold: float = 0.99) -> EmbeddingManifold:
    """PCA of `states`: mean and the rank-`r` basis whose cumulative singular values first
    reach `threshold` of their sum (Chen, Li, Zhang 2021)."""
    if not 0.0 < threshold <= 1.0:
        raise ValueError(f"threshold must be in (0, 1], got {threshold}")
    z = np.asarray(states, dtype=np.float64).reshape(len(states), -1)
    if len(z) < 2:
        raise ValueError("fit_manifold needs at least two states")
    mean = z.mean(axis=0)
    _, s, vt = np.linalg.svd(z - mean, full_matrices=False)
    frac = np.cumsum(s) / max(s.sum(), np.finfo(float).tiny)
    r = int(min(np.searchsorted(frac, threshold - 1e-12) + 1, len(s)))
    return EmbeddingManifold(jnp.asarray(mean, jnp.float32), jnp.asarray(vt[:r].T, jnp.float32))


def fit_manifolds(
    layers: tuple,
    x: Float[Array, "N ..."],
    y: Int[Array, " N"],
    controlled: Sequence[int],
    threshold: float = 0.99,
) -> tuple:
    """One manifold per layer index (the state `x_t` entering layer `t`), `None` where the
    layer is not controlled; fitted on the training points the net classifies correctly."""
    xs = jax.jit(lambda a: pmp.forward(layers, a))(jnp.asarray(x))
    keep = np.asarray(jnp.argmax(xs[-1], axis=1) == jnp.asarray(y))
    bad = [t for t in controlled if not 0 <= t < len(layers)]
    if bad:
        raise ValueError(f"controlled layers must be in [0, {len(layers)}), got {bad}")
    return tuple(
        fit_manifold(np.asarray(xs[t])[keep], threshold) if t in controlled else None
        for t in range(len(layers))
    )


def running_cost(
    manifolds: tuple,
    states: list[Float[Array, "S ..."]],
    controls: list[Float[Array, "S ..."]],
    cost: float,
) -> Float[Array, ""]:
    """`J = Σ_{t∈C} ‖Q_t(x_t + u_t − m_t)‖² + c‖u_t‖²`, summed over the batch."""
    total = jnp.array(0.0)
    for m, x, u in zip(manifolds, states, controls, strict=False):
        if m is not None:
            total = total + jnp.sum(m.residual(x + u) ** 2) + cost * jnp.sum(u**2)
    return total


def controlled_forward(
    layers: tuple,
    manifolds: tuple,
    x0: Float[Array, "S ..."],
    controls: list[Float[Array, "S ..."]],
) -> list[Float[Array, "S ..."]]:
    """States `[x_0, ..., x_T]` of `x_{t+1} = f_t(x_t + u_t)` (`u_t` ignored where uncontrolled)."""
    xs = [x0]
    for f, m, u in zip(layers, manifolds, controls, strict=True):
        xs.append(f(xs[-1] + u) if m is not None else f(xs[-1]))
    return xs


def hamiltonian_gradient(layers: tuple, manifolds: tuple, xs: list, controls: list, cost: float):
    """`∂H_t/∂u_t = p_t − 2c u_t` for every controlled layer, by the backward costate pass."""
    p = jnp.zeros_like(xs[-1])
    grads = [None] * len(layers)
    for t in reversed(range(len(layers))):
        m, u = manifolds[t], controls[t]
        z = xs[t] + u if m is not None else xs[t]
        p = pmp.costate_step(layers[t], z, p)
        if m is not None:
            p = p - 2.0 * m.residual(z)
            grads[t] = p - 2.0 * cost * u
    return grads


class ClosedLoop(eqx.Module):
    """A trained layered net with the closed-loop controller in front of its chosen layers.

    `controls(x0)` solves for `u` (see the module docstring); calling the module returns the
    logits of the controlled net. The controller is a function of the input only and is
    differentiable, so an adaptive attack can differentiate through it.
    """

    layers: tuple
    manifolds: tuple
    cost: float = eqx.field(static=True, default=0.1)
    iterations: int = eqx.field(static=True, default=10)
    lr: float = eqx.field(static=True, default=1.0)
    optimizer: str = eqx.field(static=True, default="gd")

    def __check_init__(self):
        if len(self.manifolds) != len(self.layers):
            raise ValueError("ClosedLoop needs one manifold (or None) per layer")
        if self.cost < 0 or self.iterations < 0 or self.lr <= 0:
            raise ValueError("ClosedLoop needs cost >= 0, iterations >= 0 and lr > 0")
        if self.optimizer not in ("gd", "adam"):
            raise ValueError(f"optimizer must be 'gd' or 'adam', got {self.optimizer!r}")

    def _zero(self, x0: Array) -> list:
        xs = pmp.forward(self.layers, x0)
        return [
            jnp.zeros_like(x) if m is not None else None
            for x, m in zip(xs, self.manifolds, strict=False)
        ]

    def controls(self, x0: Float[Array, "S ..."]) -> list:
        """Controls `[u_0, ..., u_{T-1}]` (`None` where uncontrolled) after `iterations` steps."""
        u0 = self._zero(x0)
        if self.iterations == 0:
            return u0
        opt = optax.adam(self.lr) if self.optimizer == "adam" else None
        scale = self.lr / (2.0 * (1.0 + self.cost))

        def body(carry, _):
            u, s = carry
            xs = controlled_forward(self.layers, self.manifolds, x0, u)
            g = hamiltonian_gradient(self.layers, self.manifolds, xs, u, self.cost)
            if opt is None:
                return (jax.tree.map(lambda a, b: a + scale * b, u, g), s), None
            upd, s = opt.update(jax.tree.map(jnp.negative, g), s, u)
            return (optax.apply_updates(u, upd), s), None

        state = opt.init(u0) if opt is not None else ()
        (u, _), _ = jax.lax.scan(body, (u0, state), None, self.iterations)
        return u

    def __call__(self, x0: Float[Array, "S ..."]) -> Float[Array, "S K"]:
        return controlled_forward(self.layers, self.manifolds, x0, self.controls(x0))[-1]

    def manifold_residuals(self, x0: Float[Array, "S ..."], controls=None) -> Float[Array, " S"]:
        """Per-example `Σ_{t∈C} ‖Q_t(x_t + u_t − m_t)‖²` (zero controls when `None`)."""
        u = self._zero(x0) if controls is None else controls
        xs = controlled_forward(self.layers, self.manifolds, x0, u)
        total = jnp.zeros(x0.shape[0])
        for m, x, ut in zip(self.manifolds, xs, u, strict=False):
            if m is not None:
                r = m.residual(x + ut)
                total = total + jnp.sum(r.reshape(r.shape[0], -1) ** 2, axis=1)
        return total

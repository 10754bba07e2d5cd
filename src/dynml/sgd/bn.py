"""Gradient descent with and without batch normalisation on ordinary least squares.

OLS: `J(w) = ½ E (y − wᵀx)² = ½ wᵀHw − wᵀg + ½c` with `H = E xxᵀ`, `g = E xy`, `c = E y²`;
GD `w ← w − ε ∇J` converges iff `ε < 2 / λ_max(H)`.
BN model (Cai, Li, Shen, ICML 2019): `ŷ = a wᵀx / ‖w‖_H` with `‖w‖_H = √(wᵀHw)`, loss
`J(a, w) = ½c − a wᵀg / ‖w‖_H + ½a²`. The loss is invariant to the scale of `w` and
`∇_w J ⊥ w`, so `‖w_k‖` grows and the effective step `ε a / ‖w_k‖²_H` self-tunes: BNGD
(`a ← a − ε_a ∂_a J`, `w ← w − ε ∇_w J`) converges for a wide range of `ε`.
"""

from typing import NamedTuple

import jax
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float


class OLS(NamedTuple):
    """Population OLS statistics `H = E xxᵀ`, `g = E xy`, `c = E y²`."""

    h: Float[Array, "d d"]
    g: Float[Array, " d"]
    c: Float[Array, ""]

    @classmethod
    def from_data(cls, x: Float[ArrayLike, "n d"], y: Float[ArrayLike, " n"]) -> "OLS":
        """Empirical statistics of a data set."""
        x, y = jnp.asarray(x), jnp.asarray(y)
        if x.ndim != 2 or y.shape != (x.shape[0],):
            raise ValueError(
                f"need x of shape (n, d) and y of shape (n,), got {x.shape}, {y.shape}"
            )
        n = x.shape[0]
        return cls(x.T @ x / n, x.T @ y / n, y @ y / n)

    def optimal_loss(self) -> Float[Array, ""]:
        """`J* = ½ (c − gᵀH⁻¹g)`."""
        return 0.5 * (self.c - self.g @ jnp.linalg.solve(self.h, self.g))

    def loss(self, w: Float[Array, " d"]) -> Float[Array, ""]:
        """The OLS loss `J(w)`."""
        return 0.5 * w @ self.h @ w - w @ self.g + 0.5 * self.c

    def bn_loss(self, a: Float[Array, ""], w: Float[Array, " d"]) -> Float[Array, ""]:
        """The batch-normalised loss `J(a, w)`."""
        return 0.5 * self.c - a * (w @ self.g) / jnp.sqrt(w @ self.h @ w) + 0.5 * a**2


def random_ols(key: Array, n: int, d: int, condition: float = 100.0, noise: float = 0.1) -> OLS:
    """A well-posed OLS problem: inputs with covariance spectrum from 1 to `condition`
    (log-spaced), `y = w*ᵀx + noise ε`, `w* ~ N(0, I)`; statistics of `n` samples."""
    if n < d or condition < 1:
        raise ValueError(f"need n >= d and condition >= 1, got n={n}, d={d}, {condition}")
    kq, kx, kw, ke = jax.random.split(key, 4)
    q, _ = jnp.linalg.qr(jax.random.normal(kq, (d, d)))
    scales = jnp.sqrt(jnp.logspace(0.0, jnp.log10(condition), d))
    x = jax.random.normal(kx, (n, d)) * scales @ q.T
    y = x @ jax.random.normal(kw, (d,)) + noise * jax.random.normal(ke, (n,))
    return OLS.from_data(x, y)


def gd(problem: OLS, w0: Float[ArrayLike, " d"], lr: float, steps: int) -> Float[Array, " steps+1"]:
    """Excess loss `J(w_k) − J*` of GD `w ← w − ε (Hw − g)`, k = 0…steps."""
    j_star = problem.optimal_loss()

    def step(w, _):
        w = w - lr * (problem.h @ w - problem.g)
        return w, problem.loss(w) - j_star

    w0 = jnp.asarray(w0)
    _, losses = jax.lax.scan(step, w0, None, length=steps)
    return jnp.concatenate([(problem.loss(w0) - j_star)[None], losses])


def bngd(
    problem: OLS,
    w0: Float[ArrayLike, " d"],
    lr: float,
    steps: int,
    *,
    lr_a: float = 0.5,
    a0: float = 0.0,
) -> tuple[Float[Array, " steps+1"], Float[Array, " steps+1"]]:
    """Excess loss `J(a_k, w_k) − J*` of BNGD and its effective step `ε a_k / ‖w_k‖²_H`.

    `a ← a − ε_a ∂_a J`, `w ← w − ε ∇_w J` (simultaneous updates, exact gradients).
    """
    j_star = problem.optimal_loss()
    grad = jax.grad(problem.bn_loss, argnums=(0, 1))

    def record(a, w):
        return problem.bn_loss(a, w) - j_star, lr * jnp.abs(a) / (w @ problem.h @ w)

    def step(carry, _):
        a, w = carry
        ga, gw = grad(a, w)
        a, w = a - lr_a * ga, w - lr * gw
        return (a, w), record(a, w)

    a0, w0 = jnp.asarray(a0, dtype=float), jnp.asarray(w0)
    _, (losses, eff) = jax.lax.scan(step, (a0, w0), None, length=steps)
    l0, e0 = record(a0, w0)
    return jnp.concatenate([l0[None], losses]), jnp.concatenate([e0[None], eff])


def gd_stability_limit(
    problem: OLS,
    w0: Float[ArrayLike, " d"],
    steps: int,
    lr_bracket: tuple[float, float],
    iterations: int = 40,
) -> float:
    """The largest GD learning rate whose excess loss after `steps` steps is not above the
    initial one, by bisection inside `lr_bracket = (stable, unstable)`.

    Theory: GD on OLS is stable iff `ε < 2/λ_max(H)` (the mode of `λ_max` is multiplied by
    `1 − ελ_max` per step), so the result tends to `2/λ_max` as `steps` grows; from above
    the top mode grows like `(ελ_max − 1)^{2k}`, from below every mode decays.
    """
    lo, hi = (float(v) for v in lr_bracket)
    if not 0 < lo < hi:
        raise ValueError(f"need 0 < stable < unstable learning rates, got {lr_bracket}")
    run = jax.jit(lambda lr: gd(problem, w0, lr, steps))

    def stable(lr):
        losses = run(lr)
        return bool(jnp.isfinite(losses[-1]) & (losses[-1] <= losses[0]))

    if not stable(lo) or stable(hi):
        raise ValueError(f"bracket {lr_bracket} does not enclose the stability limit")
    for _ in range(iterations):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if stable(mid) else (lo, mid)
    return lo

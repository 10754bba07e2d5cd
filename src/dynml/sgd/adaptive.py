"""Controlled SGD (cSGD) and controlled momentum SGD (cMSGD) as optax transformations.

From the SME of SGD on a per-parameter quadratic model `f ≈ ½ a (x − b)²` with gradient-noise
variance `Σ`, the expected excess loss `m` obeys `ṁ = −2 a u m + ½ a η Σ u²` when the learning
rate is `η u`, `u ∈ [0, 1]`. Minimising `m(T)` gives the feedback `u* = min(1, 2m / (ηΣ))`:
full rate, then `1/t` annealing (Li, Tai, E, ICML 2017, §4). `a`, `Σ` and `m` are estimated
online, per parameter, by exponential moving averages (EMAs) of the gradient `g` and the
parameter `x`: `a = Cov(g, x) / Var(x)`, `Σ = Var(g)` and, as in the paper's algorithm,

    m = ½ (ḡ² + Var g) / a          (m_rule="paper", the default)

(`½ E g² / a`, the loss of the quadratic model averaged over the gradient noise), with
averaging rate `β = β_min + (β_max − β_min) Var(g) / (ḡ² + Var(g))`. With this rule
`2m/(ηΣ) ≥ 1/(ηa)`, so `u` stays at 1 wherever `ηa ≤ 1` and anneals only where the rate is
large for the local curvature (towards the Newton-like rate `ηu ≈ 1/a`). The option
`m_rule="mean"` uses `m = ½ ḡ² / a` (the loss at the mean gradient only), which anneals
wherever the noise dominates the mean gradient, at any rate.
"""

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax

M_RULES = ("paper", "mean")


class MovingMoments(NamedTuple):
    """Per-parameter EMAs: means of `g` and `x`, variances, their covariance, and a control."""

    g_mean: optax.Updates
    g_var: optax.Updates
    x_mean: optax.Updates
    x_var: optax.Updates
    gx_cov: optax.Updates
    control: optax.Updates
    count: jax.Array


def _init(params, control0) -> MovingMoments:
    zeros = lambda: jax.tree_util.tree_map(jnp.zeros_like, params)  # noqa: E731
    full = jax.tree_util.tree_map(lambda p: jnp.full_like(p, control0), params)
    return MovingMoments(
        zeros(), zeros(), zeros(), zeros(), zeros(), full, jnp.zeros((), jnp.int32)
    )


def _update_moments(g, x, s, beta_min, beta_max):
    """EMAs after seeing `(g, x)` (West's weighted updates); the first observation
    initialises the means."""
    first = s.count == 0
    g_mean0 = jnp.where(first, g, s.g_mean)
    x_mean0 = jnp.where(first, x, s.x_mean)
    dg, dx = g - g_mean0, x - x_mean0
    ratio = s.g_var / (g_mean0**2 + s.g_var + 1e-30)
    beta = jnp.where(first, 0.0, beta_min + (beta_max - beta_min) * ratio)
    g_mean = g_mean0 + (1 - beta) * dg
    x_mean = x_mean0 + (1 - beta) * dx
    g_var = beta * (s.g_var + (1 - beta) * dg * dg)
    x_var = beta * (s.x_var + (1 - beta) * dx * dx)
    gx_cov = beta * (s.gx_cov + (1 - beta) * dg * dx)
    return beta, g_mean, g_var, x_mean, x_var, gx_cov


def _check_rule(m_rule: str) -> None:
    if m_rule not in M_RULES:
        raise ValueError(f"m_rule must be one of {M_RULES}, got {m_rule!r}")


def quadratic_model(g_mean, g_var, x_var, gx_cov, m_rule: str = "paper"):
    """Estimates `(a, Σ, m)` of the local model `½ a (x − b)²` from the moving moments.

    `a = Cov(g, x)/Var(x)`, `Σ = Var g`; `m = ½(ḡ² + Var g)/a` (`m_rule="paper"`, Li, Tai,
    E 2017) or `m = ½ḡ²/a` (`m_rule="mean"`). Where `a ≤ 0` the returned `m` is computed
    with `a = 1` (the feedback ignores it there).
    """
    _check_rule(m_rule)
    a = gx_cov / jnp.maximum(x_var, 1e-30)
    sigma = g_var
    second_moment = g_mean**2 + g_var if m_rule == "paper" else g_mean**2
    m = 0.5 * second_moment / jnp.where(a > 0, a, 1.0)
    return a, sigma, m


def csgd_feedback(a, sigma, m, eta):
    """Optimal control `u* = min(1, 2m / (ηΣ))`, and `u* = 1` where `a ≤ 0` or `Σ = 0`."""
    u = jnp.minimum(1.0, 2.0 * m / jnp.maximum(eta * sigma, 1e-30))
    return jnp.where((a <= 0) | (sigma <= 0), 1.0, u)


def cmsgd_feedback(a, sigma, m, eta):
    """Momentum control `min(relu(1 − 2√(η|a|)), relu(1 − ηΣ/(4m)))`, and 1 where `a ≤ 0`."""
    mu = jnp.minimum(
        jax.nn.relu(1.0 - 2.0 * jnp.sqrt(eta * jnp.abs(a))),
        jax.nn.relu(1.0 - eta * sigma / jnp.maximum(4.0 * m, 1e-30)),
    )
    return jnp.where(a <= 0, 1.0, mu)


def _rate(learning_rate) -> Callable:
    """A schedule `k ↦ η_k` from a number (constant, may be traced) or an optax schedule."""
    if callable(learning_rate):
        return learning_rate
    if isinstance(learning_rate, int | float) and not learning_rate > 0:
        raise ValueError(f"learning_rate must be positive or a schedule, got {learning_rate}")
    return lambda count: learning_rate


def _controlled(learning_rate, control0, beta_min, beta_max, feedback, momentum, m_rule):
    _check_rule(m_rule)
    rate = _rate(learning_rate)
    if not 0.0 <= beta_min <= beta_max < 1.0:
        raise ValueError(f"need 0 <= beta_min <= beta_max < 1, got {beta_min}, {beta_max}")

    def init(params):
        state = _init(params, control0)
        if momentum:
            return state, jax.tree_util.tree_map(jnp.zeros_like, params)
        return state

    def update(updates, state, params=None):
        if params is None:
            raise ValueError(
                "cSGD/cMSGD need the current params: call update(grads, state, params)"
            )
        s, velocity = state if momentum else (state, None)
        eta = rate(s.count)
        out = jax.tree_util.tree_map(
            lambda g, x, *leaves: _leaf_update(g, x, MovingMoments(*leaves, s.count), eta),
            updates,
            params,
            s.g_mean,
            s.g_var,
            s.x_mean,
            s.x_var,
            s.gx_cov,
            s.control,
        )
        treedef = jax.tree_util.tree_structure(updates)
        parts = [
            jax.tree_util.tree_unflatten(treedef, p)
            for p in zip(*treedef.flatten_up_to(out), strict=True)
        ]
        new = MovingMoments(*parts[:6], s.count + 1)
        if momentum:
            velocity = jax.tree_util.tree_map(
                lambda v, mu, g: mu * v - eta * g, velocity, new.control, updates
            )
            return velocity, (new, velocity)
        step = jax.tree_util.tree_map(lambda u, g: -eta * u * g, new.control, updates)
        return step, new

    def _leaf_update(g, x, s, eta):
        beta, g_mean, g_var, x_mean, x_var, gx_cov = _update_moments(g, x, s, beta_min, beta_max)
        a, sigma, m = quadratic_model(g_mean, g_var, x_var, gx_cov, m_rule)
        target = feedback(a, sigma, m, eta)
        # the control follows its feedback target with the same EMA rate (starts at control0)
        control = jnp.where(s.count < 2, s.control, beta * s.control + (1 - beta) * target)
        return g_mean, g_var, x_mean, x_var, gx_cov, control

    return optax.GradientTransformation(init, update)


def csgd(
    learning_rate: float | optax.Schedule,
    u0: float = 1.0,
    beta_min: float = 0.9,
    beta_max: float = 0.99,
    m_rule: str = "paper",
) -> optax.GradientTransformation:
    """cSGD: `x ← x − η_k u g` per parameter, `u` following `csgd_feedback` from `u0`.

    `learning_rate` is the largest rate `η` (a number, possibly traced to vmap over
    settings, or an optax schedule `k ↦ η_k`, also used in the feedback `2m/(η_k Σ)`);
    `m_rule` picks the excess-loss estimate (`quadratic_model`). Usable on any equinox
    model through `optax` (`update(grads, state, params)`). Li, Tai, E, ICML 2017, §4.
    """
    return _controlled(learning_rate, u0, beta_min, beta_max, csgd_feedback, False, m_rule)


def cmsgd(
    learning_rate: float | optax.Schedule,
    mu0: float = 0.0,
    beta_min: float = 0.9,
    beta_max: float = 0.99,
    m_rule: str = "paper",
) -> optax.GradientTransformation:
    """cMSGD: heavy ball `v ← μ v − η_k g`, `x ← x + v`, `μ` following `cmsgd_feedback`
    from `mu0` (Li, Tai, E, ICML 2017, §4); arguments as for `csgd`."""
    return _controlled(learning_rate, mu0, beta_min, beta_max, cmsgd_feedback, True, m_rule)

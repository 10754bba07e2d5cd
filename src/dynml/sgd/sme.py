"""Stochastic modified equations (SME) of SGD and momentum SGD (Li, Tai, E, ICML 2017; JMLR 2019).

SGD `x_{k+1} = x_k − η ∇f_γ(x_k)` with `f = E_γ f_γ` and `Σ(x) = Cov_γ ∇f_γ(x)` is a weak
approximation of order 1 of

    dX = −∇f(X) dt + (η Σ(X))^{1/2} dW

and of order 2 of the same SDE with drift `−∇(f + (η/4)|∇f|²)`: for smooth test functions
`g`, `max_{k ≤ T/η} |E g(x_k) − E g(X_{kη})| ≤ C η^order`.
"""

from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float

from ..core.solve import solve_sde

Field = Callable[[ArrayLike, Array, object], Array]


class PerSampleLoss(eqx.Module):
    """A per-sample loss `f(x; γ)` over a weighted finite set of samples `γᵢ`.

    The set is a data set (equal weights) or a quadrature rule for a continuous `γ`; the
    mean loss is `f(x) = Σᵢ wᵢ f(x; γᵢ)` and `Σ(x) = Σᵢ wᵢ (∇f(x; γᵢ) − ∇f)(∇f(x; γᵢ) − ∇f)ᵀ`.
    `gammas` is an array or pytree of arrays whose leading axis indexes the samples.
    """

    loss: Callable = eqx.field(static=True)
    gammas: object
    weights: Float[Array, " n"]

    def __init__(self, loss: Callable, gammas, weights: ArrayLike | None = None):
        leaves = jax.tree_util.tree_leaves(gammas)
        sizes = {np.shape(x)[0] for x in leaves}
        if len(sizes) != 1:
            raise ValueError(f"gammas must share one leading sample axis, got sizes {sizes}")
        n = sizes.pop()
        w = jnp.full(n, 1.0 / n) if weights is None else jnp.asarray(weights, dtype=float)
        if w.shape != (n,) or bool(jnp.any(w < 0)):
            raise ValueError(f"weights must be {n} non-negative numbers, got shape {w.shape}")
        self.loss = loss
        self.gammas = jax.tree_util.tree_map(jnp.asarray, gammas)
        self.weights = w / jnp.sum(w)

    def value(self, x: Float[Array, " d"]) -> Float[Array, ""]:
        """The mean loss `f(x)`."""
        return self.weights @ jax.vmap(self.loss, (None, 0))(x, self.gammas)

    def grad(self, x: Float[Array, " d"]) -> Float[Array, " d"]:
        """`∇f(x)`."""
        return jax.grad(self.value)(x)

    def per_sample_grads(self, x: Float[Array, " d"]) -> Float[Array, "n d"]:
        """`∇f(x; γᵢ)` for every sample, by `vmap` of `grad`."""
        return jax.vmap(jax.grad(self.loss), (None, 0))(x, self.gammas)

    def noise_factor(self, x: Float[Array, " d"]) -> Float[Array, "d n"]:
        """`B = [√wᵢ (∇f(x; γᵢ) − ∇f(x))]ᵢ` with `B Bᵀ = Σ(x)` (a non-square square root)."""
        g = self.per_sample_grads(x)
        return ((g - self.weights @ g) * jnp.sqrt(self.weights)[:, None]).T

    def covariance(self, x: Float[Array, " d"]) -> Float[Array, "d d"]:
        """The per-sample gradient covariance `Σ(x)`."""
        b = self.noise_factor(x)
        return b @ b.T


def psd_sqrt(s: Float[Array, "d d"]) -> Float[Array, "d d"]:
    """Symmetric square root of a positive semi-definite matrix: `V diag(√max(λ, 0)) Vᵀ`.

    The symmetrised input is diagonalised with `eigh` and round-off negative eigenvalues are
    clipped to zero, so the result is real and symmetric with `R R ≈ S`. A `1 × 1` input
    takes the scalar root directly (no LAPACK call: much faster under `vmap`).
    """
    if s.shape == (1, 1):
        return _safe_sqrt(s)
    lam, v = jnp.linalg.eigh(0.5 * (s + s.T))
    return (v * _safe_sqrt(lam)) @ v.T


def _safe_sqrt(x):
    """`√max(x, 0)` with a zero (not NaN) derivative where `x ≤ 0`."""
    pos = x > 0
    return jnp.where(pos, jnp.sqrt(jnp.where(pos, x, 1.0)), 0.0)


def _check_order(order: int) -> None:
    if order not in (1, 2):
        raise ValueError(f"SME order must be 1 or 2, got {order}")


def sme_drift(problem: PerSampleLoss, eta: float, order: int = 1) -> Field:
    """Drift `−∇f` (order 1) or `−∇(f + (η/4)|∇f|²)` (order 2) as a field `(t, x, args)`."""
    _check_order(order)

    def modified(x):
        g = problem.grad(x)
        return problem.value(x) + 0.25 * eta * jnp.sum(g * g)

    grad = problem.grad if order == 1 else jax.grad(modified)
    return lambda t, x, args: -grad(x)


def sme_diffusion(problem: PerSampleLoss, eta: float, factor: str = "sqrt") -> Field:
    """Diffusion `(η Σ(x))^{1/2}` (`factor="sqrt"`, `d × d`, by `psd_sqrt`), or the smooth
    non-square factor `√η B(x)` with `B Bᵀ = Σ` (`factor="samples"`, `d × n`)."""
    if factor == "sqrt":
        return lambda t, x, args: psd_sqrt(eta * problem.covariance(x))
    if factor == "samples":
        return lambda t, x, args: jnp.sqrt(eta) * problem.noise_factor(x)
    raise ValueError(f"factor must be 'sqrt' or 'samples', got {factor!r}")


def stratonovich_drift(drift: Field, diffusion: Field) -> Field:
    """The Stratonovich drift of an Itô SDE: `b − ½ Σⱼ (∂B_{·j}) B_{·j}` (by `jvp`).

    Lets Stratonovich solvers (Heun: second order in the drift) solve Itô SMEs.
    """

    def field(t, x, args):
        b = diffusion(t, x, args)
        # column j of B differentiated along column j of B, for every j
        corr = jax.vmap(
            lambda e, col: jax.jvp(lambda y: diffusion(t, y, args) @ e, (x,), (col,))[1]
        )(jnp.eye(b.shape[1], dtype=b.dtype), b.T)
        return drift(t, x, args) - 0.5 * jnp.sum(corr, axis=0)

    return field


def momentum_sme(
    problem: PerSampleLoss, eta: float, mu: float, sqrt_cov: Field | None = None
) -> tuple[Field, Field]:
    """SME of heavy-ball SGD `v ← μv − η∇f_γ(x)`, `x ← x + v`, on the state `z = (x, p)`.

    With `x_k ≈ X_{kη}` and `v_k ≈ η P_{kη}` (matching first and second moments of one step):
    `dX = P dt`, `η dP = −[(1 − μ) P + ∇f(X)] dt + (η Σ(X))^{1/2} dW` — a damped particle of
    mass `η` and friction `1 − μ` (Li, Tai, E, JMLR 2019, §4, in our scaling).
    Returns `(drift, diffusion)` for `solve_sde`; `sqrt_cov` replaces the generic
    `(ηΣ(x))^{1/2}` by a problem-specific factor. Start from `p₀ = −∇f(x₀)` (the mean first
    velocity `v₁/η` of SGD started at rest): then the SME's lag behind the slaved motion
    `P = −∇f/(1 − μ)`, `η(P₀ − P_s)/(1 − μ)`, equals SGD's, `ημ∇f/(1 − μ)²` [derived].
    """
    if not 0.0 <= mu < 1.0:
        raise ValueError(f"momentum mu must be in [0, 1), got {mu}")
    sqrt_cov = sme_diffusion(problem, eta) if sqrt_cov is None else sqrt_cov

    def drift(t, z, args):
        x, p = jnp.split(z, 2)
        return jnp.concatenate([p, -((1.0 - mu) * p + problem.grad(x)) / eta])

    def diffusion(t, z, args):
        x, _ = jnp.split(z, 2)
        b = sqrt_cov(t, x, args) / eta
        return jnp.concatenate([jnp.zeros_like(b), b])

    return drift, diffusion


def sgd_paths(
    problem: PerSampleLoss,
    gammas_path,
    x0: Float[ArrayLike, " d"],
    eta: float,
    mu: float = 0.0,
) -> Float[Array, "n_paths n_steps+1 d"]:
    """Runs of (momentum) SGD `v ← μv − η∇f(x; γ_k)`, `x ← x + v` from `x0`, `v₀ = 0`.

    `gammas_path` holds the samples: a pytree with leading axes `(n_paths, n_steps)`.
    `mu = 0` is plain SGD. Jitted scan over steps, vmapped over paths.
    """
    grad = jax.grad(problem.loss)
    x0 = jnp.asarray(x0, dtype=float)

    def run(gammas):
        def step(carry, gamma):
            x, v = carry
            v = mu * v - eta * grad(x, gamma)
            return (x + v, v), x + v

        _, xs = jax.lax.scan(step, (x0, jnp.zeros_like(x0)), gammas)
        return jnp.concatenate([x0[None], xs])

    return jax.jit(jax.vmap(run))(gammas_path)


def coupled_ensembles(
    problem: PerSampleLoss,
    gamma_of_normal: Callable[[Array], object],
    x0: Float[ArrayLike, " d"],
    eta: float,
    n_steps: int,
    key: Array,
    n_paths: int,
    *,
    noise_dim: int | None = None,
    order: int = 1,
    substeps: int = 16,
    solver: str = "heun",
    factor: str = "sqrt",
    mu: float | None = None,
    diffusion: Field | None = None,
) -> tuple[Float[Array, "n_paths n_t d"], Float[Array, "n_paths n_t d"]]:
    """SGD (or momentum SGD with `mu`) runs and SME paths driven by the same Gaussian noise.

    The SME is solved with step `η / substeps` from Brownian increments `ΔW`; SGD step `k`
    uses `γ_k = gamma_of_normal(ξ_k)` with `ξ_k = (W((k+1)η) − W(kη)) / √η ~ N(0, I)`, so
    each process has its exact law while the difference `g(x_k) − g(X_{kη})` has a small
    variance (shared samples). Itô SMEs are solved with Stratonovich solvers (`heun`) by
    `stratonovich_drift`. `factor` picks the diffusion (`sme_diffusion`; with `"samples"`
    the noise dimension is the number of samples); a problem-specific `diffusion` field
    `(d, noise_dim)` with `B Bᵀ = ηΣ` replaces it (for momentum SGD: the factor inside
    `momentum_sme`). Returns `(sgd, sme)`, each `(n_paths, n_steps + 1, d)` in `x`.
    """
    x0 = jnp.asarray(x0, dtype=float)
    d = x0.shape[0]
    if diffusion is not None:
        if noise_dim is None:
            raise ValueError("a custom diffusion needs its noise_dim")
    elif factor == "samples":
        noise_dim = problem.weights.shape[0]
    m = noise_dim if noise_dim is not None else d
    dt = eta / substeps
    dw = jnp.sqrt(dt) * jax.random.normal(key, (n_paths, n_steps * substeps, m))
    xi = dw.reshape(n_paths, n_steps, substeps, m).sum(2) / jnp.sqrt(eta)
    gammas = jax.vmap(jax.vmap(gamma_of_normal))(xi)
    ts = eta * jnp.arange(n_steps + 1)
    if mu is None:
        drift = sme_drift(problem, eta, order)
        diffusion = sme_diffusion(problem, eta, factor) if diffusion is None else diffusion
        z0 = x0
    else:
        drift, diffusion = momentum_sme(problem, eta, mu, diffusion)
        z0 = jnp.concatenate([x0, -problem.grad(x0)])
    if solver in ("heun", "euler_heun", "stratonovich_milstein"):
        drift = stratonovich_drift(drift, diffusion)
    z = solve_sde(
        drift,
        diffusion,
        jnp.broadcast_to(z0, (n_paths, z0.shape[0])),
        ts,
        dt=dt,
        solver=solver,
        noise_dim=m,
        increments=dw,
        batch=True,
    )
    sgd = sgd_paths(problem, gammas, x0, eta, 0.0 if mu is None else mu)
    return sgd, z[..., :d]


def weak_error(
    g: Callable[[Array], Array], sgd: Float[Array, "n n_t d"], sme: Float[Array, "n n_t d"]
) -> tuple[float, float]:
    """`max_k |E g(x_k) − E g(X_{kη})|` by Monte Carlo, and the standard error at the max.

    The standard error uses the paired differences (shared samples), so it is small when
    the two ensembles are coupled.
    """
    diff = jax.vmap(jax.vmap(g))(sgd) - jax.vmap(jax.vmap(g))(sme)
    mean = jnp.mean(diff, axis=0)
    k = jnp.argmax(jnp.abs(mean))
    se = jnp.std(diff[:, k]) / jnp.sqrt(diff.shape[0])
    return float(jnp.abs(mean[k])), float(se)

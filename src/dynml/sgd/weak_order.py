"""Weak-order studies of the SME (Li, Tai, E, ICML 2017; JMLR 2019): errors, fits, problems.

- `exact_quadratic_errors`: weak errors of `E f` on the quadratic from closed-form moments.
- `mc_weak_errors`: Monte Carlo weak errors of coupled SGD/SME ensembles over learning rates.
- `loglog_fit`: the log-log slope of weak errors against η with a Monte Carlo confidence
  interval (weighted least squares, per-point variance `(s.e./error)²` by the delta method).
- `label_noise_net`: a 2-2-1 tanh teacher–student regression whose SGD noise is Gaussian
  label noise. Its stochastic gradient is linear in the noise `γ ~ N(0, I_n)`, so SGD can
  take `γ` from the SME's Brownian increments exactly (one SGD step is one Euler–Maruyama
  step of the first-order SME), unlike sampling a data point, which couples only loosely.
"""

from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float

from ..systems.quadratic import (
    quadratic_mean_loss,
    quadratic_sgd_moments,
    quadratic_sme_moments,
)
from .sme import PerSampleLoss, coupled_ensembles, weak_error


def exact_quadratic_errors(
    h, x0, exponents, t_end: float
) -> tuple[np.ndarray, dict[int, np.ndarray]]:
    """`max_k |E f(x_k) − E f(X_{kη})|` for η = 2^-p, orders 1 and 2, from exact moments
    of SGD and of the SME on `f_γ = ½(x − γ)ᵀH(x − γ)`, `γ ~ N(0, I)` (no Monte Carlo)."""
    etas = 2.0 ** -np.asarray(exponents, dtype=float)
    errors = {1: [], 2: []}
    for eta in etas:
        n = int(round(t_end / eta))
        m, v = quadratic_sgd_moments(h, x0, eta, n)
        f_sgd = quadratic_mean_loss(m, v, h)
        for order in (1, 2):
            ms, vs = quadratic_sme_moments(h, x0, eta, eta * np.arange(n + 1), order)
            errors[order].append(np.max(np.abs(f_sgd - quadratic_mean_loss(ms, vs, h))))
    return etas, {k: np.asarray(v) for k, v in errors.items()}


def mc_weak_errors(
    problem: PerSampleLoss,
    gamma_of_normal: Callable,
    x0,
    exponents,
    t_end: float,
    key: Array,
    n_paths: int,
    g: Callable,
    orders=(1, 2),
    diffusion_of_eta: Callable | None = None,
    **kw,
) -> list[dict]:
    """Rows `(eta, order, weak_error, std_error)` from `coupled_ensembles` at η = 2^-p
    (`kw` goes to `coupled_ensembles`, e.g. `mu` for momentum SGD: use `orders=(1,)`;
    `diffusion_of_eta(η)` gives a problem-specific diffusion field)."""
    rows = []
    for p in exponents:
        eta = 2.0**-p
        n = int(round(t_end / eta))
        extra = {} if diffusion_of_eta is None else {"diffusion": diffusion_of_eta(eta)}
        for order in orders:
            sgd, sme = coupled_ensembles(
                problem, gamma_of_normal, x0, eta, n, jax.random.fold_in(key, p), n_paths,
                order=order, **extra, **kw,
            )  # fmt: skip
            err, se = weak_error(g, sgd, sme)
            rows.append(dict(eta=eta, order=order, weak_error=err, std_error=se))
    return rows


def loglog_fit(
    etas: Float[ArrayLike, " n"], errors: Float[ArrayLike, " n"], std_errors=None
) -> tuple[float, float]:
    """Slope of `log error` against `log η` and the half-width of its 95 % interval.

    Weighted least squares with `Var log eᵢ ≈ (sᵢ/eᵢ)²` (delta method); the half-width
    `1.96 / √(Σ wᵢ (xᵢ − x̄_w)²)` covers the Monte Carlo error only (not a curvature of the
    error curve). Without `std_errors` the fit is unweighted and the half-width is 0.
    """
    x, y = np.log(np.asarray(etas, float)), np.log(np.maximum(np.asarray(errors, float), 1e-300))
    if x.size < 2:
        raise ValueError("need at least two learning rates to fit a slope")
    if std_errors is None:
        return float(np.polyfit(x, y, 1)[0]), 0.0
    rel = np.maximum(np.asarray(std_errors, float), 1e-300) / np.exp(y)
    w = 1.0 / rel**2
    xbar = np.sum(w * x) / np.sum(w)
    sxx = np.sum(w * (x - xbar) ** 2)
    slope = np.sum(w * (x - xbar) * y) / sxx
    return float(slope), float(1.96 / np.sqrt(sxx))


def _tanh_net(theta, z):
    w1, b1, w2 = theta[:4].reshape(2, 2), theta[4:6], theta[6:8]
    return w2 @ jnp.tanh(w1 @ z + b1)


def label_noise_net(
    key: Array, n_data: int = 8, noise: float = 1.0
) -> tuple[PerSampleLoss, Callable, Callable]:
    """Teacher–student 2-2-1 tanh net (8 weights) on `n_data` Gaussian inputs with label
    noise: `f_γ(θ) = (1/n) Σᵢ ½ (net(θ, zᵢ) − yᵢ − s γᵢ)²`, `γ ~ N(0, I_n)`.

    `∇f_γ = ∇f − (s/n) Σᵢ γᵢ ∇net(θ, zᵢ)`, so `Σ(θ) = (s/n)² JᵀJ` with `J = ∂net/∂θ` over
    the data. Returns `(problem, diffusion, gamma_of_normal)`: the mean over `γ` uses the
    2n points `±√n eᵢ` (equal weights; exact here, the loss being quadratic in `γ`);
    `diffusion_of_eta(η)` is the field `√η B`, `B = (s/n) Jᵀ` (`d × n`, `B Bᵀ = Σ`);
    `gamma_of_normal(ξ) = ξ` couples SGD to the SME's increments exactly (SGD's noise
    `η (s/n) Jᵀγ` is then the Euler–Maruyama noise `√η B ΔW` over one step).
    """
    kz, kt = jax.random.split(key)
    z = jax.random.normal(kz, (n_data, 2))
    y = jax.vmap(lambda zi: _tanh_net(jax.random.normal(kt, (8,)), zi))(z)

    def loss(theta, gamma):
        pred = jax.vmap(lambda zi: _tanh_net(theta, zi))(z)
        return 0.5 * jnp.mean((pred - y - noise * gamma) ** 2)

    points = np.sqrt(n_data) * np.concatenate([np.eye(n_data), -np.eye(n_data)])
    problem = PerSampleLoss(loss, points)

    def diffusion_of_eta(eta):
        def diffusion(t, theta, args):
            jac = jax.jacfwd(lambda th: jax.vmap(lambda zi: _tanh_net(th, zi))(z))(theta)
            return jnp.sqrt(eta) * (noise / n_data) * jac.T

        return diffusion

    return problem, diffusion_of_eta, lambda xi: xi

"""Least-squares SDE baseline: a polynomial drift and a constant diffusion matrix from pairs.

`dX = f(X) dt + sigma dW`, `f(x) = Theta^T phi(x)` with `phi` the monomials of total degree
`<= degree`, `C = sigma sigma^T` constant. From pairs `(x0, x1)` a step `dt` apart,
`fit_polynomial_sde` solves the least squares `min_Theta sum |dx / dt - b(x0) - f(x0)|^2`,
`dx = x1 - x0`, and estimates `C` from the residuals `r = dx - m(x0) + x0`.

`correction="none"` is the Euler–Maruyama regression (`b = 0`; the Gaussian Euler
likelihood's maximiser for constant `C`): it estimates `E[dx | x0] / dt`, which differs from
the drift by `(dt / 2) L f + O(dt^2)`, `L f = (grad f) f + (1/2) C : hess f` (the
generator; Kessler 1997, Scand. J. Stat. 24, 211; Kloeden & Platen 1992, sec. 5.5). For
Ornstein–Uhlenbeck `f = -theta x` it returns `(1 - e^{-theta dt}) / dt = theta (1 - theta dt
/ 2 + ...)`.

`correction="ito_taylor"` uses the order-2 Itô–Taylor mean
`m(x0) = x0 + f dt + (dt^2 / 2) L f(x0)` (so `b = (dt / 2) L f`) and the covariance
`Cov[dx | x0] = C dt + (dt^2 / 2) (J C + C J^T) + O(dt^3)`, `J = grad f` (additive noise).
`L f` depends on `Theta` and `C`, so the fit iterates: Euler fit, then `iterations` refits
with `b` and the covariance correction computed from the previous estimate (a contraction of
rate `O(dt |J|)`). The drift bias becomes `O(dt^2)`.
"""

from math import factorial

import equinox as eqx
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float
from sklearn.preprocessing import PolynomialFeatures

from .baselines import SINDy

CORRECTIONS = ("none", "ito_taylor")


def monomial_powers(dim: int, degree: int) -> np.ndarray:
    """Exponent rows `a` (total degree `<= degree`), sorted by degree: `phi_a(x) = prod x_i^a_i`
    (scikit-learn's `PolynomialFeatures` table, the one pysindy's library and `SINDy` use)."""
    table = PolynomialFeatures(degree).fit(np.zeros((1, dim))).powers_
    return np.asarray(table, np.int64)


def monomial_derivative(x: np.ndarray, powers: np.ndarray, beta) -> np.ndarray:
    """`d^beta phi_a(x)` for every row `a` of `powers`: `prod_i a_i! / (a_i - b_i)! x_i^(a_i - b_i)`
    (zero where some `a_i < b_i`); `x` of shape `(n, dim)`, result `(n, n_features)`."""
    beta = np.asarray(beta, np.int64)
    shifted = powers - beta
    coef = np.prod(
        [[factorial(a) // factorial(a - b) if a >= b else 0 for a, b in zip(row, beta, strict=True)]
         for row in powers], axis=1,
    )  # fmt: skip
    return coef * np.prod(np.asarray(x, np.float64)[:, None, :] ** np.maximum(shifted, 0), axis=2)


class PolynomialSDE(eqx.Module):
    """`dX = Theta^T phi(X) dt + sigma dW` with constant `C = sigma sigma^T` (module doc);
    the drift is a `SINDy` polynomial field (same monomial evaluation)."""

    field: SINDy
    cov: Float[Array, "dim dim"]

    def drift(self, h: Float[Array, " dim"]) -> Float[Array, " dim"]:
        return self.field(h)

    __call__ = drift

    def covariance(self, h: Float[Array, " dim"]) -> Float[Array, "dim dim"]:
        """The constant diffusion matrix `C` (any `h`)."""
        del h
        return self.cov


def _generator_terms(x, powers, theta, cov):
    """`(L f, J)` at the rows of `x`: `L f = J f + (1/2) sum_jl C_jl d_j d_l f`, `J_ij = d_j f_i`."""
    dim = x.shape[1]
    eye = np.eye(dim, dtype=np.int64)
    f = monomial_derivative(x, powers, np.zeros(dim, np.int64)) @ theta
    jac = np.stack([monomial_derivative(x, powers, eye[j]) @ theta for j in range(dim)], -1)
    lf = np.einsum("nij,nj->ni", jac, f)
    for j in range(dim):
        for k in range(dim):
            lf += 0.5 * cov[j, k] * (monomial_derivative(x, powers, eye[j] + eye[k]) @ theta)
    return lf, jac


def fit_polynomial_sde(
    x0: Float[Array, "n dim"],
    x1: Float[Array, "n dim"],
    dt: float | Float[Array, " n"],
    *,
    degree: int = 3,
    correction: str = "ito_taylor",
    iterations: int = 4,
) -> PolynomialSDE:
    """Least-squares polynomial drift and constant diffusion from pairs (module doc)."""
    if correction not in CORRECTIONS:
        raise ValueError(f"correction must be one of {CORRECTIONS}, got {correction!r}")
    x0, x1 = np.asarray(x0, np.float64), np.asarray(x1, np.float64)
    if x0.ndim != 2 or x0.shape != x1.shape:
        raise ValueError(f"x0, x1 must have equal shape (n, dim); got {x0.shape}, {x1.shape}")
    dt = np.broadcast_to(np.asarray(dt, np.float64).reshape(-1, 1), (x0.shape[0], 1))
    powers = monomial_powers(x0.shape[1], degree)
    phi = monomial_derivative(x0, powers, np.zeros(x0.shape[1], np.int64))
    slope = (x1 - x0) / dt
    theta = np.linalg.lstsq(phi, slope, rcond=None)[0]
    resid = (slope - phi @ theta) * np.sqrt(dt)
    cov = resid.T @ resid / len(x0)
    for _ in range(iterations if correction == "ito_taylor" else 0):
        lf, jac = _generator_terms(x0, powers, theta, cov)
        theta = np.linalg.lstsq(phi, slope - 0.5 * dt * lf, rcond=None)[0]
        resid = (slope - 0.5 * dt * lf - phi @ theta) * np.sqrt(dt)
        jc = np.einsum("nij,n,jk->ik", jac, dt[:, 0], cov) / len(x0)
        cov = resid.T @ resid / len(x0) - 0.5 * (jc + jc.T)
    names = tuple(
        " ".join(f"x{i}" + (f"^{k}" if k > 1 else "") for i, k in enumerate(a) if k) or "1"
        for a in powers
    )
    field = SINDy(jnp.asarray(theta.T, jnp.float32), jnp.asarray(powers, jnp.int32), names, degree)
    return PolynomialSDE(field, jnp.asarray(cov, jnp.float32))

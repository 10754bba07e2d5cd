"""SGD test problems with known answers (Li, Tai, E, ICML 2017 / JMLR 2019).

- The quadratic `f_γ(x) = ½ (x − γ)ᵀ H (x − γ)`, `γ ~ N(0, I)`, `H = diag(h)`: the mean loss
  is `f(x) = ½ xᵀ H x + ½ tr H`, the gradient covariance is `Σ = H²` (constant) and the
  first-order SME is an Ornstein–Uhlenbeck process. SGD and SME moments are closed-form,
  so weak errors need no Monte Carlo.
- A non-convex one-dimensional problem `f_γ(x) = ¼ (x² − 1)² − γ (x + ½ sin x)`,
  `γ ~ N(0, 1)`: a double well with state-dependent noise `Σ(x) = (1 + ½ cos x)²`.
"""

import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float

REFERENCE_EIGENVALUES = (1.0, 0.5, 2.0)
REFERENCE_X0 = (2.0, -1.0, 1.5)


def quadratic_loss(x: Float[Array, " d"], gamma: Float[Array, " d"], h) -> Float[Array, ""]:
    """Per-sample loss `½ (x − γ)ᵀ diag(h) (x − γ)`."""
    r = x - gamma
    return 0.5 * jnp.sum(jnp.asarray(h) * r * r)


def quadratic_mean_loss(mean, var, h) -> np.ndarray:
    """`E f(X) = ½ Σᵢ hᵢ (mᵢ² + vᵢ + 1)` for independent coordinates with means `m`, variances `v`."""
    h = np.asarray(h)
    return 0.5 * np.sum(h * (np.asarray(mean) ** 2 + np.asarray(var) + 1.0), axis=-1)


def _check(h, x0) -> tuple[np.ndarray, np.ndarray]:
    h, x0 = np.asarray(h, dtype=float), np.asarray(x0, dtype=float)
    if h.ndim != 1 or h.shape != x0.shape or np.any(h <= 0):
        raise ValueError(f"need positive eigenvalues h and x0 of the same length, got {h}, {x0}")
    return h, x0


def quadratic_sgd_moments(h, x0, eta: float, n_steps: int) -> tuple[np.ndarray, np.ndarray]:
    """Exact mean and variance of SGD iterates `x_{k+1} = x_k − η H (x_k − γ_k)`, k = 0…n.

    Per coordinate: `m_k = (1 − ηh)^k x₀`, `v_{k+1} = (1 − ηh)² v_k + η² h²`, `v₀ = 0`,
    so `v_k = η² h² (1 − (1 − ηh)^{2k}) / (1 − (1 − ηh)²)`. Shapes `(n_steps + 1, d)`.
    """
    h, x0 = _check(h, x0)
    k = np.arange(n_steps + 1)[:, None]
    q = 1.0 - eta * h
    mean = q**k * x0
    var = eta**2 * h**2 * (1.0 - q ** (2 * k)) / (1.0 - q**2)
    return mean, var


def quadratic_sme_moments(h, x0, eta: float, ts, order: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Exact mean and variance of the SME `dX = −H̃ X dt + √η H dW` at times `ts`.

    First order `H̃ = H`; second order `H̃ = H + (η/2) H²` (from `∇(f + (η/4)|∇f|²)`).
    Per coordinate with rate `r`: `m(t) = e^{−rt} x₀`, `v(t) = η h² (1 − e^{−2rt}) / (2r)`.
    """
    if order not in (1, 2):
        raise ValueError(f"SME order must be 1 or 2, got {order}")
    h, x0 = _check(h, x0)
    t = np.asarray(ts, dtype=float)[:, None]
    rate = h + (0.5 * eta * h**2 if order == 2 else 0.0)
    mean = np.exp(-rate * t) * x0
    var = eta * h**2 * (1.0 - np.exp(-2 * rate * t)) / (2 * rate)
    return mean, var


def double_well_loss(x: Float[Array, " 1"], gamma: Float[ArrayLike, " 1"]) -> Float[Array, ""]:
    """Per-sample non-convex loss `¼ (x² − 1)² − γ (x + ½ sin x)` (γ ~ N(0, 1))."""
    x, g = x[0], jnp.asarray(gamma)[0]
    return 0.25 * (x**2 - 1.0) ** 2 - g * (x + 0.5 * jnp.sin(x))


def gauss_hermite(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Nodes and weights of the n-point rule for `E φ(γ)`, `γ ~ N(0, 1)` (exact to degree 2n−1)."""
    if n < 1:
        raise ValueError(f"need at least one quadrature node, got {n}")
    nodes, weights = np.polynomial.hermite_e.hermegauss(n)
    return nodes, weights / weights.sum()

"""Best width-`m` linear RNN for a memory kernel, with the error measured on `[0, ∞)`.

A diagonalisable linear RNN of width `m` with real eigenvalues `-λ_i` has the kernel
`ρ̂(t) = Σ_i c_i e^{-λ_i t}` (Li, Han, E, Li, ICLR 2021; JMLR 2022), and with white-noise
inputs its error is the `L²(0, ∞)` distance `‖ρ̂ - ρ‖`. For fixed rates the best `c` is a
linear least-squares problem, so the error is a function of the rates alone:

    err(λ)² = min_c ∫_0^∞ (Σ_i c_i e^{-λ_i t} - ρ(t))² dt,

which is minimised over `θ = log λ` by variable projection (Golub and Pereyra 1973):
Levenberg–Marquardt on the projected residual with its exact Jacobian, from several starts,
in float64 (NumPy/SciPy).

The integral is a Gauss–Legendre quadrature in `s = log(1 + t)` on `[0, s_max]` (the model
kernel is evaluated in closed form at the nodes, so algebraic tails are resolved up to
`t ≈ e^{s_max}`), plus the target's analytic tail energy `∫_{t_max}^∞ ρ²` when given. The
residual is formed directly (never as `‖ρ‖² - bᵀG⁻¹b`), so relative errors down to about
1e-14 are resolved.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
from jaxtyping import Float
from scipy.optimize import least_squares

Kernel = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class HalfLineQuadrature:
    """Nodes `t_k` and weights `w_k` with `Σ_k w_k f(t_k) ≈ ∫_0^{t_max} f(t) dt`.

    Composite Gauss–Legendre (`order` points per panel) in `s = log(1 + t)`: geometric panels
    on `[0, 0.5]` (kernels with fast rates vary on the scale `1/λ` near 0), panels of width
    `panel` up to `s_max`. Exact to ~1e-15 for `∫ e^{-(λ+μ)t} dt` with rates in [1e-12, 1e3].
    """

    s_max: float = 40.0
    panel: float = 0.25
    order: int = 16
    t: np.ndarray = field(init=False, repr=False)
    w: np.ndarray = field(init=False, repr=False)

    def __post_init__(self):
        if self.s_max <= 0.5 or self.panel <= 0 or self.order < 2:
            raise ValueError(f"need s_max > 0.5, panel > 0, order >= 2, got {self}")
        edges = np.concatenate(
            [
                [0.0],
                np.geomspace(1e-6, 0.5, 30),
                np.arange(0.5 + self.panel, self.s_max, self.panel),
            ]
        )
        edges = np.append(edges[edges < self.s_max], self.s_max)
        x, wx = np.polynomial.legendre.leggauss(self.order)
        a, b = edges[:-1, None], edges[1:, None]
        s = (a + (b - a) * (x + 1) / 2).ravel()
        ws = ((b - a) / 2 * wx).ravel()
        object.__setattr__(self, "t", np.expm1(s))
        object.__setattr__(self, "w", ws * np.exp(s))  # dt = e^s ds

    @property
    def t_max(self) -> float:
        return float(np.expm1(self.s_max))

    def integrate(self, values: Float[np.ndarray, "... n"]) -> Float[np.ndarray, "..."]:
        """`∫_0^{t_max} f dt` of values at the nodes (last axis)."""
        return np.asarray(values) @ self.w


def exp_sum_kernel(
    rates: Float[np.ndarray, " m"], weights: Float[np.ndarray, " m"], t: Float[np.ndarray, " n"]
) -> Float[np.ndarray, " n"]:
    """`ρ̂(t) = Σ_i c_i e^{-λ_i t}`, the kernel of the diagonal linear RNN."""
    return np.exp(-np.multiply.outer(np.asarray(t, float), np.asarray(rates, float))) @ weights


@dataclass(frozen=True)
class ExpFit:
    """A fitted exponential sum: rates `λ` (ascending), weights `c`, its relative error
    `‖ρ̂ - ρ‖ / ‖ρ‖` on `[0, ∞)`, the error after each Jacobian evaluation of the best start
    (`history`), the relative errors reached from every start (`start_errors`), and the
    first-order optimality (`‖∇_θ ½‖r‖²‖_∞`) at the end."""

    rates: np.ndarray
    weights: np.ndarray
    rel_error: float
    history: np.ndarray
    start_errors: np.ndarray
    optimality: float


class _Problem:
    """Weighted least squares `min_c ‖√w (Φ(λ) c - ρ)‖` at the quadrature nodes."""

    def __init__(self, kernel: Kernel, quad: HalfLineQuadrature, tail_energy: float):
        self.quad = quad
        self.sw = np.sqrt(quad.w)
        self.y = self.sw * np.asarray(kernel(quad.t), float)
        self.tail = float(tail_energy)
        self.energy = float(self.y @ self.y) + self.tail

    def _solve(self, theta):
        key = np.asarray(theta).tobytes()
        if getattr(self, "_key", None) != key:
            self._key, self._cache = key, self._solve_uncached(theta)
        return self._cache

    def _solve_uncached(self, theta):
        lam = np.exp(theta)
        A = self.sw[:, None] * np.exp(-np.outer(self.quad.t, lam))
        U, S, Vt = np.linalg.svd(A, full_matrices=False)
        keep = S > S[0] * 1e-15
        U, S, Vt = U[:, keep], S[keep], Vt[keep]
        c = Vt.T @ ((U.T @ self.y) / S)
        r = A @ c - self.y
        return lam, A, U, S, Vt, c, r

    def residual(self, theta):
        r = self._solve(theta)[-1]
        return np.append(r, np.sqrt(self.tail))

    def jacobian(self, theta):
        """Golub–Pereyra: `∂r/∂θ_j = P⊥ a'_j c_j - (A⁺)ᵀ e_j (a'_j · r)`, `a'_j = -λ_j t a_j`."""
        lam, A, U, S, Vt, c, r = self._solve(theta)
        dA = -A * np.outer(self.quad.t, lam)  # column j: ∂a_j/∂θ_j
        term1 = dA * c
        term1 = term1 - U @ (U.T @ term1)
        pinv_t = U @ (Vt / S[:, None])  # (A⁺)ᵀ = U S⁻¹ Vᵀ
        J = term1 - pinv_t * (dA.T @ r)
        return np.vstack([J, np.zeros((1, len(theta)))])

    def rel_error(self, theta) -> float:
        r = self.residual(theta)
        return float(np.sqrt(r @ r / self.energy))


def fit_exp_sum(
    kernel: Kernel,
    width: int,
    *,
    tail_energy: float = 0.0,
    starts: Sequence[Float[np.ndarray, " m"]] | None = None,
    quadrature: HalfLineQuadrature | None = None,
    max_nfev: int = 400,
) -> ExpFit:
    """The best `ρ̂(t) = Σ_{i≤m} c_i e^{-λ_i t}` for `ρ` in `L²(0, ∞)` by variable projection.

    `starts` are initial rate vectors (default: log-spaced rates over several ranges); each is
    optimised in `θ = log λ` by `scipy.optimize.least_squares` (Levenberg–Marquardt with the
    exact variable-projection Jacobian, tolerances 1e-15) and the best kept. `tail_energy` is
    `∫_{t_max}^∞ ρ²` beyond the quadrature (the model's tail there is below 1e-300 for rates
    above 1e-15).
    """
    if width < 1:
        raise ValueError(f"width must be >= 1, got {width}")
    quad = quadrature or HalfLineQuadrature()
    prob = _Problem(kernel, quad, tail_energy)
    if starts is None:
        starts = [np.geomspace(lo, hi, width) for lo, hi in ((1e-3, 10), (1e-2, 3), (0.1, 3))]
    best, errors = None, []
    for start in starts:
        theta0 = np.log(np.asarray(start, float))
        if theta0.shape != (width,):
            raise ValueError(f"a start must hold {width} rates, got shape {theta0.shape}")
        theta0 = theta0 + 1e-3 * np.arange(width)  # distinct rates
        history = []

        def jac(theta, history=history):
            history.append(prob.rel_error(theta))
            return prob.jacobian(theta)

        res = least_squares(
            prob.residual,
            theta0,
            jac=jac,
            method="lm",
            x_scale="jac",
            ftol=1e-15,
            xtol=1e-15,
            gtol=1e-15,
            max_nfev=max_nfev,
        )
        err = prob.rel_error(res.x)
        errors.append(err)
        if best is None or err < best[0]:
            best = (err, res, np.array(history + [err]))
    err, res, history = best
    order = np.argsort(res.x)
    theta = res.x[order]
    c = prob._solve(theta)[5]
    return ExpFit(
        rates=np.exp(theta),
        weights=c,
        rel_error=err,
        history=history,
        start_errors=np.array(errors),
        optimality=float(res.optimality),
    )


def fit_exp_sums(
    kernel: Kernel, widths: Sequence[int], *, tail_energy: float = 0.0, **kwargs
) -> list[ExpFit]:
    """`fit_exp_sum` for increasing widths, each also started from the previous optimum with
    the missing rates added below it, above it, or between its smallest rates (continuation)."""
    fits, prev = [], None
    for m in widths:
        starts = [np.geomspace(lo, hi, m) for lo, hi in ((1e-3, 10), (1e-2, 3), (0.1, 3))]
        k = m - (len(prev.rates) if prev is not None else m)
        if k > 0:
            r = prev.rates
            steps = 3.0 ** np.arange(1, k + 1)
            starts += [np.append(r, r[0] / steps), np.append(r, r[-1] * steps)]
            if len(r) > 1:
                starts.append(np.append(r, np.geomspace(r[0], r[1], k + 2)[1:-1]))
        prev = fit_exp_sum(kernel, m, tail_energy=tail_energy, starts=starts, **kwargs)
        fits.append(prev)
    return fits


def perturbed_error(
    fit: ExpFit,
    kernel: Kernel,
    beta: float,
    *,
    tail_energy: float = 0.0,
    quadrature: HalfLineQuadrature | None = None,
) -> float:
    """Relative `[0, ∞)` error after `W → W + βI`, i.e. `λ_i → λ_i - β` with `c` kept.

    The stability test of Wang, Li, Li (ICLR 2024, stable approximation): `inf` once a rate
    becomes non-positive (the perturbed kernel is no longer integrable).
    """
    rates = fit.rates - beta
    if np.min(rates) <= 0:
        return float("inf")
    quad = quadrature or HalfLineQuadrature()
    diff = exp_sum_kernel(rates, fit.weights, quad.t) - np.asarray(kernel(quad.t), float)
    energy = quad.integrate(np.asarray(kernel(quad.t), float) ** 2) + tail_energy
    return float(np.sqrt((quad.integrate(diff**2) + tail_energy) / energy))


def decay_fits(widths: Sequence[int], errors: Sequence[float]) -> dict[str, float]:
    """Least-squares lines of `log err` against `m`, `√m` and `log m`, with their R².

    `exp_rate = -d log err / dm` (exponential in `m`), `sqrt_rate = -d log err / d√m`,
    `alg_order = -d log err / d log m` (algebraic).
    """
    m, log_e = np.asarray(widths, float), np.log(np.asarray(errors, float))
    out = {}
    for name, x in (("exp_rate", m), ("sqrt_rate", np.sqrt(m)), ("alg_order", np.log(m))):
        b, a = np.polyfit(x, log_e, 1)
        r = log_e - (a + b * x)
        total = np.sum((log_e - log_e.mean()) ** 2)
        out[name] = float(-b)
        out[name.split("_")[0] + "_r2"] = float(1 - r @ r / total) if total > 0 else float("nan")
    return out

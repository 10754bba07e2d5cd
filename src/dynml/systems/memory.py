"""Memory kernels, linear-functional targets and sequence problems (Li, Han, E, Li 2021).

A linear, causal, time-homogeneous functional is `H_t(x) = ∫_0^∞ x_{t-s} ρ(s) ds`; on a grid of
step `dt` we use the left Riemann sum `y_k = dt Σ_{s=0}^{k} ρ(s dt) x_{k-s}`. With white-noise
inputs `x_k ~ N(0, 1)` the mean squared error of a model with kernel `ρ̂` is
`dt² Σ_s (ρ̂_s - ρ_s)²`, i.e. `dt` times the Riemann sum of the white-noise loss `∫|ρ̂ - ρ|² dt`.

Kernels are plain NumPy functions of `t` (the Airy kernel needs `scipy.special.airy`).
"""

from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, PRNGKeyArray
from scipy.special import airy

from ..core.solve import solve
from .lorenz import simulate as simulate_lorenz63

Kernel = Callable[[np.ndarray], np.ndarray]


def exp_sum(rates, weights=None) -> Kernel:
    """`ρ(t) = Σ_i a_i e^{-λ_i t}` (weights `a_i` default to 1); exactly representable by a
    linear RNN of width `len(rates)`."""
    rates = np.atleast_1d(np.asarray(rates, dtype=float))
    weights = np.ones_like(rates) if weights is None else np.atleast_1d(np.asarray(weights, float))
    if rates.shape != weights.shape:
        raise ValueError(f"rates and weights must match, got {rates.shape} and {weights.shape}")
    return lambda t: np.exp(-np.multiply.outer(np.asarray(t, float), rates)) @ weights


def power_law(omega: float) -> Kernel:
    """`ρ(t) = (1 + t)^{-(1+ω)}`: algebraic decay, the curse-of-memory case."""
    if omega <= 0:
        raise ValueError(f"power_law needs omega > 0, got {omega}")
    return lambda t: (1.0 + np.asarray(t, float)) ** (-(1.0 + omega))


def bump(width: float = 0.5) -> Kernel:
    """Gaussian bump `ρ_0(t) = exp(-t² / (2 width²))`."""
    if width <= 0:
        raise ValueError(f"bump width must be positive, got {width}")
    return lambda t: np.exp(-0.5 * (np.asarray(t, float) / width) ** 2)


def delayed(kernel: Kernel, delay: float) -> Kernel:
    """`ρ(t - delay)`: e.g. the delayed bump `ρ_0(t - 1/ω)` of the plateau experiment."""
    return lambda t: kernel(np.asarray(t, float) - delay)


def indicator(start: float, stop: float) -> Kernel:
    """`ρ(t) = 1{start < t < stop}`: a pure (smeared) delay."""
    return lambda t: ((np.asarray(t) > start) & (np.asarray(t) < stop)).astype(float)


def airy_kernel(t0: float = 6.0) -> Kernel:
    """`ρ(t) = Ai(t - t0)`: oscillates for `t < t0`, then decays like `exp(-(2/3) t^{3/2})`."""
    return lambda t: airy(np.asarray(t, float) - t0)[0]


def kernel_sum(*kernels: Kernel) -> Kernel:
    """`ρ(t) = Σ_i ρ_i(t)`."""
    if not kernels:
        raise ValueError("kernel_sum needs at least one kernel")
    return lambda t: sum(k(t) for k in kernels)


def kernel_by_name(name: str) -> Kernel:
    """`exp` e^{-t}, `exprational` e^{-t/2}/(1+t), `airy` Ai(t-6), `delay` ρ_0(t-10) with
    width 0.3, `window` 1{9<t<11}, `power-<ω>` (1+t)^{-(1+ω)}."""
    if name.startswith("power-"):
        return power_law(float(name.split("-", 1)[1]))
    named = {
        "exp": exp_sum([1.0]),
        "exprational": lambda t: np.exp(-0.5 * np.asarray(t, float)) / (1.0 + np.asarray(t, float)),
        "airy": airy_kernel(6.0),
        "delay": delayed(bump(0.3), 10.0),
        "window": indicator(9.0, 11.0),
    }
    if name not in named:
        raise ValueError(f"unknown kernel {name!r}; use one of {sorted(named)} or power-<ω>")
    return named[name]


def tail_energy(name: str, t: float) -> float:
    """`∫_t^∞ ρ(s)² ds` of a named kernel (`kernel_by_name`), in closed form.

    `power-<ω>`: `(1 + t)^{-(1+2ω)} / (1 + 2ω)`; `exp`: `e^{-2t}/2`; `exprational`:
    `∫_t^∞ e^{-s}/(1+s)² ds ≤ e^{-t}/(1+t)²` (returned; exact to the last digit once `t > 40`).
    Other kernels: 0 beyond their support (`delay`, `window`) or `Ai(t - 6)² ~ e^{-(4/3) t^{3/2}}`.
    """
    if name.startswith("power-"):
        omega = float(name.split("-", 1)[1])
        return float((1.0 + t) ** (-(1.0 + 2.0 * omega)) / (1.0 + 2.0 * omega))
    if name == "exp":
        return float(np.exp(-2.0 * t) / 2.0)
    if name == "exprational":
        return float(np.exp(-t) / (1.0 + t) ** 2)
    kernel_by_name(name)  # refuses unknown names
    return 0.0


def sample_kernel(kernel: Kernel, length: int, dt: float) -> np.ndarray:
    """The kernel on the grid `ρ_s = ρ(s dt)`, `s = 0, …, length - 1` (float32)."""
    if length < 1 or dt <= 0:
        raise ValueError(f"need length >= 1 and dt > 0, got length={length}, dt={dt}")
    return np.asarray(kernel(np.arange(length) * dt), dtype=np.float32)


def causal_convolution(
    x: Float[Array, "... n_t"], rho: Float[Array, " n_rho"], dt: float
) -> Float[Array, "... n_t"]:
    """`y_k = dt Σ_{s=0}^{min(k, n_rho-1)} ρ_s x_{k-s}` along the last axis (via FFT)."""
    x = jnp.asarray(x)
    n_t = x.shape[-1]
    n = n_t + len(rho)
    spec = jnp.fft.rfft(x, n=n) * jnp.fft.rfft(jnp.asarray(rho), n=n)
    return dt * jnp.fft.irfft(spec, n=n)[..., :n_t]


def linear_functional_data(
    key: PRNGKeyArray, rho: Float[Array, " n_rho"], n_samples: int, length: int, dt: float
) -> tuple[Float[Array, "n length 1"], Float[Array, "n length 1"]]:
    """White-noise inputs `x_k ~ N(0, 1)` and targets `y = dt (ρ * x)` (causal convolution)."""
    x = jax.random.normal(key, (n_samples, length))
    y = causal_convolution(x, rho, dt)
    return x[..., None], y[..., None]


def lorenz96(t, x: Float[Array, " K"], forcing: float = 8.0) -> Float[Array, " K"]:
    """Lorenz 96: `ẋ_i = (x_{i+1} - x_{i-2}) x_{i-1} - x_i + F` (indices mod K)."""
    del t
    return (jnp.roll(x, -1) - jnp.roll(x, 2)) * jnp.roll(x, 1) - x + forcing


def lorenz96_data(
    key: PRNGKeyArray,
    n_samples: int,
    length: int,
    dt: float = 0.05,
    dim: int = 8,
    forcing: float = 8.0,
    burn_in: int = 200,
) -> tuple[Float[Array, "n length 1"], Float[Array, "n length 1"]]:
    """A nonlinear target with memory driven by Lorenz 96.

    Input: the first coordinate `x_0(t)`; target: the second `x_1(t)` at the same time.
    On the attractor `x_1(t)` is a (nonlinear) function of the past of `x_0` (delay
    embedding), so the map from input sequence to output is a causal nonlinear functional.
    Both are standardised with the mean and spread of the whole set. RK4 with step `dt`.
    """
    if dim < 4:
        raise ValueError(f"Lorenz 96 needs dim >= 4, got {dim}")
    x0 = forcing + jax.random.normal(key, (n_samples, dim))
    ts = jnp.arange(burn_in + length) * dt
    xs = solve(lorenz96, x0, ts, args=forcing, solver="rk4", dt=dt, batch=True)[:, burn_in:]
    xs = (xs - xs.mean()) / xs.std()
    return xs[..., :1], xs[..., 1:2]


def adding_problem(
    key: PRNGKeyArray, n_samples: int, length: int
) -> tuple[Float[Array, "n length 2"], Float[Array, "n 1"]]:
    """The adding problem (Le, Jaitly, Hinton 2015 form).

    Input channels: values `~ U[0, 1]` and a marker that is 1 at exactly two places, one in
    each half of the sequence; target: the sum of the two marked values. Predicting the
    constant 1 gives mean squared error `Var(a + b) = 2/12 = 1/6`.
    """
    if length < 2:
        raise ValueError(f"the adding problem needs length >= 2, got {length}")
    k_val, k_first, k_second = jax.random.split(key, 3)
    values = jax.random.uniform(k_val, (n_samples, length))
    half = length // 2
    first = jax.random.randint(k_first, (n_samples,), 0, half)
    second = jax.random.randint(k_second, (n_samples,), half, length)
    idx = jnp.arange(length)
    markers = ((idx == first[:, None]) | (idx == second[:, None])).astype(values.dtype)
    target = jnp.sum(values * markers, axis=1, keepdims=True)
    return jnp.stack([values, markers], axis=-1), target


def lorenz63_forecast_data(
    key: PRNGKeyArray, n_samples: int, length: int, dt: float = 0.01
) -> tuple[Float[Array, "n length 3"], Float[Array, "n length 3"]]:
    """One-step forecasting on Lorenz '63: inputs `x_0..x_{n-1}`, targets `y_k = x_{k+1}`.

    Initial states near the attractor (a burn-in of 10 time units is dropped).
    """
    x0 = np.asarray(jax.random.normal(key, (n_samples, 3))) * 5 + np.array([0.0, 0.0, 25.0])
    burn = int(round(10.0 / dt))
    ts = np.arange(burn + length + 1) * dt
    xs = jnp.asarray(simulate_lorenz63(x0, ts).x[:, burn:], dtype=jnp.float32)
    return xs[:, :-1], xs[:, 1:]

"""Damped Langevin oscillators: `x' = v`, `v' = -gamma(x, v) v - U'(x)` (Yu et al. 2021, Sec. IV).

Potentials (`kappa = 4` in the paper): Hookean `kappa x^2 / 2`; pendulum
`kappa / c^2 (1 - cos(c x))`, `c = pi/2`; double well `kappa (x^2 - 0.5)^2 / 4`.
Damping: constant `gamma` or nonlinear `gamma (x^2 + v^2)` (`gamma = 3`). The energy
`E = v^2 / 2 + U(x)` obeys `dE/dt = -gamma(x, v) v^2 <= 0`.
"""

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from ..core.data import Trajectories
from ..core.solve import solve, solve_sde

PENDULUM_C = np.pi / 2


def hookean(x, kappa=4.0):
    """`kappa x^2 / 2`."""
    return 0.5 * kappa * x**2


def pendulum(x, kappa=4.0):
    """`kappa / c^2 (1 - cos(c x))` with `c = pi / 2` (curvature `kappa` at 0)."""
    return kappa / PENDULUM_C**2 * (1 - jnp.cos(PENDULUM_C * x))


def double_well(x, kappa=4.0):
    """`kappa (x^2 - 0.5)^2 / 4` (minima at `x = +-sqrt(0.5)`)."""
    return 0.25 * kappa * (x**2 - 0.5) ** 2


POTENTIALS = {"hookean": hookean, "pendulum": pendulum, "double_well": double_well}
DAMPINGS = ("constant", "nonlinear")


def _check(potential: str, damping: str) -> None:
    if potential not in POTENTIALS:
        raise ValueError(f"potential must be one of {sorted(POTENTIALS)}, got {potential!r}")
    if damping not in DAMPINGS:
        raise ValueError(f"damping must be one of {DAMPINGS}, got {damping!r}")


def friction(y: Float[Array, "2"], damping: str, gamma: float) -> Float[Array, ""]:
    """`gamma` (constant) or `gamma (x^2 + v^2)` (nonlinear)."""
    return gamma if damping == "constant" else gamma * (y[0] ** 2 + y[1] ** 2)


def langevin(t, y: Float[Array, "2"], args) -> Float[Array, "2"]:
    """The field `(v, -gamma(x, v) v - U'(x))` with `args = (potential, damping, kappa, gamma)`."""
    del t
    potential, damping, kappa, gamma = args
    force = -jax.grad(POTENTIALS[potential])(y[0], kappa)
    return jnp.stack([y[1], -friction(y, damping, gamma) * y[1] + force])


def energy(y: Float[Array, "... 2"], potential: str = "pendulum", kappa: float = 4.0) -> Array:
    """`E = v^2 / 2 + U(x)` (the Lyapunov function of the damped system)."""
    _check(potential, "constant")
    y = jnp.asarray(y)
    return 0.5 * y[..., 1] ** 2 + POTENTIALS[potential](y[..., 0], kappa)


def simulate(
    y0: Float[Array, "n 2"],
    ts: Float[Array, " n_t"],
    potential: str = "pendulum",
    damping: str = "nonlinear",
    kappa: float = 4.0,
    gamma: float = 3.0,
) -> Trajectories:
    """Integrate from each row of `y0` (adaptive Dopri5, tight tolerances)."""
    _check(potential, damping)
    xs = solve(
        langevin,
        jnp.asarray(y0, jnp.float32),
        jnp.asarray(ts),
        args=(potential, damping, kappa, gamma),
        solver="dopri5",
        rtol=1e-7,
        atol=1e-8,
        batch=True,
    )
    attrs = {"potential": potential, "damping": damping, "kappa": kappa, "gamma": gamma}
    return Trajectories(np.asarray(ts), np.asarray(xs), attrs=attrs)


# --- a non-reversible overdamped Langevin SDE with known Onsager structure -------------------
#
# dX = -(M + W) grad V(X) dt + sqrt(eps) sigma dW,  sigma = sqrt(2) M^{1/2}
# (fluctuation-dissipation form), V(x, y) = (x^2 - 1)^2 / 4 + y^2 / 2, M = I,
# W = 1/2 [[0, 1], [-1, 0]]; `exp(-V / eps)` is invariant (W is constant and antisymmetric).

TILTED_M = np.eye(2)
TILTED_W = 0.5 * np.array([[0.0, 1.0], [-1.0, 0.0]])


def double_well_2d(h: Float[Array, "2"]) -> Float[Array, ""]:
    """`V(x, y) = (x^2 - 1)^2 / 4 + y^2 / 2` (minima at `(+-1, 0)`, saddle at 0)."""
    return 0.25 * (h[0] ** 2 - 1) ** 2 + 0.5 * h[1] ** 2


def onsager_drift(h: Float[Array, "2"], m=TILTED_M, w=TILTED_W) -> Float[Array, "2"]:
    """`-(M + W) grad V(h)` for `double_well_2d`."""
    return -(jnp.asarray(m) + jnp.asarray(w)) @ jax.grad(double_well_2d)(h)


def onsager_covariance(eps: float = 0.1, m=TILTED_M) -> Float[Array, "2 2"]:
    """The diffusion matrix `eps sigma sigma^T = 2 eps M`."""
    return 2 * eps * jnp.asarray(m, jnp.float32)


def simulate_onsager_sde(
    y0: Float[Array, "n 2"],
    ts: Float[Array, " n_t"],
    key,
    *,
    eps: float = 0.1,
    dt: float = 1e-3,
) -> Trajectories:
    """Euler–Maruyama paths (step `dt`) of `dX = -(M + W) grad V dt + sqrt(2 eps M) dW`."""
    root = np.linalg.cholesky(np.asarray(onsager_covariance(eps)))
    xs = solve_sde(
        lambda t, y, a: onsager_drift(y),
        lambda t, y, a: jnp.asarray(root, jnp.float32),
        jnp.asarray(y0, jnp.float32),
        jnp.asarray(ts, jnp.float32),
        key,
        dt=dt,
        brownian="unsafe",
        batch=True,
    )
    return Trajectories(np.asarray(ts), np.asarray(xs), attrs={"eps": eps})

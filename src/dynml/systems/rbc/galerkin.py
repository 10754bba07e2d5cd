"""Lorenz '63 as the three-mode Galerkin truncation of free-slip convection (Saltzman 1962).

Keep `psi = A sin(k x) sin(pi z)`, `theta = B cos(k x) sin(pi z) + C sin(2 pi z)` with
`K^2 = k^2 + pi^2`. Projecting the Boussinesq equations (see `simulator`) on these modes and
substituting

    A = sqrt(2) K^2 / (pi k) X,   B = -sqrt(2) / (pi r) Y,   C = -Z / (pi r),   tau = K^2 t,

gives exactly Lorenz (1963): `X' = sigma (Y - X)`, `Y' = r X - Y - X Z`, `Z' = X Y - b Z`
with `sigma = Pr`, `r = Ra k^2 / K^6` (`= Ra / Ra_c` at `k = pi / sqrt 2`) and
`b = 4 pi^2 / K^2` (`= 8/3` at `k = pi / sqrt 2`).
"""

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, PRNGKeyArray

from .simulator import RBC
from .spectral import midpoints


def lorenz_mode(rbc: RBC) -> int:
    """Index `m` of the horizontal mode closest to the critical `k = pi / sqrt 2`."""
    return max(1, round(rbc.aspect / np.sqrt(2.0)))


def lorenz_parameters(rbc: RBC) -> dict:
    """`sigma, r, b` of the truncation and `time_scale = K^2` (`tau = time_scale * t`)."""
    k = lorenz_mode(rbc) * np.pi / rbc.aspect
    k2 = k**2 + np.pi**2
    return {
        "sigma": rbc.pr,
        "r": rbc.ra * k**2 / k2**3,
        "b": 4 * np.pi**2 / k2,
        "time_scale": k2,
        "k": k,
    }


def _amplitudes(rbc: RBC) -> tuple[float, float, float]:
    p = lorenz_parameters(rbc)
    k, k2, r = p["k"], p["time_scale"], p["r"]
    return np.sqrt(2.0) * k2 / (np.pi * k), -np.sqrt(2.0) / (np.pi * r), -1.0 / (np.pi * r)


def lorenz_state(rbc: RBC, xyz: Float[Array, "*batch 3"]) -> Float[Array, "*batch 2 nx nz"]:
    """The spectral state holding only the three Lorenz modes with amplitudes `(X, Y, Z)`."""
    alpha, beta, gamma = _amplitudes(rbc)
    m, k2 = lorenz_mode(rbc), lorenz_parameters(rbc)["time_scale"]
    xyz = jnp.asarray(xyz)
    s = jnp.zeros(xyz.shape[:-1] + (2, rbc.nx, rbc.nz), dtype=xyz.dtype)
    s = s.at[..., 0, m, 0].set(-k2 * alpha * xyz[..., 0])  # omega = lap psi = -K^2 psi
    s = s.at[..., 1, m, 0].set(beta * xyz[..., 1])
    return s.at[..., 1, 0, 1].set(gamma * xyz[..., 2])


LORENZ_BOX = ((-25.0, 25.0), (-25.0, 25.0), (-5.0, 30.0))


def lorenz_starts(
    rbc: RBC, key: PRNGKeyArray, n: int, box=LORENZ_BOX, noise: float = 0.1
) -> Float[Array, "n 2 nx nz"]:
    """`n` states far from conduction: `lorenz_state(X, Y, Z)` with `(X, Y, Z)` uniform in
    `box` (default: the box of the Lorenz '63 study of Yu, Tian, E, Li 2021) plus
    `rbc.random_state(noise)` (a temperature perturbation of the lowest modes, which breaks
    the Lorenz subspace)."""
    k1, k2 = jax.random.split(key)
    lo, hi = jnp.asarray(box, jnp.float32).T
    xyz = lo + (hi - lo) * jax.random.uniform(k1, (n, 3))
    noise_states = jax.vmap(lambda k: rbc.random_state(k, noise))(jax.random.split(k2, n))
    return lorenz_state(rbc, xyz) + noise_states


def lorenz_coordinates(rbc: RBC, s: Float[Array, "*batch 2 nx nz"]) -> Float[Array, "*batch 3"]:
    """`(X, Y, Z)`: the projection of a spectral state on the three Lorenz modes."""
    alpha, beta, gamma = _amplitudes(rbc)
    m, k2 = lorenz_mode(rbc), lorenz_parameters(rbc)["time_scale"]
    x = -s[..., 0, m, 0] / (k2 * alpha)
    return jnp.stack([x, s[..., 1, m, 0] / beta, s[..., 1, 0, 1] / gamma], axis=-1)


def galerkin_lorenz_field(rbc: RBC, xyz: Float[Array, "*batch 3"]) -> Float[Array, "*batch 3"]:
    """`d(X, Y, Z)/d tau` from the simulator's own right-hand side projected on the modes."""
    time_scale = lorenz_parameters(rbc)["time_scale"]
    return lorenz_coordinates(rbc, rbc.rhs(lorenz_state(rbc, xyz))) / time_scale


def lorenz_coordinates_from_fields(
    rbc: RBC, fields: Float[np.ndarray, "... 3 px pz"], x: np.ndarray, z: np.ndarray
) -> np.ndarray:
    """`(X, Y, Z)` of `(u, w, theta)` sampled on the midpoint grid `x` x `z`.

    Discrete projections (midpoint rule, exact for modes below the grid's resolution):
    `w = -k A cos(kx) sin(pi z)`, `theta = B cos(kx) sin(pi z) + C sin(2 pi z) + ...`.
    """
    alpha, beta, gamma = _amplitudes(rbc)
    k = lorenz_parameters(rbc)["k"]
    roll = np.outer(np.cos(k * x), np.sin(np.pi * z))
    layer = np.outer(np.ones_like(x), np.sin(2 * np.pi * z))
    w, theta = fields[..., 1, :, :], fields[..., 2, :, :]
    a = -np.mean(w * roll, axis=(-2, -1)) / (0.25 * k)
    b = np.mean(theta * roll, axis=(-2, -1)) / 0.25
    c = np.mean(theta * layer, axis=(-2, -1)) / 0.5
    return np.stack([a / alpha, b / beta, c / gamma], axis=-1)


def lorenz_coordinates_from_snapshots(
    rbc: RBC, x: Float[np.ndarray, "... dim"], grid: tuple[int, int]
) -> np.ndarray:
    """`(X, Y, Z)` of flattened `(u, w, theta)` snapshots (`dim = 3 px pz`, as `simulate`
    writes them) on the `grid = (px, pz)` midpoint grid of the box."""
    px, pz = grid
    fields = x.reshape(*x.shape[:-1], 3, px, pz)
    return lorenz_coordinates_from_fields(rbc, fields, midpoints(px, rbc.aspect), midpoints(pz))

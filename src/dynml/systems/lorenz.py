"""Lorenz '63: `x' = s(y - x)`, `y' = x(r - z) - y`, `z' = xy - bz` (Lorenz 1963)."""

import equinox as eqx
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from ..core.data import Trajectories
from ..core.field import AbstractVectorField
from ..core.solve import solve


def lorenz63(t, x: Float[Array, "3"], args=(10.0, 28.0, 8.0 / 3.0)) -> Float[Array, "3"]:
    """The Lorenz '63 vector field with `args = (sigma, r, b)`."""
    sigma, r, b = args
    return jnp.stack([sigma * (x[1] - x[0]), x[0] * (r - x[2]) - x[1], x[0] * x[1] - b * x[2]])


class Lorenz63(AbstractVectorField):
    """The Lorenz '63 field as a module `field(h) -> dh/dt` (compiled once per `(sigma, r, b)`).

    `time_unit` rescales time: `dh/dt = time_unit * lorenz63(h)` when one unit of `t` is
    `time_unit` Lorenz times (default 1: Lorenz's own time).
    """

    sigma: float = eqx.field(static=True, default=10.0)
    r: float = eqx.field(static=True, default=28.0)
    b: float = eqx.field(static=True, default=8.0 / 3.0)
    time_unit: float = eqx.field(static=True, default=1.0)

    def __call__(self, h: Float[Array, "3"]) -> Float[Array, "3"]:
        return self.time_unit * lorenz63(0.0, h, (self.sigma, self.r, self.b))


def fixed_points(sigma: float = 10.0, r: float = 28.0, b: float = 8.0 / 3.0) -> np.ndarray:
    """The origin and, for r > 1, `C± = (±sqrt(b(r-1)), ±sqrt(b(r-1)), r-1)`."""
    del sigma
    if r <= 1:
        return np.zeros((1, 3))
    c = np.sqrt(b * (r - 1))
    return np.array([[0.0, 0.0, 0.0], [c, c, r - 1], [-c, -c, r - 1]])


def simulate(
    x0: Float[Array, "n 3"],
    ts: Float[Array, " n_t"],
    sigma: float = 10.0,
    r: float = 28.0,
    b: float = 8.0 / 3.0,
    *,
    rtol: float = 1e-8,
    atol: float = 1e-8,
) -> Trajectories:
    """Integrate Lorenz '63 from each row of `x0` (adaptive Dopri5) into `Trajectories`."""
    xs = solve(
        lorenz63,
        jnp.asarray(x0),
        jnp.asarray(ts),
        args=(sigma, r, b),
        solver="dopri5",
        rtol=rtol,
        atol=atol,
        batch=True,
    )
    return Trajectories(np.asarray(ts), np.asarray(xs), attrs={"sigma": sigma, "r": r, "b": b})

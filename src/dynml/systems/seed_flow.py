"""The lecture's classification flow (seed lecture, "flow maps as function approximators").

`x1' = -x2 sin t`, `x2' = -(1 - x1^2) x2 / 2 + x1 cos t`, `x(0) = z`; the label of `z`
is `1{x_{T,1} > 0}`. Where `|x1| > 1` the second equation is anti-damped and some
trajectories escape to infinity before `T`; their label is undefined and `labels` says so.
"""

import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from ..core.solve import solve

ESCAPE_RADIUS = 1e3


def seed_field(t, x: Float[Array, "2"], args=None) -> Float[Array, "2"]:
    """The lecture's time-dependent vector field in the plane."""
    return jnp.stack([-x[1] * jnp.sin(t), -0.5 * (1 - x[0] ** 2) * x[1] + x[0] * jnp.cos(t)])


def flow(
    z: Float[Array, "n 2"], T: float, n_save: int = 2, dt: float = 1e-3
) -> Float[Array, "n n_save 2"]:
    """Points `z` transported to `n_save` equally spaced times in `[0, T]` (RK4, step `dt`).

    A fixed step keeps one escaping trajectory from stalling the whole batch; escaped
    points come out as huge, inf or NaN values.
    """
    ts = np.linspace(0.0, T, n_save)
    return solve(seed_field, jnp.asarray(z), ts, solver="rk4", dt=dt, batch=True)


def labels(z: Float[Array, "n 2"], T: float) -> tuple[np.ndarray, np.ndarray]:
    """The lecture's labels `1{x_{T,1} > 0}` (0/1) and the mask of points whose flow stays
    within `ESCAPE_RADIUS` up to `T` (elsewhere the label is undefined)."""
    xs = np.asarray(flow(z, T, n_save=9))
    with np.errstate(invalid="ignore"):
        defined = np.all(np.isfinite(xs), axis=(1, 2)) & np.all(
            np.abs(xs) < ESCAPE_RADIUS, axis=(1, 2)
        )
        y = (np.nan_to_num(xs[:, -1, 0]) > 0).astype(np.int32)
    return y, defined

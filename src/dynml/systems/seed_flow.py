"""The lecture's classification flow (seed lecture, "flow maps as function approximators").

`x1' = -x2 sin t`, `x2' = -(1 - x1^2) x2 / 2 + x1 cos t`, `x(0) = z`; the label of `z`
is `1{x_{T,1} > 0}`. The labels are not linearly separable in `z`.
"""

import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from ..core.solve import solve


def seed_field(t, x: Float[Array, "2"], args=None) -> Float[Array, "2"]:
    """The lecture's time-dependent vector field in the plane."""
    return jnp.stack([-x[1] * jnp.sin(t), -0.5 * (1 - x[0] ** 2) * x[1] + x[0] * jnp.cos(t)])


def flow(z: Float[Array, "n 2"], T: float, n_save: int = 2) -> Float[Array, "n n_save 2"]:
    """Points `z` transported by the flow to `n_save` equally spaced times in `[0, T]`."""
    ts = jnp.linspace(0.0, T, n_save)
    return solve(seed_field, jnp.asarray(z), ts, solver="dopri5", rtol=1e-6, atol=1e-6, batch=True)


def labels(z: Float[Array, "n 2"], T: float) -> np.ndarray:
    """The lecture's labels `1{x_{T,1} > 0}` as integers 0/1."""
    return (np.asarray(flow(z, T)[:, -1, 0]) > 0).astype(np.int32)

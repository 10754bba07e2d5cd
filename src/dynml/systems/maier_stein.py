"""The Maier–Stein field `b = (x − x³ − βxy², −(1 + x²)y)` (Maier & Stein 1993; β = 10).

Stable points `(±1, 0)`, saddle at the origin. For β ≠ 1 the field is not a gradient, and
for β > 4 the minimum action path to the saddle leaves the x-axis: no closed-form
quasipotential, so the grid solver of `dynml.rare.reference` gives the reference.
"""

import jax.numpy as jnp
from jaxtyping import Array, Float

BETA = 10.0
STABLE_POINTS = ((-1.0, 0.0), (1.0, 0.0))
SADDLE = (0.0, 0.0)


def maier_stein(x: Float[Array, "... 2"], beta: float = BETA) -> Float[Array, "... 2"]:
    """The Maier–Stein vector field at `x` (coordinates on the last axis)."""
    u, v = x[..., 0], x[..., 1]
    return jnp.stack([u - u**3 - beta * u * v**2, -(1 + u**2) * v], axis=-1)

"""Vector fields `b = −∇V + g` with `∇V · g = 0`, whose quasipotential `U = 2(V − V(x*))` is known.

For `dx = b dt + √ε dW` the quasipotential solves `b·∇U + ½|∇U|² = 0`; an orthogonal
decomposition gives it in closed form (Lin, Li & Ren, MSML 2021, arXiv 2012.09111).
"""

import jax.numpy as jnp
from jaxtyping import Array, Float

LINEAR_MATRIX = ((-2.0, -10.0), (20.0, -1.0))
RHO = 1.0


def linear_field(x: Float[Array, "... 2"]) -> Float[Array, "... 2"]:
    """`b(x) = [[−2, −10], [20, −1]] x` = `−∇V + g`, `V = x² + y²/2`, `g = (−10y, 20x)`."""
    return x @ jnp.asarray(LINEAR_MATRIX).T


def linear_quasipotential(x: Float[Array, "... 2"]) -> Float[Array, "..."]:
    """Exact quasipotential of `linear_field` from the origin: `U = 2x² + y²`."""
    return 2 * x[..., 0] ** 2 + x[..., 1] ** 2


def field_3d(x: Float[Array, "... 3"], rho: float = RHO) -> Float[Array, "... 3"]:
    """`b = (−2(x³ − x) − ρ(y + z), −y + 2ρ(x³ − x), −z + 2ρ(x³ − x))` (stable points `(±1, 0, 0)`)."""
    u, v, w = x[..., 0], x[..., 1], x[..., 2]
    s = u**3 - u
    return jnp.stack([-2 * s - rho * (v + w), -v + 2 * rho * s, -w + 2 * rho * s], axis=-1)


def quasipotential_3d(x: Float[Array, "... 3"]) -> Float[Array, "..."]:
    """Exact quasipotential of `field_3d`: `U = x⁴ − 2x² + 1 + y² + z²` (zero at both stable points)."""
    u, v, w = x[..., 0], x[..., 1], x[..., 2]
    return u**4 - 2 * u**2 + 1 + v**2 + w**2

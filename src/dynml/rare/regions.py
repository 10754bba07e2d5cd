"""Regions A and B of a transition, given as level-set functions.

A region is a function `d(x)` of one state `x (dim,)` that is `≤ 0` exactly on the set (a
signed distance, or any function with that zero level set). The neural committor builds its
boundary conditions from the smooth indicator `χ = 1 − s(clip(d/δ, 0, 1))` with the C²
smoothstep `s(t) = 6t⁵ − 15t⁴ + 10t³`: `χ = 1` on the set and `χ = 0` where `d ≥ δ` (Li, Lin
& Ren, J. Chem. Phys. 151, 054112, 2019, built-in boundary conditions).
"""

from collections.abc import Callable
from dataclasses import dataclass

import jax
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Bool, Float

Region = Callable[[Float[Array, " dim"]], Float[Array, ""]]


@dataclass(frozen=True)
class Disc:
    """`d(x) = |x[:k] − c| − r`: the disc (ball) of `radius` around `center` in the first
    `k = len(center)` coordinates, all others free."""

    center: tuple[float, ...]
    radius: float

    def __post_init__(self):
        if self.radius <= 0:
            raise ValueError(f"disc radius must be positive, got {self.radius}")

    def __call__(self, x: Float[Array, " dim"]) -> Float[Array, ""]:
        c = jnp.asarray(self.center, x.dtype)
        return jnp.sqrt(jnp.sum((x[: c.shape[0]] - c) ** 2) + 1e-30) - self.radius


def disc(center: Float[ArrayLike, " k"], radius: float) -> Disc:
    """The disc `|x[:k] − center| ≤ radius` as a region (`k = len(center)`)."""
    return Disc(tuple(float(c) for c in center), float(radius))


def smooth_indicator(region: Region, x: Float[Array, " dim"], collar: float) -> Float[Array, ""]:
    """`χ(x) = 1 − s(clip(d(x)/δ, 0, 1))`: exactly 1 on the region, exactly 0 where `d ≥ δ`."""
    t = jnp.clip(region(x) / collar, 0.0, 1.0)
    return 1.0 - t**3 * (10 - 15 * t + 6 * t**2)


def membership(region: Region) -> Callable[[Float[Array, "... dim"]], Bool[Array, "..."]]:
    """`points (..., dim) -> d(points) ≤ 0`: the region as a vectorised boolean (for grids)."""

    def inside(points):
        p = jnp.asarray(points)
        d = jax.vmap(region)(p.reshape(-1, p.shape[-1]))
        return (d <= 0).reshape(p.shape[:-1])

    return inside

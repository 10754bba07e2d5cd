"""The Müller–Brown potential, its rugged version and the rugged 10-D extension.

`V(x) = Σᵢ Dᵢ exp[aᵢ(x₁ − Xᵢ)² + bᵢ(x₁ − Xᵢ)(x₂ − Yᵢ) + cᵢ(x₂ − Yᵢ)²]` (Müller & Brown 1979),
with the committor benchmark settings of Li, Lin & Ren (J. Chem. Phys. 151, 054112, 2019):
kT = 10, A and B discs of radius 0.1 around the two deep minima, reference domain
`[−1.5, 1] × [−0.5, 2]`. Functions take states with coordinates on the last axis.
"""

import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

D = (-200.0, -100.0, -170.0, 15.0)
A = (-1.0, -1.0, -6.5, 0.7)
B = (0.0, 0.0, 11.0, 0.6)
C = (-10.0, -10.0, -6.5, 0.7)
X = (1.0, 0.0, -0.5, -1.0)
Y = (0.0, 0.5, 1.5, 1.0)

KT = 10.0
CENTER_A = (-0.558223634633, 1.4417258418)
CENTER_B = (0.623499404931, 0.0280377585287)
RADIUS = 0.1
DOMAIN = ((-1.5, 1.0), (-0.5, 2.0))
RUGGED_GAMMA = 9.0
RUGGED_K = 5.0
SIGMA_10D = 0.05


def mueller(x: Float[Array, "... d"]) -> Float[Array, "..."]:
    """The smooth Müller–Brown potential of the first two coordinates of `x`."""
    x1, x2 = x[..., 0], x[..., 1]
    total = 0.0
    for d, a, b, c, X0, Y0 in zip(D, A, B, C, X, Y, strict=True):
        u, v = x1 - X0, x2 - Y0
        total = total + d * jnp.exp(a * u**2 + b * u * v + c * v**2)
    return total


def rugged_mueller(
    x: Float[Array, "... d"], gamma: float = RUGGED_GAMMA, k: float = RUGGED_K
) -> Float[Array, "..."]:
    """Rugged Müller: `V(x) + γ sin(2kπx₁) sin(2kπx₂)` (γ = 9, k = 5)."""
    x1, x2 = x[..., 0], x[..., 1]
    return mueller(x) + gamma * jnp.sin(2 * k * jnp.pi * x1) * jnp.sin(2 * k * jnp.pi * x2)


def mueller_10d(x: Float[Array, "... 10"], sigma: float = SIGMA_10D) -> Float[Array, "..."]:
    """Rugged 10-D extension: rugged Müller of `(x₁, x₂)` + `Σ_{i≥3} xᵢ² / (2σ²)` (σ = 0.05).

    The extra coordinates are decoupled, so the committor depends on `(x₁, x₂)` only and the
    2-D committor of the rugged potential is the exact reference.
    """
    return rugged_mueller(x) + jnp.sum(x[..., 2:] ** 2, axis=-1) / (2 * sigma**2)


def in_disc(
    x: Float[Array, "... d"], center: tuple[float, float], radius: float = RADIUS
) -> Float[Array, "..."]:
    """Whether the first two coordinates of `x` lie in the closed disc (a boolean array)."""
    c = jnp.asarray(center)
    return jnp.sum((x[..., :2] - c) ** 2, axis=-1) <= radius**2


def grid(n: int, domain=DOMAIN) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`xs (n,)`, `ys (n,)` and the points `(n, n, 2)` (rows follow `ys`) of a regular grid."""
    (x0, x1), (y0, y1) = domain
    xs, ys = np.linspace(x0, x1, n), np.linspace(y0, y1, n)
    gx, gy = np.meshgrid(xs, ys)
    return xs, ys, np.stack([gx, gy], axis=-1)

"""Sine/cosine bases of a free-slip box `[0, L] x [0, 1]` as dense transform matrices.

Fields are series in `sin(k_m x)` or `cos(k_m x)` times `sin(q_n z)` (or `cos(q_n z)` for
`z`-derivatives) with `k_m = m pi / L`, `m = 0..M-1`, and `q_n = (n + 1) pi`, `n = 0..N-1`,
collocated at the cell midpoints `x_j = (j + 1/2) L / M`, `z_l = (l + 1/2) / N` (the DCT-II /
DST-II grid). On such small grids a transform is a dense matrix product (two BLAS calls)
rather than an FFT; the matrices are exact, so products of fields whose modes are restricted to
the lower two thirds (`dealias_mask`) are projected back without aliasing (Orszag's 2/3 rule):
the pseudo-spectral nonlinear term equals the Galerkin projection.
"""

from dataclasses import dataclass

import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float


def midpoints(n: int, length: float = 1.0) -> np.ndarray:
    """The `n` cell midpoints `(j + 1/2) length / n` of `[0, length]`."""
    return (np.arange(n) + 0.5) * length / n


def _analysis_sine(points: np.ndarray, length: float, n_modes: int, first: int) -> np.ndarray:
    """Rows mapping grid values to coefficients of `sin(j pi x / length)`, `j = first..`."""
    full = np.sin(np.outer(points, np.arange(1, len(points) + 1)) * np.pi / length)
    inverse = np.linalg.inv(full)  # rows: modes 1..n_points
    rows = np.zeros((n_modes, len(points)))
    for j in range(max(first, 1), first + n_modes):
        rows[j - first] = inverse[j - 1]
    return rows


@dataclass(frozen=True)
class Basis:
    """Transform matrices of a free-slip box with `nx x nz` modes and aspect ratio `L`.

    Synthesis matrices map coefficients to grid values along one axis: `sx[j, m] =
    sin(k_m x_j)`, `cx[j, m] = cos(k_m x_j)`, `sz[l, n] = sin(q_n z_l)`, `cz[l, n] =
    cos(q_n z_l)`. Analysis matrices (`ax_sin`, `ax_cos`, `az_sin`) invert the first three
    (the `m = 0` sine row is zero: `sin(0 x) = 0`).
    """

    nx: int
    nz: int
    aspect: float

    @property
    def x(self) -> np.ndarray:
        return midpoints(self.nx, self.aspect)

    @property
    def z(self) -> np.ndarray:
        return midpoints(self.nz)

    @property
    def kx(self) -> np.ndarray:
        """Horizontal wavenumbers `m pi / L`, `m = 0..M-1`."""
        return np.arange(self.nx) * np.pi / self.aspect

    @property
    def kz(self) -> np.ndarray:
        """Vertical wavenumbers `(n + 1) pi`, `n = 0..N-1`."""
        return (np.arange(self.nz) + 1) * np.pi

    def synthesis(self, x: np.ndarray | None = None, z: np.ndarray | None = None) -> dict:
        """Synthesis matrices `sx, cx, sz, cz` at the points `x`, `z` (default: the grid)."""
        x = self.x if x is None else np.asarray(x)
        z = self.z if z is None else np.asarray(z)
        return {
            "sx": np.sin(np.outer(x, self.kx)),
            "cx": np.cos(np.outer(x, self.kx)),
            "sz": np.sin(np.outer(z, self.kz)),
            "cz": np.cos(np.outer(z, self.kz)),
        }

    def analysis(self) -> dict:
        """Analysis matrices `ax_sin, ax_cos, az_sin` (grid values -> coefficients)."""
        return {
            "ax_sin": _analysis_sine(self.x, self.aspect, self.nx, first=0),
            "ax_cos": np.linalg.inv(np.cos(np.outer(self.x, self.kx))),
            "az_sin": _analysis_sine(self.z, 1.0, self.nz, first=1),
        }

    def dealias_mask(self) -> np.ndarray:
        """`True` for the modes kept by the 2/3 rule: `m < 2M/3` and `n + 1 < 2N/3`."""
        m = np.arange(self.nx)[:, None]
        n = np.arange(self.nz)[None, :] + 1
        return (3 * m < 2 * self.nx) & (3 * n < 2 * self.nz)

    def mean_weights(self, x_parity: str) -> np.ndarray:
        """Weights `W[m, n]` with `mean(f g) = sum W f_mn g_mn` over the box.

        For `sin(k_m x) sin(q_n z)` fields `W = 1/4` (`0` at `m = 0`); for `cos(k_m x)
        sin(q_n z)` fields `W = 1/4`, and `1/2` at `m = 0`.
        """
        if x_parity not in ("sin", "cos"):
            raise ValueError(f"x_parity must be 'sin' or 'cos', got {x_parity!r}")
        w = np.full((self.nx, self.nz), 0.25)
        w[0] = 0.0 if x_parity == "sin" else 0.5
        return w


def to_grid(
    coeffs: Float[Array, "*batch nx nz"], bx: Float[Array, "px nx"], bz: Float[Array, "pz nz"]
) -> Float[Array, "*batch px pz"]:
    """Grid values `f[j, l] = sum_{m, n} bx[j, m] c[m, n] bz[l, n]`."""
    return jnp.einsum("jm,...mn,ln->...jl", bx, coeffs, bz)


def to_modes(
    values: Float[Array, "*batch px pz"], ax: Float[Array, "nx px"], az: Float[Array, "nz pz"]
) -> Float[Array, "*batch nx nz"]:
    """Coefficients `c[m, n] = sum_{j, l} ax[m, j] f[j, l] az[n, l]` (inverse of `to_grid`)."""
    return jnp.einsum("mj,...jl,nl->...mn", ax, values, az)

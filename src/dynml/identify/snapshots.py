"""Field snapshots to PCA coordinates, as in the Rayleigh–Bénard study of Yu, Tian, E, Li
(Phys. Rev. Fluids 6, 114402, 2021, section V; their `rbc_pca.py`): every snapshot of every
trajectory enters one centred PCA (scikit-learn's `PCA`, fitted on all trajectories);
before it our fields are scaled per field by `scaling.FieldScaler` (each field divided by its
RMS, then all by one factor that gives the leading component the standard deviation
`pc1_std`; the authors' PC1 has variance 287.19, their variance file, so std 16.95), since
our velocity unit (`kappa / d`) would otherwise outweigh the temperature by about 150 to 1.
"""

from dataclasses import dataclass

import jax.numpy as jnp
import numpy as np
from jaxtyping import Float

from .reduce import PCA
from .scaling import FieldScaler


@dataclass(frozen=True)
class ReducedSnapshots:
    """Scaled snapshots `x`, their `pca`, coordinates `h = pca.encode(x)` (all components
    kept), the explained variance `ratio` (percent) of the first `n_report` components and
    the `scaler`; `encode` maps further snapshots (e.g. the pairs' partners) the same way."""

    x: np.ndarray
    pca: PCA
    h: np.ndarray
    ratio: np.ndarray
    scaler: FieldScaler

    def scaled(self, x: Float[np.ndarray, "*batch dim"]) -> Float[np.ndarray, "*batch dim"]:
        """Raw snapshots in the scaled units the PCA was fitted in."""
        return self.scaler(x)

    def encode(self, x: Float[np.ndarray, "*batch dim"]) -> Float[np.ndarray, "*batch m"]:
        """PCA coordinates of raw snapshots `x`, in float64 (a pair's partner differs from
        its snapshot by `O(pair_dt)`: float32 would round that difference)."""
        mean, comps = (np.asarray(a, np.float64) for a in (self.pca.mean, self.pca.components))
        return (np.asarray(self.scaler(np.asarray(x, np.float64))) - mean) @ comps.T


def reduce_snapshots(
    x: Float[np.ndarray, "n_traj n_t dim"], n_components: int, n_fields: int = 3, n_report=7,
    pc1_std: float = 1.0,
) -> ReducedSnapshots:  # fmt: skip
    """Scale `x` (module doc), fit the PCA on all its snapshots and encode them."""
    unit = FieldScaler.fit(x, n_fields, unit_leading_component=True)
    scaler = FieldScaler(unit.rms, unit.scale / pc1_std)
    x = scaler(x)
    pca = PCA.fit(x.reshape(-1, x.shape[-1]), n_components, n_report=n_report)
    h = np.asarray(pca.encode(jnp.asarray(x)))
    ratio = 100 * np.asarray(pca.explained_variance_ratio[:n_report])
    return ReducedSnapshots(x, pca, h, ratio, scaler)

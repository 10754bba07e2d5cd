"""Field snapshots to PCA coordinates, as in the Rayleigh–Bénard study of Yu, Tian, E, Li
(Phys. Rev. Fluids 6, 114402, 2021, section V; their `rbc_pca.py`): every snapshot of every
trajectory enters one centred PCA (scikit-learn's `PCA`, fitted on all trajectories);
before it our fields are scaled per field by `scaling.FieldScaler` (each field divided by its
RMS, then all by the leading component's standard deviation), since our velocity unit
(`kappa / d`) would otherwise outweigh the temperature by about 150 to 1.
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
    kept) and the explained variance `ratio` (percent) of the first `n_report` components."""

    x: np.ndarray
    pca: PCA
    h: np.ndarray
    ratio: np.ndarray


def reduce_snapshots(
    x: Float[np.ndarray, "n_traj n_t dim"], n_components: int, n_fields: int = 3, n_report=7
) -> ReducedSnapshots:
    """Scale `x` (module doc), fit the PCA on all its snapshots and encode them."""
    x = FieldScaler.fit(x, n_fields, unit_leading_component=True)(x)
    pca = PCA.fit(x.reshape(-1, x.shape[-1]), n_components, n_report=n_report)
    h = np.asarray(pca.encode(jnp.asarray(x)))
    return ReducedSnapshots(x, pca, h, 100 * np.asarray(pca.explained_variance_ratio[:n_report]))

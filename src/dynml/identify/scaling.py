"""Per-field scaling of multi-field snapshots: `x_c <- x_c / rms_c`.

A snapshot of `C` fields on one grid is flattened to `dim = C * n_points` (field-major, as
`systems.rbc.simulate` writes `(u, w, theta)`). Each field `c` is divided by its root mean
square over the whole training set, `rms_c = (mean_{traj, t, points} x_c^2)^{1/2}`, so the
fields enter PCA with comparable weight (Yu, Tian, E, Li, Phys. Rev. Fluids 6, 114402, 2021,
section V, scale the RBC fields before PCA; the exact scaling is not given there).
Optionally (`unit_leading_component`) the scaled snapshots are further divided by the
standard deviation `s_1 = lambda_1^{1/2}` of their leading principal component, so the first
PCA coordinate has unit variance.
"""

from dataclasses import dataclass

import numpy as np
from jaxtyping import Float

from .reduce import PCA


@dataclass(frozen=True)
class FieldScaler:
    """`rms` `(n_fields,)`; `FieldScaler.fit(x, n_fields)`, then `scaler(x)` on any snapshots."""

    rms: np.ndarray
    scale: float = 1.0

    @classmethod
    def fit(
        cls, x: Float[np.ndarray, "*batch dim"], n_fields: int, unit_leading_component=False
    ) -> "FieldScaler":
        """`rms_c` over every axis of `x` but the field axis (and `s_1`, module doc)."""
        per_field = x.reshape(*x.shape[:-1], n_fields, -1)
        axes = (*range(per_field.ndim - 2), per_field.ndim - 1)
        scaler = cls(np.sqrt(np.mean(per_field**2, axis=axes)))
        if not unit_leading_component:
            return scaler
        flat = scaler(x).reshape(-1, x.shape[-1])
        return cls(scaler.rms, float(np.sqrt(PCA.fit(flat, 1).variance[0])))

    def __call__(self, x: Float[np.ndarray, "*batch dim"]) -> Float[np.ndarray, "*batch dim"]:
        per_field = x.reshape(*x.shape[:-1], len(self.rms), -1)
        scaled = (per_field / self.rms[:, None]).reshape(x.shape)
        return scaled / self.scale

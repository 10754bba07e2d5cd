"""The authors' PCA coordinate files of the RBC data (Yu, Tian, E, Li 2021, dataRBC/).

Format (read from the published files, e.g. `RBC_r28L_T100R100_pca3_enc_data.txt.gz`):
comma-separated text (optionally gzipped), one row per snapshot, `m` columns (the PCA
coordinates). Rows come in pairs: row `2k` is `h(t_k)`, row `2k + 1` is `h(t_k + dt_pair)`
with `dt_pair = 1e-3`; trajectories are stored one after another, `n_per` pairs each
(100 trajectories x 100 pairs, one time unit apart, in the published files). The authors
train on the first `0.8 n_traj` trajectories and test on the rest.
"""

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..core.domains import BadInput


@dataclass(frozen=True)
class PCAPairs:
    """`h0[i, k] = h_i(t_k)`, `h1[i, k] = h_i(t_k + dt_pair)`, shapes `(n_traj, n_per, m)`."""

    h0: np.ndarray
    h1: np.ndarray
    dt_pair: float
    snapshot_dt: float

    @property
    def n_traj(self) -> int:
        return self.h0.shape[0]

    def flat_pairs(self, index=slice(None)) -> tuple[np.ndarray, np.ndarray, float]:
        """`(x0, x1, dt_pair)` of the selected trajectories, flattened to `(n, m)`."""
        m = self.h0.shape[-1]
        return self.h0[index].reshape(-1, m), self.h1[index].reshape(-1, m), self.dt_pair


def load_pca_pairs(
    path: str | Path, n_traj: int = 100, dt_pair: float = 1e-3, snapshot_dt: float = 1.0
) -> PCAPairs:
    """Read a file of the module doc's format; `BadInput` (one line) if it is not one."""
    path = Path(path)
    if not path.is_file():
        raise BadInput(f"pca_data: {path} is not a file")
    try:
        rows = np.loadtxt(path, delimiter=",", ndmin=2, dtype=np.float64)
    except (ValueError, OSError, EOFError) as err:
        msg = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise BadInput(f"pca_data: {path} is not comma-separated numbers ({msg})") from None
    if rows.size == 0 or not np.all(np.isfinite(rows)):
        raise BadInput(f"pca_data: {path} is empty or holds NaN/inf")
    if rows.shape[0] % (2 * n_traj):
        raise BadInput(f"pca_data: {path} has {rows.shape[0]} rows, not 2 x {n_traj} x n_per")
    pairs = rows.reshape(n_traj, -1, 2, rows.shape[1])
    return PCAPairs(pairs[:, :, 0], pairs[:, :, 1], dt_pair, snapshot_dt)

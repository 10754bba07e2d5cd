"""Trajectory data sets: times, states `(n_traj, n_t, dim)`, optional per-trajectory parameters."""

from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

from .io import atomic_path


@dataclass(frozen=True)
class Trajectories:
    """A set of trajectories on a shared time grid.

    `t` has shape `(n_t,)`, `x` shape `(n_traj, n_t, dim)`, `params` (optional) shape
    `(n_traj, n_params)`; `attrs` holds scalar metadata (physical parameters, units).
    Construction checks shapes and refuses NaN or inf with a `ValueError`.
    """

    t: np.ndarray
    x: np.ndarray
    params: np.ndarray | None = None
    attrs: dict | None = None

    def __post_init__(self):
        t, x = np.asarray(self.t), np.asarray(self.x)
        if t.ndim != 1:
            raise ValueError(f"Trajectories.t must have shape (n_t,), got {t.shape}")
        if x.ndim != 3 or x.shape[1] != t.shape[0]:
            raise ValueError(
                f"Trajectories.x must have shape (n_traj, n_t={t.shape[0]}, dim), got {x.shape}"
            )
        if not np.all(np.isfinite(x)) or not np.all(np.isfinite(t)):
            raise ValueError("Trajectories contain NaN or inf values")
        if np.any(np.diff(t) <= 0):
            raise ValueError("Trajectories.t must be strictly increasing")
        object.__setattr__(self, "t", t)
        object.__setattr__(self, "x", x)
        if self.params is not None:
            p = np.asarray(self.params)
            if p.ndim != 2 or p.shape[0] != x.shape[0]:
                raise ValueError(
                    f"Trajectories.params must have shape ({x.shape[0]}, n), got {p.shape}"
                )
            object.__setattr__(self, "params", p)
        object.__setattr__(self, "attrs", dict(self.attrs or {}))

    @property
    def n_traj(self) -> int:
        return self.x.shape[0]

    @property
    def dim(self) -> int:
        return self.x.shape[2]

    def __getitem__(self, index) -> "Trajectories":
        """Select trajectories (an index array, slice or boolean mask)."""
        idx = np.arange(self.n_traj)[index]
        idx = np.atleast_1d(idx)
        params = None if self.params is None else self.params[idx]
        return Trajectories(self.t, self.x[idx], params, self.attrs)

    def split(self, train_fraction: float, seed: int = 0) -> tuple["Trajectories", "Trajectories"]:
        """Split by whole trajectories (never by time) into train and test sets."""
        if not 0.0 < train_fraction < 1.0:
            raise ValueError(f"train_fraction must be in (0, 1), got {train_fraction}")
        order = np.random.default_rng(seed).permutation(self.n_traj)
        n_train = max(1, min(self.n_traj - 1, round(train_fraction * self.n_traj)))
        return self[order[:n_train]], self[order[n_train:]]

    def pairs(self, lag: int = 1) -> tuple[np.ndarray, np.ndarray, float]:
        """Pairs `(x_t, x_{t + lag dt})` from every trajectory, flattened, and the time step.

        Requires a uniform grid; returns arrays of shape `(n_traj * (n_t - lag), dim)`.
        """
        dts = np.diff(self.t)
        if not np.allclose(dts, dts[0], rtol=1e-6, atol=1e-12):
            raise ValueError("pairs() needs a uniform time grid")
        x0 = self.x[:, :-lag].reshape(-1, self.dim)
        x1 = self.x[:, lag:].reshape(-1, self.dim)
        return x0, x1, float(lag * dts[0])

    def save(self, path: str | Path) -> Path:
        """Write to HDF5 (datasets `t`, `x`, optional `params`; `attrs` as file attributes)."""
        path = Path(path)
        with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
            f.create_dataset("t", data=self.t)
            f.create_dataset("x", data=self.x, compression="gzip")
            if self.params is not None:
                f.create_dataset("params", data=self.params)
            for key, value in self.attrs.items():
                f.attrs[key] = value
        return path

    @classmethod
    def load(cls, path: str | Path) -> "Trajectories":
        """Read a file written by `save`; missing files, datasets or bad shapes raise clearly."""
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"no trajectory file at {path}")
        try:
            f = h5py.File(path, "r")
        except OSError as err:
            raise ValueError(f"{path} is not a readable HDF5 file ({err})") from None
        with f:
            missing = [name for name in ("t", "x") if name not in f]
            if missing:
                raise ValueError(f"{path} lacks dataset(s) {missing}: not a Trajectories file")
            params = f["params"][()] if "params" in f else None
            attrs = {k: (v.item() if hasattr(v, "item") else v) for k, v in f.attrs.items()}
            return cls(f["t"][()], f["x"][()], params, attrs)

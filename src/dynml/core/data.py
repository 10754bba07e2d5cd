"""Trajectory data sets: times, states `(n_traj, n_t, dim)`, optional per-trajectory parameters."""

from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np
from jaxtyping import Float

from .domains import BadInput
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
        t, x = _real_floats(self.t, "t"), _real_floats(self.x, "x")
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
            p = _real_floats(self.params, "params")
            if p.ndim != 2 or p.shape[0] != x.shape[0]:
                raise ValueError(
                    f"Trajectories.params must have shape ({x.shape[0]}, n), got {p.shape}"
                )
            if not np.all(np.isfinite(p)):
                raise ValueError("Trajectories.params contain NaN or inf values")
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

    def pairs(
        self, lag: int = 1
    ) -> tuple[Float[np.ndarray, "n_pairs dim"], Float[np.ndarray, "n_pairs dim"], float]:
        """Pairs `(x_t, x_{t + lag dt})` from every trajectory, flattened, and the time step.

        Requires a uniform grid (to rounding: 1000 ulps of the grid's dtype); returns arrays of shape `(n_traj * (n_t - lag), dim)`.
        """
        dts = np.diff(self.t)
        rtol = max(1e-6, 1000 * float(np.finfo(self.t.dtype).eps))  # float32 grids round
        if not np.allclose(dts, dts[0], rtol=rtol, atol=1e-12):
            raise ValueError("pairs() needs a uniform time grid")
        x0 = self.x[:, :-lag].reshape(-1, self.dim)
        x1 = self.x[:, lag:].reshape(-1, self.dim)
        return x0, x1, float(lag * dts[0])

    def save(self, path: str | Path) -> Path:
        """Write to HDF5 (datasets `t`, `x`, optional `params`; `attrs` as file attributes:
        numbers, strings and numeric arrays, which `load` returns as they were saved)."""
        path = Path(path)
        if path.is_dir():
            raise ValueError(f"cannot save trajectories onto {path}: it is a folder")
        for key, value in self.attrs.items():
            if not isinstance(value, str | int | float | bool | np.ndarray | np.number | list):
                raise ValueError(
                    f"attribute {key!r} of type {type(value).__name__} cannot be saved"
                )
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
        """Read a file written by `save`. A missing file raises `FileNotFoundError`; a file that is not HDF5, missing or
        malformed datasets (a group, bytes or compound dtypes, bad shapes, NaN) raise
        `BadInput` naming the file and the dataset."""
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"no trajectory file at {path}")
        try:
            f = h5py.File(path, "r")
        except OSError as err:
            raise BadInput(f"{path} is not a readable HDF5 file ({err})") from None
        with f:
            missing = [name for name in ("t", "x") if name not in f]
            if missing:
                raise BadInput(f"{path} lacks dataset(s) {missing}: not a Trajectories file")
            arrays = {}
            for name in ("t", "x", "params"):
                if name not in f:
                    continue
                if not isinstance(f[name], h5py.Dataset):
                    raise BadInput(f"{path}: {name!r} is a {type(f[name]).__name__}, not a dataset")
                arrays[name] = f[name][()]
            attrs = {k: _attr_value(v) for k, v in f.attrs.items()}
        try:
            return cls(arrays["t"], arrays["x"], arrays.get("params"), attrs)
        except ValueError as err:
            raise BadInput(f"{path}: {err}") from None


def _real_floats(value, name: str) -> np.ndarray:
    """`value` as an array of real floating-point numbers, or a `ValueError` naming `name`."""
    arr = np.asarray(value)
    if arr.dtype.kind != "f":
        raise ValueError(
            f"Trajectories.{name} must hold real floating-point numbers, got dtype {arr.dtype}"
        )
    return arr


def _attr_value(value):
    """An HDF5 attribute as saved: scalars as Python numbers, arrays as arrays, text as str."""
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, np.ndarray) and value.ndim > 0:
        return value
    return value.item() if hasattr(value, "item") else value

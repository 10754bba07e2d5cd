"""Trajectories: shape and NaN checks, split by trajectory, pairs, HDF5 round trip."""

import h5py
import numpy as np
import pytest

from dynml.core.data import Trajectories


def _make(n_traj=6, n_t=11, dim=3, seed=0):
    rng = np.random.default_rng(seed)
    t = np.linspace(0, 1, n_t)
    return Trajectories(
        t, rng.normal(size=(n_traj, n_t, dim)), rng.normal(size=(n_traj, 2)), {"r": 28.0}
    )


def test_hdf5_round_trip(tmp_path):
    data = _make()
    loaded = Trajectories.load(data.save(tmp_path / "d.h5"))
    np.testing.assert_array_equal(loaded.x, data.x)
    np.testing.assert_array_equal(loaded.t, data.t)
    np.testing.assert_array_equal(loaded.params, data.params)
    assert loaded.attrs == {"r": 28.0}


def test_split_is_by_whole_trajectories():
    data = _make(n_traj=10)
    train, test = data.split(0.8, seed=1)
    assert train.n_traj == 8 and test.n_traj == 2
    rows = {tuple(x.ravel()) for x in train.x} | {tuple(x.ravel()) for x in test.x}
    assert len(rows) == 10


def test_pairs_are_consecutive_states():
    data = _make(n_traj=2, n_t=5)
    x0, x1, dt = data.pairs()
    assert x0.shape == (8, 3) and dt == pytest.approx(0.25)
    np.testing.assert_array_equal(x0[1], data.x[0, 1])
    np.testing.assert_array_equal(x1[1], data.x[0, 2])


@pytest.mark.parametrize(
    "t, x, message",
    [
        (np.linspace(0, 1, 5), np.zeros((2, 4, 3)), "shape"),
        (np.linspace(0, 1, 5), np.zeros((5, 3)), "shape"),
        (np.linspace(0, 1, 5), np.full((2, 5, 3), np.nan), "NaN"),
        (np.array([0.0, 1.0, 0.5]), np.zeros((1, 3, 1)), "increasing"),
    ],
)
def test_bad_arrays_are_refused(t, x, message):
    with pytest.raises(ValueError, match=message):
        Trajectories(t, x)


def test_load_errors(tmp_path):
    with pytest.raises(FileNotFoundError):
        Trajectories.load(tmp_path / "missing.h5")
    (tmp_path / "junk.h5").write_text("not hdf5")
    with pytest.raises(ValueError, match="not a readable HDF5"):
        Trajectories.load(tmp_path / "junk.h5")
    with h5py.File(tmp_path / "other.h5", "w") as f:
        f.create_dataset("y", data=np.zeros(3))
    with pytest.raises(ValueError, match="lacks dataset"):
        Trajectories.load(tmp_path / "other.h5")
    with h5py.File(tmp_path / "nan.h5", "w") as f:
        f.create_dataset("t", data=np.linspace(0, 1, 3))
        f.create_dataset("x", data=np.full((1, 3, 2), np.nan))
    with pytest.raises(ValueError, match="NaN"):
        Trajectories.load(tmp_path / "nan.h5")

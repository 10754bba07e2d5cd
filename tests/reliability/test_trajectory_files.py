"""Trajectory files from outside: every malformed file raises a ValueError naming the file and
the dataset, attributes round-trip, and random bytes never give anything but a clear error."""

import h5py
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dynml.core.data import Trajectories

T = np.linspace(0.0, 1.0, 4)
X = np.zeros((2, 4, 3))


def _write(path, **datasets):
    with h5py.File(path, "w") as f:
        for name, value in datasets.items():
            if isinstance(value, str):
                f.create_group(name)
            else:
                f.create_dataset(name, data=value)


BAD_FILES = {
    "x as a group": ({"t": T, "x": "group"}, "'x' is a Group"),
    "bytes x": ({"t": T, "x": np.array([[[b"ab"] * 3] * 4] * 2)}, "dtype"),
    "compound x": (
        {"t": T, "x": np.zeros((2, 4, 3), dtype=[("a", "f4"), ("b", "i4")])},
        "dtype",
    ),
    "complex x": ({"t": T, "x": X + 1j}, "dtype"),
    "integer t": ({"t": np.arange(4), "x": X}, "dtype"),
    "nan params": ({"t": T, "x": X, "params": np.array([[np.nan], [1.0]])}, "params"),
    "params wrong rows": ({"t": T, "x": X, "params": np.ones((3, 1))}, "params"),
    "x wrong rank": ({"t": T, "x": np.zeros((4, 3))}, "shape"),
    "t decreasing": ({"t": T[::-1], "x": X}, "increasing"),
    "inf x": ({"t": T, "x": np.full((2, 4, 3), np.inf)}, "NaN or inf"),
}


@pytest.mark.parametrize("datasets, expected", BAD_FILES.values(), ids=BAD_FILES.keys())
def test_malformed_files_raise_value_errors_naming_file_and_dataset(tmp_path, datasets, expected):
    path = tmp_path / "traj.h5"
    _write(path, **datasets)
    with pytest.raises(ValueError, match=expected) as info:
        Trajectories.load(path)
    assert "traj.h5" in str(info.value)


def test_params_with_nan_are_refused_in_memory():
    with pytest.raises(ValueError, match="params"):
        Trajectories(T, X, np.array([[1.0], [np.inf]]))


def test_attributes_round_trip_arrays_included(tmp_path):
    attrs = {"r": 28.0, "name": "lorenz", "n": 3, "sigma_beta": np.array([10.0, 8 / 3])}
    data = Trajectories(T, X, np.ones((2, 2)), attrs)
    loaded = Trajectories.load(data.save(tmp_path / "a.h5"))
    assert loaded.attrs["r"] == 28.0 and loaded.attrs["name"] == "lorenz" and loaded.attrs["n"] == 3
    np.testing.assert_array_equal(loaded.attrs["sigma_beta"], attrs["sigma_beta"])
    np.testing.assert_array_equal(loaded.params, data.params)


def test_saving_onto_a_folder_is_refused(tmp_path):
    with pytest.raises(ValueError, match="folder"):
        Trajectories(T, X).save(tmp_path)


@settings(max_examples=30)
@given(st.binary(max_size=2048))
def test_random_bytes_give_a_value_error(tmp_path_factory, blob):
    path = tmp_path_factory.mktemp("blob") / "random.h5"
    path.write_bytes(blob)
    with pytest.raises(ValueError):
        Trajectories.load(path)

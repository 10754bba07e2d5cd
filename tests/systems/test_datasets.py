import numpy as np
import pytest

from dynml.systems.datasets import classification_data, load_mnist


def test_digits_in_unit_interval_and_split_disjoint():
    (x_tr, y_tr), (x_te, y_te) = classification_data(test_fraction=0.25, seed=1)
    assert x_tr.shape[1:] == (1, 8, 8) and x_tr.min() >= 0 and x_tr.max() == 1.0
    assert len(x_tr) + len(x_te) == 1797 and len(x_te) == int(0.25 * 1797)
    assert set(np.unique(y_tr)) == set(range(10))


def test_flat_digits():
    (x_tr, _), _ = classification_data(flat=True)
    assert x_tr.ndim == 2 and x_tr.shape[1] == 64


def test_mnist_integer_file_scaled_by_255(tmp_path):
    rng = np.random.default_rng(0)
    arrs = {
        "x_train": rng.integers(0, 256, (5, 28, 28), dtype=np.uint8),
        "y_train": np.arange(5),
        "x_test": np.full((2, 784), 255, dtype=np.uint8),
        "y_test": np.arange(2),
    }
    np.savez(tmp_path / "m.npz", **arrs)
    (x_tr, _), (x_te, _) = load_mnist(tmp_path / "m.npz")
    assert x_tr.shape == (5, 1, 28, 28) and x_te.shape == (2, 1, 28, 28)
    np.testing.assert_allclose(x_tr[:, 0], arrs["x_train"] / 255.0, rtol=1e-6)
    assert x_te.max() == 1.0


@pytest.mark.parametrize("bad", ["missing", "keys", "shape", "nan"])
def test_mnist_bad_files_raise_value_error(tmp_path, bad):
    path = tmp_path / "m.npz"
    good = {"x_train": np.zeros((3, 784)), "y_train": np.zeros(3), "x_test": np.zeros((1, 784)),
            "y_test": np.zeros(1)}  # fmt: skip
    if bad == "keys":
        np.savez(path, x_train=good["x_train"])
    elif bad == "shape":
        np.savez(path, **{**good, "x_train": np.zeros((3, 10))})
    elif bad == "nan":
        np.savez(path, **{**good, "x_test": np.full((1, 784), np.nan)})
    with pytest.raises(ValueError):
        load_mnist(path)

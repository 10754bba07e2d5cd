import gzip

import numpy as np
import pytest

from dynml.core.domains import BadInput
from dynml.identify.pca_pairs import load_pca_pairs


def _write(path, n_traj=4, n_per=3, m=3):
    """Pairs (h, h + dt f(h)) for f(h) = -h in the authors' interleaved row layout."""
    rng = np.random.default_rng(0)
    h0 = rng.normal(size=(n_traj, n_per, m))
    h1 = h0 * np.exp(-1e-3)
    rows = np.stack([h0, h1], axis=2).reshape(-1, m)
    with gzip.open(path, "wt") as f:
        np.savetxt(f, rows, delimiter=", ", fmt="%.8e")
    return h0, h1


def test_reads_interleaved_pairs_by_trajectory(tmp_path):
    h0, h1 = _write(tmp_path / "enc.txt.gz")
    data = load_pca_pairs(tmp_path / "enc.txt.gz", n_traj=4)
    np.testing.assert_allclose(data.h0, h0, rtol=1e-7)
    np.testing.assert_allclose(data.h1, h1, rtol=1e-7)
    x0, x1, dt = data.flat_pairs(slice(0, 2))
    # the secant slope recovers f(h) = -h: pairs are matched row 2k with 2k + 1
    np.testing.assert_allclose((x1 - x0) / dt, -x0, rtol=1e-3)
    assert x0.shape == (6, 3)


@pytest.mark.parametrize("text", ["1, 2, 3\n4, 5\n", "a, b\n", "1, 2\n" * 3])
def test_malformed_files_are_bad_input(tmp_path, text):
    path = tmp_path / "bad.txt"
    path.write_text(text)
    with pytest.raises(BadInput):
        load_pca_pairs(path, n_traj=2)


def test_missing_file_is_bad_input(tmp_path):
    with pytest.raises(BadInput, match="not a file"):
        load_pca_pairs(tmp_path / "none.txt")

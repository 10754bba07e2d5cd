"""`reduce_snapshots`: per-field scaling, one centred PCA, PC1 of the requested spread, and
`encode` of further snapshots (the pairs' partners) in the same coordinates."""

import numpy as np

from dynml.identify.snapshots import reduce_snapshots


def _fields(seed=0, n_traj=4, n_t=50, points=8):
    """Three fields of very different units on `points` points, rank 3 plus a mean."""
    rng = np.random.default_rng(seed)
    modes = rng.normal(size=(3, 3 * points))
    amp = rng.normal(size=(n_traj, n_t, 3)) * np.array([3.0, 1.0, 0.3])
    x = 2.0 + amp @ modes
    return x * np.repeat([150.0, 150.0, 1.0], points)  # velocity ~150 x temperature


def test_pc1_has_the_requested_standard_deviation_and_encode_matches():
    x = _fields()
    red = reduce_snapshots(x, 3, n_report=3, pc1_std=16.95)
    np.testing.assert_allclose(np.std(red.h[..., 0]), 16.95, rtol=1e-4)
    np.testing.assert_allclose(red.ratio.sum(), 100.0, rtol=1e-4)  # rank 3: all variance
    np.testing.assert_allclose(red.encode(x), red.h, rtol=1e-4, atol=1e-4)
    # the spread is one factor: the spectrum does not depend on it
    np.testing.assert_allclose(reduce_snapshots(x, 3, n_report=3).ratio, red.ratio, rtol=1e-5)


def test_encode_keeps_a_small_difference_exactly():
    x = _fields(1)
    red = reduce_snapshots(x, 3, n_report=3, pc1_std=16.95)
    step = 1e-3 * np.random.default_rng(2).normal(size=x.shape[-1])
    # linear map: encode(x + d) - encode(x) = scaled(d) projected, whatever |x|
    diff = red.encode(x + step) - red.encode(x)
    comps = np.asarray(red.pca.components, np.float64)
    np.testing.assert_allclose(diff, np.broadcast_to(red.scaled(step) @ comps.T, diff.shape),
                               rtol=1e-6, atol=1e-9)  # fmt: skip

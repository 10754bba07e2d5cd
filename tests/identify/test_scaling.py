"""Per-field RMS scaling of flattened multi-field snapshots."""

import numpy as np

from dynml.identify.reduce import PCA
from dynml.identify.scaling import FieldScaler


def _snapshots(seed=0):
    """(traj, t, 2 fields x 5 points) with field RMS 3 and 0.5."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(4, 6, 2, 5))
    x /= np.sqrt(np.mean(x**2, axis=(0, 1, 3)))[:, None]  # exact unit RMS per field
    return (x * np.array([3.0, 0.5])[:, None]).reshape(4, 6, 10)


def test_each_field_gets_unit_rms():
    x = _snapshots()
    scaler = FieldScaler.fit(x, 2)
    np.testing.assert_allclose(scaler.rms, [3.0, 0.5], rtol=1e-12)
    y = scaler(x).reshape(4, 6, 2, 5)
    np.testing.assert_allclose(np.sqrt(np.mean(y**2, axis=(0, 1, 3))), 1.0, rtol=1e-12)
    # fields are not mixed: the second field's scaling leaves the first untouched
    np.testing.assert_allclose(y[:, :, 0], x.reshape(4, 6, 2, 5)[:, :, 0] / 3.0)


def test_unit_leading_component_gives_the_first_pca_coordinate_unit_variance():
    x = _snapshots()
    y = FieldScaler.fit(x, 2, unit_leading_component=True)(x)
    np.testing.assert_allclose(PCA.fit(y.reshape(-1, 10), 1).variance[0], 1.0, rtol=1e-5)

"""The reduced-model study's data set: Lorenz-mode starts far from conduction, metric time."""

import jax
import numpy as np

from dynml.systems.rbc import RBC, lorenz_coordinates, lorenz_starts, midpoints, partners
from dynml.systems.rbc.dataset import LORENZ_TIME_SCALE, study_data, study_rbc


def test_lorenz_starts_fill_the_box_in_the_three_modes():
    rbc = RBC(28.0, 10.0, np.sqrt(2.0), 8, 8, 1e-3)
    s0 = lorenz_starts(rbc, jax.random.PRNGKey(0), 200, noise=0.0)
    xyz = np.asarray(lorenz_coordinates(rbc, s0))
    lo, hi = np.array([-25.0, -25.0, -5.0]), np.array([25.0, 25.0, 30.0])
    assert np.all(xyz >= lo - 1e-4) and np.all(xyz <= hi + 1e-4)
    assert np.all(xyz.max(0) - xyz.min(0) > 0.8 * (hi - lo))  # spread over the box
    # noise=0: nothing outside the three Lorenz modes (the state is its own projection)
    np.testing.assert_allclose(np.abs(s0).sum(), np.abs(np.asarray(s0)[:, :, :2, :3]).sum())


def test_study_data_starts_at_the_states_and_counts_metric_time():
    rbc = study_rbc(28.0, 10.0, np.sqrt(2.0), 8, 8, 1e-3, snapshot_dt=0.5, time_unit=0.1)
    interval = 0.5 * 0.1 / LORENZ_TIME_SCALE  # diffusion times between snapshots
    assert abs(interval / rbc.dt - round(interval / rbc.dt)) < 1e-9 and rbc.dt <= 1e-3
    data = study_data(rbc, 0, 3, 2.0, 0.5, 0.1, out_shape=(4, 4), amplitude=0.0)
    np.testing.assert_allclose(data.t, [0.0, 0.5, 1.0, 1.5, 2.0], atol=1e-9)
    s0 = lorenz_starts(rbc, jax.random.PRNGKey(0), 3, noise=0.0)
    first = np.asarray(rbc.fields(s0, midpoints(4, rbc.aspect), midpoints(4))).reshape(3, -1)
    np.testing.assert_allclose(data.x[:, 0], first, rtol=1e-5, atol=1e-5)


def test_study_data_pairs_are_pair_dt_apart_in_metric_time():
    rbc = study_rbc(28.0, 10.0, np.sqrt(2.0), 8, 8, 1e-3, snapshot_dt=0.5, time_unit=0.1)
    data = study_data(rbc, 0, 2, 1.0, 0.5, 0.1, out_shape=(4, 4), amplitude=0.0, pair_dt=0.01)
    np.testing.assert_allclose(data.t, [0.0, 0.01, 0.5, 0.51, 1.0, 1.01], atol=1e-9)
    assert data.attrs["pair_dt"] == 0.01 and data.x.shape == (2, 6, 48)
    snaps, later = partners(data)  # the snapshots equal plain ones (test_rbc_simulator)
    assert 0 < np.abs(later.x - snaps.x).max() < 0.1 * np.abs(snaps.x).max()  # a small step

"""Forecast errors against recorded trajectories, on exponential decay `h(t) = h0 e^{-t}`."""

import equinox as eqx
import numpy as np

from dynml.identify.forecast import forecast, horizon_error, long_rollouts


class _Linear(eqx.Module):
    rate: float = eqx.field(static=True)

    def __call__(self, h):
        return -self.rate * h


SNAP, T_END = 0.1, 2.0


def _data():
    t = np.arange(round(T_END / SNAP) + 1) * SNAP
    h0 = np.array([[1.0, 2.0], [-3.0, 0.5], [0.2, -0.4]])
    return h0[:, None, :] * np.exp(-t)[None, :, None]


def test_horizon_error_is_the_relative_error_at_the_horizon():
    h = _data()
    assert horizon_error(_Linear(1.0), h, 1.0, SNAP, SNAP / 5) < 1e-5
    # rate 2 against decay at rate 1: |e^{-2T} - e^{-T}| / e^{-T} = 1 - e^{-T} from every start
    for horizon in (0.5, 1.5):
        err = horizon_error(_Linear(2.0), h, horizon, SNAP, SNAP / 5)
        np.testing.assert_allclose(err, 1 - np.exp(-horizon), rtol=1e-4)


def test_failures_are_judged_against_the_trajectory_amplitude():
    h = _data()
    # a frozen field keeps h0: error |h0| (1 - e^{-t}) against the amplitude |h0|
    _, n_fail = long_rollouts(_Linear(0.0), h, T_END, 0.2, SNAP, SNAP / 5)
    assert n_fail == 0  # 1 - e^{-0.2} = 0.18 < 0.3
    pred, n_fail = long_rollouts(_Linear(0.0), h, T_END, 1.0, SNAP, SNAP / 5)
    assert n_fail == 3 and pred.shape == h.shape  # 1 - e^{-1} = 0.63 > 0.3
    _, n_fail = long_rollouts(_Linear(-60.0), h, T_END, 1.9, SNAP, SNAP / 5)
    assert n_fail == 3  # e^{114} overflows float32: blow-ups count as failures


def test_forecast_gathers_both_horizons():
    f = forecast(_Linear(2.0), _data(), t_end=T_END, snapshot_dt=SNAP, dt=SNAP / 5)
    np.testing.assert_allclose([f.err_short, f.err_long], 1 - np.exp([-1.0, -1.0]), rtol=1e-4)
    # at t = 1 the error is |h0| (e^{-1} - e^{-2}) = 0.23 |h0| < 0.3 |h0|: no failure
    assert f.n_fail == 0 and f.rollouts.shape == _data().shape

"""Forecast errors against recorded trajectories, on exponential decay `h(t) = h0 e^{-t}`."""

import equinox as eqx
import numpy as np

from dynml.identify.forecast import forecast, horizon_error, long_rollouts, score_seeds


class _Linear(eqx.Module):
    rate: float = eqx.field(static=True)

    def __call__(self, h):
        return -self.rate * h


SNAP, T_END = 0.1, 2.0


def _data():
    t = np.arange(round(T_END / SNAP) + 1) * SNAP
    h0 = np.array([[1.0, 2.0], [-3.0, 0.5], [0.2, -0.4]])
    return h0[:, None, :] * np.exp(-t)[None, :, None]


def _authors_error(horizon: float) -> float:
    """Rate 2 against decay at rate 1: from the start t_k the error is
    |h0| e^{-t_k - T} (1 - e^{-T}); its RMS over the starts, over the trajectory's RMS norm
    |h0| (mean_t e^{-2t})^{1/2}, is the same for every trajectory (test_ode_RBC.py's form)."""
    t = np.arange(round(T_END / SNAP) + 1) * SNAP
    starts = t[: len(t) - round(horizon / SNAP)]
    rms_err = np.exp(-horizon) * (1 - np.exp(-horizon)) * np.sqrt(np.mean(np.exp(-2 * starts)))
    return rms_err / np.sqrt(np.mean(np.exp(-2 * t)))


def test_horizon_error_is_the_authors_normalised_error_at_the_horizon():
    h = _data()
    assert horizon_error(_Linear(1.0), h, 1.0, SNAP, SNAP / 5) < 1e-5
    for horizon in (0.5, 1.5):
        err = horizon_error(_Linear(2.0), h, horizon, SNAP, SNAP / 5)
        np.testing.assert_allclose(err, _authors_error(horizon), rtol=1e-4)
    # one trajectory twice as large changes nothing: each is normalised by its own norm
    scaled = h * np.array([1.0, 2.0, 1.0])[:, None, None]
    np.testing.assert_allclose(horizon_error(_Linear(2.0), scaled, 0.5, SNAP, SNAP / 5),
                               _authors_error(0.5), rtol=1e-4)  # fmt: skip


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
    np.testing.assert_allclose([f.err_short, f.err_long], _authors_error(1.0), rtol=1e-4)
    # at t = 1 the error is |h0| (e^{-1} - e^{-2}) = 0.23 |h0| < 0.3 |h0|: no failure
    assert f.n_fail == 0 and f.rollouts.shape == _data().shape


def test_score_seeds_takes_the_median_over_seeds():
    kw = dict(t_end=T_END, snapshot_dt=SNAP, dt=SNAP / 5)
    members = {"net": [_Linear(1.0), _Linear(2.0), _Linear(3.0)], "one": [_Linear(2.0)]}
    per_seed, rows, rollouts = score_seeds(members, _data(), np.array([2]), **kw)
    assert [r["seed"] for r in per_seed] == [0, 1, 2, 0]
    by = {r["model"]: r for r in rows}
    # the error grows with the rate's distance from 1: the median seed is rate 2
    np.testing.assert_allclose(by["net"]["err_T1"], per_seed[1]["err_T1"])
    np.testing.assert_allclose(by["net"]["err_T1"], by["one"]["err_T1"])
    assert by["net"]["seeds"] == 3 and by["one"]["seeds"] == 1
    assert rollouts["net"].shape == _data().shape

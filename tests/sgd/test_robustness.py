"""Robustness grids: trials agree with single grids; the analysis of variance is the F test."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from dynml.core.nn import MLP
from dynml.sgd.robustness import (
    batch_order,
    setting_effect,
    spread_over_trials,
    train_grid,
    train_trials,
)


def _f_by_regression(a):
    """F for "no setting effect" by least squares: trial + setting dummies vs trial only."""
    t, s = a.shape
    trial = np.kron(np.eye(t), np.ones((s, 1)))  # rows ordered (trial, setting)
    setting = np.kron(np.ones((t, 1)), np.eye(s))[:, 1:]
    y = a.reshape(-1)

    def rss(x):
        return np.sum((y - x @ np.linalg.lstsq(x, y, rcond=None)[0]) ** 2)

    full, reduced = rss(np.hstack([trial, setting])), rss(trial)
    return ((reduced - full) / (s - 1)) / (full / ((t - 1) * (s - 1))), np.sqrt(full / ((t - 1) * (s - 1)))  # fmt: skip


def test_setting_effect_is_the_two_way_f_test():
    rng = np.random.default_rng(0)
    t, s = 5, 7
    a = rng.normal(size=(t, 1)) + 0.3 * rng.normal(size=(1, s)) + 0.2 * rng.normal(size=(t, s))
    f, p, sd = setting_effect(a, np.zeros((t, s), bool))
    f_ref, sd_ref = _f_by_regression(a)
    assert abs(f - f_ref) < 1e-9 * f_ref and abs(sd - sd_ref) < 1e-12
    assert 0.0 <= p <= 1.0
    # a large trial (block) effect alone is no setting effect; a setting offset is found
    noise = 0.01 * rng.normal(size=(t, s))
    blocks = 10.0 * rng.normal(size=(t, 1)) + noise
    assert setting_effect(blocks, np.zeros((t, s), bool))[1] > 1e-3
    shifted = blocks + 0.1 * (np.arange(s) == 3)
    assert setting_effect(shifted, np.zeros((t, s), bool))[1] < 1e-6
    # a setting with a diverged trial is left out
    div = np.zeros((t, s), bool)
    div[2, 3] = True
    assert setting_effect(shifted, div)[1] > 1e-3
    assert np.isnan(setting_effect(a[:1], np.zeros((1, s), bool))[0])


def test_spread_over_trials_is_the_median_range():
    a = np.array([[0.90, 0.80, 0.5], [0.92, 0.86, 0.9], [0.91, 0.83, 0.7]])
    div = np.array([[False, False, True], [False] * 3, [False] * 3])
    assert abs(spread_over_trials(a, div) - 0.04) < 1e-12  # ranges 0.02, 0.06; third left out


@pytest.mark.slow  # two compiles of a nested scan: ~11 s CPU
def test_train_trials_equals_one_grid_per_trial():
    rng = np.random.default_rng(1)
    x = jnp.asarray(rng.normal(size=(40, 5)), jnp.float32)
    y = jnp.asarray(rng.integers(0, 3, 40))
    keys = [jax.random.key(k) for k in (3, 4)]
    models = [MLP(5, 3, 8, 1, "relu", key=k) for k in keys]
    orders = jnp.stack([batch_order(jax.random.fold_in(k, 1), 40, 10, 2) for k in keys])
    settings = jnp.array([0.01, 0.3])
    make = lambda lr: optax.sgd(lr)  # noqa: E731
    both = train_trials(make, settings, models, (x, y), (x, y), orders, 2)
    assert both.accuracy.shape == (2, 2) and both.epoch_accuracy.shape == (2, 2, 2)
    one = train_grid(make, settings, models[1], (x, y), (x, y), orders[1], 2)
    np.testing.assert_allclose(both.final_loss[1], one.final_loss, rtol=1e-5)
    np.testing.assert_array_equal(both.accuracy[1], one.accuracy)
    assert both.final_loss[0, 1] != both.final_loss[1, 1]  # trials differ

"""Escape-time detection, both fits, and per-member divergence in vmapped ensembles."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from dynml.sequence import (
    DiagonalLinearRNN,
    escape_time,
    fit_escape_times,
    log_spaced_steps,
    longest_plateau,
    stack,
    train_ensemble,
    white_noise_loss,
)
from dynml.systems import memory as M


def _curve(n, plateau_start, plateau_end, level=0.9, final=0.3, drift=0.0):
    """Fast fall to `level`, a plateau (with a relative `drift`), then a drop to `final`."""
    t = np.arange(n, dtype=float)
    early = 2.0 * np.exp(-t / (plateau_start / 5)) + level
    plateau = level * (1 - drift * (t - plateau_start) / (plateau_end - plateau_start))
    late = final + (plateau[plateau_end] - final) * np.exp(-(t - plateau_end) / 20)
    return np.where(t < plateau_start, early, np.where(t < plateau_end, plateau, late))


@pytest.mark.parametrize("end", [300, 1200, 5000])
def test_escape_time_is_the_end_of_the_plateau(end):
    loss = _curve(8000, 100, end, drift=0.03)
    start, stop = longest_plateau(loss, rtol=0.05, min_drop=1.2)
    assert abs(stop - end) <= 3 and start <= 110
    assert abs(escape_time(loss, rtol=0.05, min_drop=1.2) - end) <= 3


def test_escape_time_does_not_depend_on_the_plateau_level():
    """A fixed level would move with the plateau height; the plateau's own end does not."""
    for level in (0.5, 0.9, 2.0):
        assert abs(escape_time(_curve(4000, 100, 2500, level=level, final=0.1 * level)) - 2500) <= 3


def test_log_time_length_keeps_the_first_plateau():
    """A plateau over steps 0-30, a fall, then a slower stretch over 300-1,500 and a second
    fall: counted in steps the later stretch is longer (1,200 > 30), counted in decades of
    log-time the first is (log 31 > log 5)."""
    t = np.arange(3000, dtype=float)
    loss = np.where(t < 30, 0.9, 0.5)
    loss = np.where(t >= 300, 0.45, loss)
    loss = np.where(t >= 1500, 0.1, loss)
    loss = loss + np.where((t >= 30) & (t < 300), 0.3 * np.exp(-(t - 30) / 10), 0.0)
    assert longest_plateau(loss) == (300, 1500)
    assert longest_plateau(loss, log_time=True) == (0, 30)
    assert escape_time(loss, log_time=True) == 30


@pytest.mark.parametrize("end", [40, 2500, 90_000])
def test_escape_time_on_log_spaced_samples(end):
    """The plateau search on ~2,000 log-spaced samples finds the end of a known plateau to
    within the grid's relative spacing (log(n) / points ≈ 0.6 %)."""
    n = 200_000
    loss = _curve(n, 5, end, drift=0.03)
    steps = log_spaced_steps(n, 2000)
    assert steps[0] == 0 and steps[-1] == n - 1 and np.all(np.diff(steps) > 0)
    assert (
        len(steps) < 2400
        and np.max(steps[1:] / steps[:-1] - 1, initial=0, where=steps[:-1] > 200) < 0.01
    )
    t = escape_time(loss[steps], steps=steps, log_time=True)
    assert abs(t - end) <= max(3, 0.01 * end)
    assert np.array_equal(log_spaced_steps(295, 4000), np.arange(295))  # short: every step
    with pytest.raises(ValueError, match="steps must increase"):
        longest_plateau(loss[:10], steps=np.arange(10)[::-1])


def test_later_plateau_without_escape_and_diverged_curves():
    loss = _curve(3000, 100, 3000 - 1)  # never escapes within the run
    assert escape_time(loss) == np.inf
    assert longest_plateau(np.exp(-np.arange(500) / 20)) == (0, 0)  # steady decay, 5 %/step
    bad = _curve(3000, 100, 1000)
    bad[2000] = np.nan
    assert np.isnan(escape_time(bad))


def test_both_fits_and_failed_runs_are_counted():
    x = np.linspace(2, 10, 8)
    times = np.stack([np.exp(1.0 + 0.7 * x)] * 3, axis=1)
    f = fit_escape_times(x, times)
    assert f.exp_slope == pytest.approx(0.7) and f.exp_r2 == pytest.approx(1.0)
    assert f.pow_r2 < f.exp_r2 and f.n_points == 8 and f.n_diverged == 0
    g = fit_escape_times(x, np.stack([x**3] * 3, axis=1))
    assert g.pow_exponent == pytest.approx(3.0) and g.pow_r2 > g.exp_r2
    times[2, 1], times[5, 0] = np.nan, np.inf  # one diverged run, one that never escaped
    h = fit_escape_times(x, times)
    assert (h.n_runs, h.n_diverged, h.n_not_escaped, h.n_points) == (24, 1, 1, 6)


def test_ensemble_member_divergence_is_flagged_and_isolated():
    """One member on a target that blows up GD; the other trains as if alone."""
    dt, n = 0.1, 60
    rho = M.sample_kernel(M.exp_sum([0.5]), n, dt)
    loss = lambda m, target: white_noise_loss(m.sampled_kernel(n)[:, 0, 0], target, dt)
    good = DiagonalLinearRNN([1.0], [0.5], dt)
    huge = DiagonalLinearRNN([1.0], [0.5], dt)
    targets = jnp.stack([jnp.asarray(rho), 1e18 * jnp.asarray(rho)])
    res = train_ensemble(stack([good, huge]), loss, targets, optax.sgd(0.05), 200, chunk=64)
    assert list(res.diverged) == [False, True] and res.diverged_at[1] >= 0
    assert np.all(np.isnan(res.losses[res.diverged_at[1] :, 1]))
    alone = train_ensemble(stack([good]), loss, targets[:1], optax.sgd(0.05), 200)
    np.testing.assert_allclose(res.losses[:, 0], alone.losses[:, 0], rtol=1e-4, atol=1e-9)
    f = fit_escape_times(np.array([1.0, 2.0, 3.0]), np.array([[1.0], [2.0], [np.nan]]))
    assert f.n_diverged == 1 and f.n_points == 2


def test_gd_on_a_delayed_bump_has_a_plateau_that_grows_with_the_delay():
    """The curse of memory in optimisation, in miniature (two delays, one seed each)."""
    dt = 0.1
    times = []
    for delay in (3.0, 4.5):
        n = int((delay + 3.5) / dt)
        kernel = M.kernel_sum(M.exp_sum([1.0]), M.delayed(M.bump(0.5), delay))
        rho = jnp.asarray(M.sample_kernel(kernel, n, dt))[None]
        model = stack([DiagonalLinearRNN([1.0, 1.01], [1.0, 0.1], dt)])
        loss = lambda m, r, n=n: white_noise_loss(m.sampled_kernel(n)[:, 0, 0], r, dt)
        res = train_ensemble(model, loss, rho, optax.sgd(0.02), 3000)
        times.append(escape_time(res.losses[:, 0], rtol=0.05, min_drop=1.2))
    assert np.all(np.isfinite(times)) and times[1] > 2 * times[0]


def test_diagonal_rnn_output_is_the_convolution_with_its_kernel():
    dt = 0.1
    model = DiagonalLinearRNN([0.3, 2.0], [1.0, -0.5], dt)
    x = jax.random.normal(jax.random.PRNGKey(0), (40, 1))
    rho = np.asarray(model.sampled_kernel(40)[:, 0, 0])
    expected = M.causal_convolution(x[:, 0], rho, dt)
    np.testing.assert_allclose(model(x)[:, 0], expected, atol=1e-5)

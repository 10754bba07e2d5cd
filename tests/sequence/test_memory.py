"""Targets, white-noise loss, tensor-train spectra and plateau detection."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from dynml.sequence import (
    LinearRNN,
    exp_sum_rnn,
    fit_kernels,
    fit_log_line,
    hitting_time,
    longest_plateau,
    model_kernel,
    stack,
    tt_ranks,
    tt_singular_values,
    white_noise_loss,
)
from dynml.systems import memory as M


def test_target_generator_is_a_direct_convolution():
    dt, n_t = 0.1, 50
    rho = M.sample_kernel(M.kernel_sum(M.exp_sum([1.0, 0.3]), M.airy_kernel(2.0)), 30, dt)
    x, y = M.linear_functional_data(jax.random.PRNGKey(0), rho, 3, n_t, dt)
    x = np.asarray(x)
    direct = np.array(
        [
            [
                dt * sum(rho[s] * x[i, k - s, 0] for s in range(min(k + 1, len(rho))))
                for k in range(n_t)
            ]
            for i in range(3)
        ]
    )
    np.testing.assert_allclose(y[..., 0], direct, atol=1e-5)


def test_white_noise_loss_is_the_expected_squared_error():
    """E|ŷ_k - y_k|² = dt² Σ_s (ρ̂_s - ρ_s)² for x ~ N(0, 1) once k ≥ kernel length."""
    dt, n_t = 0.2, 40
    rho = M.sample_kernel(M.exp_sum([1.0]), n_t, dt)
    model = LinearRNN(2, dt=dt, key=jax.random.PRNGKey(1))
    x, y = M.linear_functional_data(jax.random.PRNGKey(2), rho, 4000, n_t, dt)
    y_hat = jax.vmap(model)(x)
    mse = float(jnp.mean((y_hat[:, -1] - y[:, -1]) ** 2))
    predicted = dt * float(white_noise_loss(model_kernel(model, n_t, dt), rho, dt))
    assert abs(mse - predicted) < 4 * predicted * np.sqrt(2 / 4000) + 1e-7


def test_kernels_have_their_formulas():
    t = np.array([0.0, 1.0, 3.0])
    np.testing.assert_allclose(M.power_law(1.0)(t), (1 + t) ** -2.0)
    np.testing.assert_allclose(M.delayed(M.bump(1.0), 1.0)(t), np.exp(-0.5 * (t - 1) ** 2))
    np.testing.assert_allclose(M.indicator(0.5, 2.0)(t), [0, 1, 0])
    # Ai solves y'' = t y: check by central differences
    h, s = 1e-3, 0.7
    ai = M.airy_kernel(0.0)
    assert abs((ai(s + h) - 2 * ai(s) + ai(s - h)) / h**2 - s * ai(s)) < 1e-5
    with pytest.raises(ValueError):
        M.power_law(-1.0)


def test_pure_delay_has_one_nonzero_tt_singular_value_per_unfolding():
    K = 6
    for delay in (0, 5, 37, 63):
        rho = np.zeros(2**K)
        rho[delay] = 1.0
        svs = tt_singular_values(rho)
        assert len(svs) == K - 1
        for s in svs:
            assert s[0] == pytest.approx(1.0) and np.all(s[1:] < 1e-12)


def test_tt_ranks_of_exponential_are_one_and_of_noise_are_full():
    t = np.arange(64) * 0.1
    assert tt_ranks(np.exp(-0.7 * t)) == [1] * 5  # e^{-λ(a+b)} = e^{-λa} e^{-λb}
    noise = np.random.default_rng(0).normal(size=64)
    assert tt_ranks(noise) == [2, 4, 8, 4, 2]
    with pytest.raises(ValueError, match="2\\^K"):
        tt_singular_values(np.ones(10))


def test_exp_sum_init_recovers_representable_kernel():
    dt, n = 0.1, 128
    rho = M.sample_kernel(M.exp_sum([1.0]), n, dt)
    model = exp_sum_rnn(rho, dt, 1, key=jax.random.PRNGKey(0))
    rates = [np.sqrt(1 / (n * dt) * 2 / dt)]  # the geometric centre
    exact = (
        np.exp(-rates[0] * np.arange(n) * dt)
        @ rho
        / np.sum(np.exp(-2 * rates[0] * np.arange(n) * dt))
    )
    np.testing.assert_allclose(model_kernel(model, n, dt)[0], exact, rtol=1e-4)


def test_ensemble_fit_equals_separate_gradient_descent():
    """Member i of the vmapped ensemble follows exactly the run of plain GD on target i."""
    dt, n = 0.1, 32
    targets = np.stack([M.sample_kernel(M.exp_sum([r]), n, dt) for r in (0.5, 2.0)])
    members = [LinearRNN(3, dt=dt, key=jax.random.PRNGKey(i)) for i in range(2)]
    both = fit_kernels(
        stack(members),
        targets,
        dt,
        steps=5,
        key=jax.random.PRNGKey(0),
        optimizer=optax.sgd(0.1),
        log_every=5,
    )
    alone = fit_kernels(
        stack(members[1:]),
        targets[1:],
        dt,
        steps=5,
        key=jax.random.PRNGKey(0),
        optimizer=optax.sgd(0.1),
        log_every=5,
    )
    np.testing.assert_allclose(
        np.array(both.history["aux"])[:, 1], np.array(alone.history["aux"])[:, 0], rtol=1e-5
    )


def test_plateau_detection_and_log_line_fit():
    t = np.arange(400)
    loss = np.where(t < 50, 1.0 - 0.012 * t, 0.4) * np.where(t > 300, np.exp(-(t - 300) / 10), 1.0)
    start, end = longest_plateau(loss, rtol=0.1, min_drop=2.0)
    assert 40 <= start <= 60 and 295 <= end <= 310
    assert hitting_time(loss, 0.2) > 300 and hitting_time(loss, 1e-9) == float("inf")
    x = np.linspace(0.1, 1, 8)
    slope, intercept, r2 = fit_log_line(x, np.exp(2.0 + 3.0 * x))
    assert (
        slope == pytest.approx(3.0) and intercept == pytest.approx(2.0) and r2 == pytest.approx(1.0)
    )
    assert longest_plateau(np.exp(-t / 20)) == (0, 0)  # steady decay (5 %/step): no plateau

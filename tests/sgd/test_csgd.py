"""cSGD / cMSGD: the feedback is the optimal control of the SME moment equation; estimators."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from dynml.sgd import cmsgd, csgd, csgd_feedback, quadratic_model

A, S, ETA = 2.0, 1.0, 0.1  # curvature, noise scale of γ, base learning rate
SIGMA = (A * S) ** 2  # gradient-noise variance of f_γ(x) = ½ a (x − γ)², γ ~ N(0, s²)


def _moment_ode(u_of, m0, t_end, n):
    """Euler for `ṁ = −2 a u m + ½ a η Σ u²` with `u = u_of(k, m)`."""
    dt = t_end / n

    def step(m, k):
        u = u_of(k, m)
        return m + dt * (-2 * A * u * m + 0.5 * A * ETA * SIGMA * u**2), u

    return jax.lax.scan(step, m0, jnp.arange(n))


def test_feedback_is_the_optimal_open_loop_control():
    """Minimising m(T) over all open-loop u(t) ∈ [0, 1] (Adam on 40 pieces) finds the same
    final loss and schedule as the closed-loop feedback u* = min(1, 2m / (ηΣ))."""
    m0, t_end, n = 2.0, 6.0, 600
    m_fb, u_fb = _moment_ode(lambda k, m: csgd_feedback(A, SIGMA, m, ETA), m0, t_end, n)

    def final(theta):
        u = jnp.repeat(jax.nn.sigmoid(theta), n // theta.shape[0])
        return _moment_ode(lambda k, m: u[k], m0, t_end, n)[0]

    theta = jnp.zeros(40)
    opt = optax.adam(0.1)
    state = opt.init(theta)

    @jax.jit
    def step(theta, state):
        g = jax.grad(final)(theta)
        upd, state = opt.update(g, state)
        return optax.apply_updates(theta, upd), state

    for _ in range(1500):
        theta, state = step(theta, state)
    assert float(m_fb) <= float(final(theta)) * 1.001  # feedback is at least as good
    assert float(final(theta)) <= float(m_fb) * 1.02  # and the optimum agrees with it
    u_open = np.repeat(np.asarray(jax.nn.sigmoid(theta)), n // 40)
    late = slice(n // 2, n)
    np.testing.assert_allclose(u_open[late], np.asarray(u_fb)[late], rtol=0.15)
    assert np.asarray(u_fb)[0] == 1.0 and np.asarray(u_fb)[-1] < 0.5


def test_feedback_closed_form():
    m = jnp.array([10.0, 0.01, 0.01, 0.01])
    a = jnp.array([1.0, 1.0, -1.0, 1.0])
    sigma = jnp.array([1.0, 1.0, 1.0, 0.0])
    u = csgd_feedback(a, sigma, m, 0.5)
    np.testing.assert_allclose(u, [1.0, 2 * 0.01 / 0.5, 1.0, 1.0])


def _noisy_quadratic_run(opt, steps, x0=5.0, seed=0):
    x = jnp.array([x0])
    state = opt.init(x)

    def step(carry, k):
        x, state = carry
        gamma = S * jax.random.normal(jax.random.fold_in(jax.random.key(seed), k), (1,))
        upd, state = opt.update(A * (x - gamma), state, x)
        return (x + upd, state), (x[0], state)

    (_, state), (xs, states) = jax.lax.scan(step, (x, state), jnp.arange(steps))
    return xs, states


def test_csgd_estimates_curvature_and_anneals_with_the_mean_rule():
    xs, states = _noisy_quadratic_run(csgd(ETA, m_rule="mean"), 1500)
    a, sigma, _ = quadratic_model(states.g_mean, states.g_var, states.x_var, states.gx_cov)
    # while x still moves, the EMA regression a = Cov(g, x) / Var(x) is resolved (EMA lag
    # biases it by ~10%); once x has settled, Var(g) estimates Σ = a² s²
    np.testing.assert_allclose(np.median(np.asarray(a[5:400, 0])), A, rtol=0.2)
    np.testing.assert_allclose(np.median(np.asarray(sigma[300:, 0])), SIGMA, rtol=0.15)
    u = np.asarray(states.control[:, 0])
    assert u[:20].min() == 1.0  # full rate far from the minimum
    assert u[-200:].mean() < 0.2  # annealed near it
    # annealing lowers the stationary loss below that of constant-rate SGD (≈ ½ a η Σ / (2a))
    plain, _ = _noisy_quadratic_run(optax.sgd(ETA), 1500)
    assert np.mean(np.asarray(xs[-300:]) ** 2) < 0.5 * np.mean(np.asarray(plain[-300:]) ** 2)


def test_m_rule_closed_form():
    """`m = ½(ḡ² + Var g)/a` (paper) and `½ḡ²/a` (mean), `a = Cov(g, x)/Var(x)`, `Σ = Var g`."""
    g_mean, g_var, x_var, gx_cov = (jnp.array(v) for v in (3.0, 4.0, 2.0, 1.0))
    a, sigma, m = quadratic_model(g_mean, g_var, x_var, gx_cov)
    np.testing.assert_allclose([a, sigma, m], [0.5, 4.0, 0.5 * (9.0 + 4.0) / 0.5])
    _, _, m_mean = quadratic_model(g_mean, g_var, x_var, gx_cov, m_rule="mean")
    np.testing.assert_allclose(m_mean, 0.5 * 9.0 / 0.5)
    with pytest.raises(ValueError, match="m_rule"):
        quadratic_model(g_mean, g_var, x_var, gx_cov, m_rule="other")


def test_paper_rule_keeps_full_rate_when_eta_a_below_one():
    """Paper rule: `2m/(ηΣ) = (ḡ² + Var g)/(ηa Var g) ≥ 1/(ηa)`, so at ηa = 0.2 u stays ≈ 1."""
    _, states = _noisy_quadratic_run(csgd(ETA), 1500)
    assert np.asarray(states.control[:, 0]).mean() > 0.97


def test_paper_rule_anneals_to_the_newton_rate_when_eta_a_above_one():
    """At ηa = 1.6 the paper rule drives ηu to ≈ 1/a (u ≈ 1/(ηa) · (1 + ḡ²/Var g)), which
    lowers the stationary variance of x from ηΣ/(a(2 − ηa)) (SGD) to about Σ/a²."""
    eta = 0.8
    xs, states = _noisy_quadratic_run(csgd(eta), 3000)
    u_late = np.asarray(states.control[-1000:, 0]).mean()
    assert 1.0 / (eta * A) <= u_late * 1.05 and u_late < 1.25 / (eta * A)
    plain, _ = _noisy_quadratic_run(optax.sgd(eta), 3000)
    assert np.mean(np.asarray(xs[-1000:]) ** 2) < 0.5 * np.mean(np.asarray(plain[-1000:]) ** 2)


def test_cmsgd_momentum_follows_the_curvature_factor_with_the_paper_rule():
    """At small η the paper rule makes `1 − ηΣ/(4m) ≥ 1 − ηa/2` inactive, so μ tends to
    `1 − 2√(ηa)` (0.6 here); the mean rule drives `1 − ηaVar g/(2ḡ²)` below 0 and μ to 0."""
    eta = 0.02
    _, (states, _) = _noisy_quadratic_run(cmsgd(eta), 3000)
    mu_late = np.asarray(states.control[-1000:, 0]).mean()
    assert abs(mu_late - (1.0 - 2.0 * np.sqrt(eta * A))) < 0.08
    _, (states, _) = _noisy_quadratic_run(cmsgd(eta, m_rule="mean"), 3000)
    assert np.asarray(states.control[-1000:, 0]).mean() < 0.3


def test_learning_rate_schedules():
    """A schedule `k ↦ η_k` sets the step `−η_k u g` (cSGD) and `v ← μv − η_k g` (cMSGD);
    a constant schedule reproduces the constant rate exactly."""
    schedule = optax.exponential_decay(0.5, transition_steps=10, decay_rate=0.5)
    x = jnp.array([2.0, -1.0])
    for make in (csgd, cmsgd):
        opt = make(schedule)
        state = opt.init(x)
        step = jax.jit(opt.update)
        velocity = jnp.zeros_like(x)
        for k in range(30):
            g = jnp.array([1.0 + 0.1 * k, -0.5]) * x
            upd, state = step(g, state, x)
            control = (state[0] if make is cmsgd else state).control
            if make is csgd:
                expected = -schedule(k) * control * g
            else:
                expected = velocity = control * velocity - schedule(k) * g
            np.testing.assert_allclose(upd, expected, rtol=1e-5)
            x = x + upd
    a, _ = _noisy_quadratic_run(csgd(lambda k: 0.8), 200)
    b, _ = _noisy_quadratic_run(csgd(0.8), 200)
    np.testing.assert_allclose(a, b, rtol=1e-6)


def test_cmsgd_on_an_equinox_model_converges():
    """cMSGD is an optax transform usable on an equinox model (a linear regression here)."""
    key = jax.random.key(1)
    x = jax.random.normal(key, (64, 3))
    y = x @ jnp.array([1.0, -2.0, 0.5])
    model = eqx.nn.Linear(3, "scalar", key=jax.random.key(2))
    opt = cmsgd(0.05)
    params, static = eqx.partition(model, eqx.is_inexact_array)
    state = opt.init(params)

    def loss(p):
        m = eqx.combine(p, static)
        return jnp.mean((jax.vmap(m)(x) - y) ** 2)

    @jax.jit
    def step(params, state):
        g = jax.grad(loss)(params)
        upd, state = opt.update(g, state, params)
        return eqx.apply_updates(params, upd), state

    l0 = loss(params)
    for _ in range(300):
        params, state = step(params, state)
    assert loss(params) < 1e-3 * l0


def test_bad_input():
    with pytest.raises(ValueError, match="learning_rate"):
        csgd(0.0)
    with pytest.raises(ValueError, match="m_rule"):
        csgd(0.1, m_rule="median")
    opt = csgd(0.1)
    with pytest.raises(ValueError, match="params"):
        opt.update(jnp.ones(2), opt.init(jnp.ones(2)))


def test_last_epochs_fluctuation_is_the_median_range_over_kept_settings():
    from dynml.sgd.robustness import last_epochs_fluctuation

    acc = np.array([[0.1, 0.90, 0.92, 0.91], [0.2, 0.80, 0.86, 0.83], [0.3, 0.5, 0.5, 0.9]])
    # ranges over the last 3 epochs: 0.02, 0.06, (0.4, diverged: left out) -> median 0.04
    got = last_epochs_fluctuation(acc, np.array([False, False, True]), 3)
    assert abs(got - 0.04) < 1e-12
    assert np.isnan(last_epochs_fluctuation(acc, np.array([True] * 3), 3))

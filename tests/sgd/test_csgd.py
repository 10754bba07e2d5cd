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


def test_csgd_estimates_curvature_and_anneals():
    xs, states = _noisy_quadratic_run(csgd(ETA), 1500)
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
    opt = csgd(0.1)
    with pytest.raises(ValueError, match="params"):
        opt.update(jnp.ones(2), opt.init(jnp.ones(2)))

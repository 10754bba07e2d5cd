"""Mean-field LQ: Riccati (HJB), PMP/MSA and gradient solutions agree; the sampling gap."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dynml.control import hjb


@pytest.fixture(scope="module")
def problem():
    prob = hjb.random_problem(jax.random.key(0))
    return prob, prob.sample(jax.random.key(1), 128)


def test_population_cost_formula_matches_simulation(problem):
    prob, x0 = problem
    theta = jax.random.normal(jax.random.key(2), (prob.horizon, 2))
    cov = jnp.cov(x0.T, bias=True)
    exact = hjb.population_cost(prob, theta, x0.mean(axis=0), cov)
    assert jnp.allclose(hjb.empirical_cost(prob, theta, x0), exact, rtol=1e-5)


def test_riccati_control_is_a_stationary_point(problem):
    prob, x0 = problem
    theta = hjb.riccati_control(prob, x0.mean(axis=0))
    grad = jax.grad(hjb.empirical_cost, argnums=1)(prob, theta, x0)
    assert jnp.abs(grad).max() < 1e-3 * (1 + hjb.empirical_cost(prob, theta, x0))


def test_riccati_msa_and_gradient_agree(problem):
    prob, x0 = problem
    riccati = hjb.riccati_control(prob, x0.mean(axis=0))
    msa, _ = hjb.msa_control(prob, x0, iterations=200, rho=20.0)
    grad, _ = hjb.gradient_control(prob, x0, steps=1500)
    assert jnp.abs(msa - riccati).max() < 2e-3 * (1 + jnp.abs(riccati).max())
    assert jnp.abs(grad - riccati).max() < 2e-3


@pytest.mark.slow
def test_sampling_gap_decays_like_inverse_sqrt_n(problem):
    prob, _ = problem
    ns = np.array([16, 64, 256, 1024, 4096])
    gaps = [hjb.sampling_gaps(prob, int(n), 200, jax.random.key(int(n)))["theta_gap"] for n in ns]
    slope = np.polyfit(np.log(ns), np.log(gaps), 1)[0]
    assert abs(slope + 0.5) < 0.1


def test_random_problem_rejects_bad_sizes():
    with pytest.raises(ValueError, match="positive"):
        hjb.random_problem(jax.random.key(0), horizon=0)


def test_lqr_law_is_stationary_for_the_sampled_feedback_problem(problem):
    """With `u = θ_t + K_t x` acting on the spread, `(θ, K) = (0, K_Riccati)` is a stationary
    point of the empirical cost for any samples (the per-sample LQR law is optimal for each)."""
    prob, x0 = problem
    gains = hjb.riccati_gains(prob)
    zero = jnp.zeros((prob.horizon, prob.B.shape[1]))
    g_th, g_k = jax.grad(hjb.feedback_cost, argnums=(1, 2))(prob, zero, gains, x0)
    scale = hjb.feedback_cost(prob, zero, gains, x0)
    assert jnp.abs(g_th).max() < 1e-4 * scale and jnp.abs(g_k).max() < 1e-4 * scale
    # a different law costs more
    assert hjb.feedback_cost(prob, zero, 0.9 * gains, x0) > scale


def test_sampling_gaps_equal_per_draw_formulas_and_a_second_n_compiles_nothing(problem):
    """Each statistic against its formula on the draws `prob.sample(k, N)` (`‖θ̂ − θ*‖²` with
    `θ̂` the Riccati control of the draw's mean, `J(θ̂) − J(θ*)`, `abs(Ĵ_N(θ̂) − J(θ*))`), though
    `sampling_gaps` draws a larger block and uses its first `N` rows; a second `N` reuses all
    three compiled programs."""
    from dynml.core.compile import CompileStats

    prob, _ = problem
    theta_star = hjb.riccati_control(prob)
    j_star = hjb.population_cost(prob, theta_star)
    hjb.sampling_gaps(prob, 8, 3, jax.random.key(5))
    with CompileStats() as stats:
        got = hjb.sampling_gaps(prob, 12, 3, jax.random.key(6))
    assert stats.compilations == 0, stats.names
    sq, excess, value = [], [], []
    for k in jax.random.split(jax.random.key(6), 3):
        x0 = prob.sample(k, 12)
        theta = hjb.riccati_control(prob, x0.mean(axis=0))
        sq.append(float(jnp.sum((theta - theta_star) ** 2)))
        excess.append(float(hjb.population_cost(prob, theta) - j_star))
        value.append(abs(float(hjb.empirical_cost(prob, theta, x0) - j_star)))
    assert got["N"] == 12
    np.testing.assert_allclose(got["theta_gap"], np.sqrt(np.mean(sq)), rtol=1e-5)
    np.testing.assert_allclose(got["excess_cost"], np.mean(excess), rtol=1e-4)
    np.testing.assert_allclose(got["value_gap"], np.mean(value), rtol=1e-4)

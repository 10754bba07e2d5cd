"""Euler–Maruyama likelihood and the fluctuation–dissipation noise model."""

import functools

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from dynml.identify import (
    StochasticOnsagerNet,
    as_pairs,
    em_log_likelihood,
    sde_nll,
    select_member,
    transition_mean,
)


def test_em_likelihood_is_maximised_near_the_true_sigma_for_ou():
    """OU `dX = -theta X dt + sigma dW`, exact transitions; the EM likelihood peaks at sigma."""
    theta, sigma, dt, n = 1.0, 0.5, 1e-2, 20_000
    k1, k2 = jax.random.split(jax.random.PRNGKey(0))
    x0 = jax.random.normal(k1, (n, 1))
    var = sigma**2 * (1 - np.exp(-2 * theta * dt)) / (2 * theta)
    x1 = x0 * np.exp(-theta * dt) + np.sqrt(var) * jax.random.normal(k2, (n, 1))
    grid = np.linspace(0.3, 0.7, 41)
    ll = [
        float(
            em_log_likelihood(
                lambda x: -theta * x, lambda x, s=s: s**2 * jnp.eye(1), x0, x1, jnp.full(n, dt)
            )
        )
        for s in grid
    ]
    assert abs(grid[int(np.argmax(ll))] - sigma) <= 0.02


def test_fluctuation_dissipation_covariance():
    model = StochasticOnsagerNet(3, 8, eps=0.2, key=jax.random.PRNGKey(1))
    for h in jax.random.normal(jax.random.PRNGKey(2), (4, 3)):
        cov = model.covariance(h)
        expected = 2 * 0.2 * (model.onsager.M(h) + model.onsager.alpha * jnp.eye(3))
        np.testing.assert_allclose(cov, expected, rtol=1e-5, atol=1e-7)
        s = model.diffusion(h)
        np.testing.assert_allclose(s @ s.T, cov, rtol=1e-3, atol=1e-5)
        assert np.linalg.eigvalsh(np.asarray(cov)).min() > 0


def _ou_drift_estimate(mean: str) -> float:
    """Grid MLE of theta in `f = -theta x` from exact OU transitions at `dt = 0.1`."""
    theta, sigma, dt, n = 1.0, 0.1, 0.1, 20_000
    k1, k2 = jax.random.split(jax.random.PRNGKey(3))
    x0 = jax.random.normal(k1, (n, 1))
    var = sigma**2 * (1 - np.exp(-2 * theta * dt)) / (2 * theta)
    x1 = x0 * np.exp(-theta * dt) + np.sqrt(var) * jax.random.normal(k2, (n, 1))
    grid = np.linspace(0.9, 1.1, 101)
    cov = lambda x: var / dt * jnp.eye(1)  # noqa: E731
    ll = jax.jit(jax.vmap(
        lambda t: em_log_likelihood(lambda x: -t * x, cov, x0, x1, jnp.full(n, dt), mean=mean)
    ))(jnp.asarray(grid))  # fmt: skip
    return float(grid[int(np.argmax(ll))])


def test_heun_mean_removes_the_euler_drift_bias():
    """Euler's MLE is `(1 - e^{-theta dt}) / dt = 0.952`; Heun's solves
    `1 - theta dt + (theta dt)^2 / 2 = e^{-theta dt}`, 1.0017 (bias O(dt^2))."""
    assert abs(_ou_drift_estimate("euler") - 0.952) <= 0.006
    assert abs(_ou_drift_estimate("heun") - 1.0) <= 0.006


def test_transition_mean_heun_is_second_order_for_linear_drift():
    x, dt = jnp.array([2.0, -1.0]), 0.1
    heun = transition_mean(lambda y: -y, x, dt, "heun")
    np.testing.assert_allclose(heun, x * (1 - dt + dt**2 / 2), rtol=1e-6)
    np.testing.assert_allclose(transition_mean(lambda y: -y, x, dt), x * (1 - dt), rtol=1e-6)


class _OU(eqx.Module):
    """`dX = -theta X dt + s dW` as a (drift, covariance) model with array parameters."""

    theta: jax.Array
    s: jax.Array

    def drift(self, x):
        return -self.theta * x

    def covariance(self, x):
        return self.s**2 * jnp.eye(x.size)


def test_select_member_picks_the_lowest_validation_nll():
    """A stacked ensemble of OU models, one of them the true law; selection by held-out
    Gaussian NLL must return that member, its index and every member's NLL (ascending
    order of the others is scrambled, so neither first, last nor the training order wins)."""
    theta, sigma, dt, n = 1.0, 0.5, 1e-2, 20_000
    k1, k2 = jax.random.split(jax.random.PRNGKey(4))
    x0 = 2 * jax.random.normal(k1, (n, 1))
    var = sigma**2 * (1 - np.exp(-2 * theta * dt)) / (2 * theta)
    x1 = x0 * np.exp(-theta * dt) + np.sqrt(var) * jax.random.normal(k2, (n, 1))
    thetas, sigmas = jnp.array([3.0, 0.3, 1.0, 1.6]), jnp.array([0.5, 0.5, 0.5, 0.45])
    models = _OU(thetas, sigmas)
    pairs = as_pairs(x0, x1, dt)
    best, i, nlls = select_member(models, pairs, functools.partial(sde_nll, mean="euler"))
    assert i == 2 and float(best.theta) == 1.0
    assert nlls.shape == (4,) and np.argmin(nlls) == 2
    np.testing.assert_allclose(nlls[1], float(sde_nll(_OU(thetas[1], sigmas[1]), pairs)), rtol=1e-5)


def test_identity_mobility_init_starts_isotropic():
    """`mobility_init="identity"`: `M(h) + alpha I` close to `(1 + alpha) I` and `W` close to 0
    at the start (the small-gain trunk perturbs the head's bias by O(gain))."""
    for fd in (True, False):
        model = StochasticOnsagerNet(
            2, 16, fluctuation_dissipation=fd, mobility_init="identity", key=jax.random.PRNGKey(5)
        )
        for h in jnp.array([[0.0, 0.0], [1.0, -0.5], [-1.5, 1.0]]):
            np.testing.assert_allclose(model.onsager.M(h), jnp.eye(2), atol=0.15)
            np.testing.assert_allclose(model.onsager.W(h), jnp.zeros((2, 2)), atol=0.15)
    default = StochasticOnsagerNet(2, 16, key=jax.random.PRNGKey(5))
    assert np.abs(np.asarray(default.onsager.matrix_head.bias) - np.eye(2).ravel()).max() > 0.1

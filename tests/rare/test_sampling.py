"""Langevin samplers against the Boltzmann density; reweighting identities."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.integrate import quad

from dynml.rare import (
    langevin_chains,
    metadynamics_bias,
    metadynamics_weights,
    temperature_weights,
)


def _well(x):
    return (x[0] ** 2 - 1) ** 2


def _boltzmann_histogram(beta, edges):
    z = quad(lambda s: np.exp(-beta * (s**2 - 1) ** 2), -4, 4)[0]
    mass = [
        quad(lambda s: np.exp(-beta * (s**2 - 1) ** 2), a, b)[0] / z
        for a, b in zip(edges[:-1], edges[1:], strict=True)
    ]
    return np.array(mass)


@pytest.mark.parametrize(("metropolis", "dt", "tol"), [(False, 1e-3, 0.015), (True, 2e-3, 0.01)])
def test_histogram_matches_boltzmann(metropolis, dt, tol):
    """Euler–Maruyama carries an O(dt) bias (looser tolerance); MALA is exact."""
    beta = 2.0
    x0 = jnp.linspace(-1.5, 1.5, 400)[:, None]
    s = langevin_chains(
        _well,
        x0,
        beta=beta,
        dt=dt,
        n_samples=200,
        thin=20,
        burn_in=1000,
        key=jax.random.PRNGKey(0),
        metropolis=metropolis,
    )
    edges = np.linspace(-2, 2, 21)
    hist = np.histogram(np.asarray(s).ravel(), bins=edges)[0] / s.size
    assert np.abs(hist - _boltzmann_histogram(beta, edges)).max() < tol


def test_raised_temperature_reweighting_recovers_boltzmann():
    beta, beta_hot = 3.0, 1.0
    x0 = jnp.linspace(-1.5, 1.5, 400)[:, None]
    s = langevin_chains(
        _well,
        x0,
        beta=beta_hot,
        dt=2e-3,
        n_samples=200,
        thin=20,
        burn_in=500,
        key=jax.random.PRNGKey(1),
        metropolis=True,
    ).reshape(-1, 1)
    w = temperature_weights(jax.vmap(_well)(s), beta=beta, beta_sample=beta_hot)
    assert np.isclose(float(w.mean()), 1.0, rtol=1e-4)
    edges = np.linspace(-2, 2, 21)
    hist = np.histogram(np.asarray(s).ravel(), bins=edges, weights=np.asarray(w))[0] / s.shape[0]
    assert np.abs(hist - _boltzmann_histogram(beta, edges)).max() < 0.015


def test_equal_temperatures_give_unit_weights():
    v = jnp.linspace(-3.0, 5.0, 7)
    assert np.allclose(temperature_weights(v, beta=0.5, beta_sample=0.5), 1.0)


def test_metadynamics_reweighting_recovers_boltzmann():
    beta = 1.0  # low barrier: chains in V + V_b mix between the wells within the run
    pot = lambda x: _well(x) + 0.5 * x[1] ** 2
    x0 = jnp.array([[-1.0, 0.0], [1.0, 0.0], [-1.0, 0.0], [1.0, 0.0]])
    bias, _ = metadynamics_bias(
        pot,
        x0,
        beta=beta,
        dt=2e-3,
        n_deposits=20,
        stride=50,
        height=0.02,
        width=0.3,
        key=jax.random.PRNGKey(2),
        n_cv=1,
    )
    assert int(bias.count) == 4 * 20 and float(bias(jnp.array([-1.0, 0.0]))) > 0
    start = jnp.stack([jnp.linspace(-1.5, 1.5, 200), jnp.zeros(200)], -1)
    s = langevin_chains(
        lambda x: pot(x) + bias(x),
        start,
        beta=beta,
        dt=2e-3,
        n_samples=200,
        thin=20,
        burn_in=2000,
        key=jax.random.PRNGKey(3),
        metropolis=True,
    ).reshape(-1, 2)
    w = metadynamics_weights(bias, s, beta=beta)
    edges = np.linspace(-2, 2, 21)
    hist = np.histogram(np.asarray(s[:, 0]), bins=edges, weights=np.asarray(w))[0] / s.shape[0]
    assert np.abs(hist - _boltzmann_histogram(beta, edges)).max() < 0.01


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="beta"):
        langevin_chains(
            _well, jnp.zeros((2, 1)), beta=0.0, dt=1e-3, n_samples=2, key=jax.random.PRNGKey(0)
        )

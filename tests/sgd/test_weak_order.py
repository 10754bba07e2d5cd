"""Weak-order helpers: the slope fit and its interval; the exactly coupled label-noise net."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dynml.sgd.sme import coupled_ensembles
from dynml.sgd.weak_order import label_noise_net, loglog_fit


def test_loglog_fit_slope_and_interval():
    etas = 2.0 ** -np.arange(3, 7)
    errors = 0.3 * etas**2
    slope, half = loglog_fit(etas, errors)
    assert slope == pytest.approx(2.0) and half == 0.0
    # two points, relative errors r: Var slope = 2 r² / (Δ log η)²
    r = 0.05
    slope, half = loglog_fit(etas[:2], errors[:2], r * errors[:2])
    assert slope == pytest.approx(2.0)
    assert half == pytest.approx(1.96 * np.sqrt(2) * r / np.log(2.0))
    # a noisier point counts less: the fit follows the precise points
    bumped = errors.copy()
    bumped[0] *= 1.5
    slope, _ = loglog_fit(etas, bumped, np.array([1.0, 0.01, 0.01, 0.01]) * bumped)
    assert slope == pytest.approx(2.0, abs=0.01)


def test_label_noise_net_covariance_and_exact_coupling():
    """Σ from the 2n quadrature points equals B Bᵀ of the analytic factor, and with one SME
    step per SGD step (Euler–Maruyama) the coupled SGD and SME paths coincide."""
    key = jax.random.key(0)
    problem, diffusion_of_eta, gamma = label_noise_net(key, n_data=6, noise=0.7)
    theta = 0.5 * jax.random.normal(jax.random.key(1), (8,))
    b = diffusion_of_eta(1.0)(0.0, theta, None)
    np.testing.assert_allclose(problem.covariance(theta), b @ b.T, rtol=1e-4, atol=1e-7)
    # the mean loss from the quadrature is the noise-free loss plus s²/2
    clean = problem.loss(theta, jnp.zeros(6))
    np.testing.assert_allclose(problem.value(theta), clean + 0.5 * 0.7**2, rtol=1e-5)
    eta = 0.125
    sgd, sme = coupled_ensembles(
        problem, gamma, theta, eta, 8, key, 3, substeps=1, solver="euler",
        diffusion=diffusion_of_eta(eta), noise_dim=6,
    )  # fmt: skip
    np.testing.assert_allclose(sgd, sme, atol=1e-5)
    assert float(jnp.max(jnp.abs(sgd[:, -1] - sgd[:, 0]))) > 0.01  # the paths did move

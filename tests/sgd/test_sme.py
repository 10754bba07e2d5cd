"""SME: closed forms on the quadratic, exact weak orders, covariance vs a loop, coupling."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dynml.core.plot import loglog_slope
from dynml.sgd import (
    PerSampleLoss,
    coupled_ensembles,
    psd_sqrt,
    sgd_paths,
    sme_diffusion,
    sme_drift,
    stratonovich_drift,
    weak_error,
)
from dynml.systems.quadratic import (
    REFERENCE_EIGENVALUES,
    REFERENCE_X0,
    double_well_loss,
    gauss_hermite,
    quadratic_loss,
    quadratic_mean_loss,
    quadratic_sgd_moments,
    quadratic_sme_moments,
)

H = jnp.array(REFERENCE_EIGENVALUES)


def _quadratic_problem():
    """γ ~ N(0, I) in 3-D by a tensor Gauss–Hermite rule (exact for the linear gradients)."""
    nodes, w = gauss_hermite(3)
    grid = np.stack(np.meshgrid(nodes, nodes, nodes, indexing="ij"), -1).reshape(-1, 3)
    weights = np.einsum("i,j,k->ijk", w, w, w).ravel()
    return PerSampleLoss(lambda x, g: quadratic_loss(x, g, H), grid, weights)


def test_quadratic_sme_coefficients_are_closed_forms():
    """Drift −Hx (order 1), −(H + η/2 H²)x (order 2); Σ = H², diffusion √η H."""
    with jax.enable_x64(True):
        problem = _quadratic_problem()
        x, eta = jnp.array([0.3, -1.2, 2.0]), 0.1
        h = jnp.array(REFERENCE_EIGENVALUES)
        np.testing.assert_allclose(problem.covariance(x), jnp.diag(h**2), atol=1e-12)
        np.testing.assert_allclose(sme_drift(problem, eta, 1)(0.0, x, None), -h * x, atol=1e-12)
        np.testing.assert_allclose(
            sme_drift(problem, eta, 2)(0.0, x, None), -(h + 0.5 * eta * h**2) * x, atol=1e-12
        )
        np.testing.assert_allclose(
            sme_diffusion(problem, eta)(0.0, x, None), jnp.sqrt(eta) * jnp.diag(h), atol=1e-8
        )


def test_per_sample_covariance_equals_a_loop():
    key = jax.random.key(0)
    data = jax.random.normal(key, (7, 3))
    w = jax.random.uniform(jax.random.key(1), (7,))
    loss = lambda x, d: jnp.sin(x @ d) + (x[0] * d[1]) ** 2  # noqa: E731
    problem = PerSampleLoss(loss, data, w)
    x = jnp.array([0.2, -0.4, 0.9])
    grads = [np.asarray(jax.grad(loss)(x, d)) for d in data]
    p = np.asarray(w) / np.sum(np.asarray(w))
    mean = sum(pi * gi for pi, gi in zip(p, grads, strict=True))
    loop = sum(pi * np.outer(gi - mean, gi - mean) for pi, gi in zip(p, grads, strict=True))
    np.testing.assert_allclose(problem.covariance(x), loop, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(problem.grad(x), mean, rtol=1e-5, atol=1e-6)


def test_psd_sqrt_squares_back_and_clips():
    a = jax.random.normal(jax.random.key(2), (4, 2))
    s = a @ a.T  # rank 2: round-off eigenvalues may be slightly negative
    r = psd_sqrt(s)
    assert jnp.all(jnp.isfinite(r))
    np.testing.assert_allclose(r @ r, s, atol=1e-4)
    np.testing.assert_allclose(r, r.T, atol=1e-6)


def _exact_weak_errors(order, etas, t_end=2.0):
    h, x0 = REFERENCE_EIGENVALUES, REFERENCE_X0
    errors = []
    for eta in etas:
        n = int(round(t_end / eta))
        m, v = quadratic_sgd_moments(h, x0, eta, n)
        ms, vs = quadratic_sme_moments(h, x0, eta, eta * np.arange(n + 1), order)
        errors.append(np.max(np.abs(quadratic_mean_loss(m, v, h) - quadratic_mean_loss(ms, vs, h))))
    return np.array(errors)


@pytest.mark.parametrize("order", [1, 2])
def test_exact_weak_order_on_the_quadratic(order):
    etas = 2.0 ** -np.arange(3, 11)
    slope = loglog_slope(etas, _exact_weak_errors(order, etas))
    assert abs(slope - order) < 0.1


def test_exact_sgd_moments_match_monte_carlo():
    """The closed-form SGD moments agree with simulated SGD (independent check)."""
    problem, eta, n = _quadratic_problem(), 0.25, 8
    normals = jax.random.normal(jax.random.key(3), (20000, n, 3))
    sgd = sgd_paths(problem, normals, jnp.array(REFERENCE_X0), eta)
    m, v = quadratic_sgd_moments(REFERENCE_EIGENVALUES, REFERENCE_X0, eta, n)
    np.testing.assert_allclose(sgd.mean(0), m, atol=0.02)
    np.testing.assert_allclose(sgd.var(0), v, atol=0.02)


def test_stratonovich_correction_1d():
    """For `B(x) = σ(x)`: `b − ½ σ σ'`."""
    sig = lambda t, x, a: jnp.reshape(1.0 + 0.5 * jnp.cos(x[0]), (1, 1))  # noqa: E731
    field = stratonovich_drift(lambda t, x, a: -x, sig)
    x = jnp.array([0.7])
    expected = -0.7 - 0.5 * (1 + 0.5 * np.cos(0.7)) * (-0.5 * np.sin(0.7))
    np.testing.assert_allclose(field(0.0, x, None)[0], expected, rtol=1e-5)


def test_coupled_ensembles_weak_error_shrinks_with_eta():
    """Double well: the coupled SGD–SME weak error is small, resolved, and drops with η."""
    nodes, w = gauss_hermite(8)
    problem = PerSampleLoss(double_well_loss, nodes[:, None], w)
    errs = []
    for eta in (0.25, 0.0625):
        sgd, sme = coupled_ensembles(
            problem,
            lambda xi: xi,
            jnp.array([0.5]),
            eta,
            int(1 / eta),
            jax.random.key(4),
            2000,
            substeps=2,
        )
        err, se = weak_error(lambda x: x[0] ** 2, sgd, sme)
        assert se < 0.3 * err  # the shared samples resolve the error
        errs.append(err)
    assert errs[1] < 0.5 * errs[0]

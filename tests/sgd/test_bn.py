"""BNGD on OLS: scale invariance, convergence where GD diverges."""

import jax
import jax.numpy as jnp
import numpy as np

from dynml.sgd import OLS, bngd, gd, gd_stability_limit, random_ols


def _problem():
    return random_ols(jax.random.key(0), 400, 8, condition=50.0)


def test_bn_loss_is_scale_invariant_and_gradient_orthogonal():
    p = _problem()
    w = jax.random.normal(jax.random.key(1), (8,))
    np.testing.assert_allclose(p.bn_loss(0.7, 3.0 * w), p.bn_loss(0.7, w), rtol=1e-5)
    gw = jax.grad(p.bn_loss, argnums=1)(0.7, w)
    assert abs(float(gw @ w)) < 1e-4 * float(jnp.linalg.norm(gw) * jnp.linalg.norm(w))


def test_optimal_losses_agree():
    """min over (a, w) of the BN loss equals the OLS optimum (at w = H⁻¹g, a = ‖w‖_H)."""
    p = _problem()
    w = jnp.linalg.solve(p.h, p.g)
    a = jnp.sqrt(w @ p.h @ w)
    np.testing.assert_allclose(p.bn_loss(a, w), p.optimal_loss(), rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(p.loss(w), p.optimal_loss(), rtol=1e-3, atol=1e-4)


def test_bngd_converges_where_gd_diverges():
    with jax.enable_x64(True):
        p = random_ols(jax.random.key(0), 400, 8, condition=50.0)
        lam_max = float(jnp.linalg.eigvalsh(p.h).max())
        w0 = jax.random.normal(jax.random.key(1), (8,))
        lr = 10.0 / lam_max  # five times the GD stability limit 2 / λ_max
        gd_loss = gd(p, w0, lr, 200)
        bn_loss, eff = bngd(p, w0, lr, 2000)
        assert not np.isfinite(gd_loss[-1]) or gd_loss[-1] > 1e6 * gd_loss[0]
        assert float(bn_loss[-1]) < 1e-6 * float(bn_loss[0])
        # the effective step has self-tuned below the GD limit
        assert float(eff[-1]) < 2.0 / lam_max


def test_from_data_rejects_bad_shapes():
    import pytest

    with pytest.raises(ValueError, match="shape"):
        OLS.from_data(np.ones((3, 2)), np.ones(4))


def test_gd_stability_limit_is_two_over_lambda_max():
    """Bisection on GD's own runs finds the limit `2/λ_max(H)` within 5 %."""
    with jax.enable_x64(True):
        p = random_ols(jax.random.key(3), 300, 6, condition=30.0)
        lam_max = float(jnp.linalg.eigvalsh(p.h).max())
        w0 = jax.random.normal(jax.random.key(4), (6,))
        limit = gd_stability_limit(p, w0, 500, (0.1 / lam_max, 10.0 / lam_max))
        np.testing.assert_allclose(limit * lam_max, 2.0, rtol=0.05)

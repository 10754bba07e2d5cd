"""PCA and the PCA-ResNet autoencoder: exact PCA algebra, PCA initialisation, isometry."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dynml.identify.onsager import OnsagerNet
from dynml.identify.reduce import (
    PCA,
    PCAResNet,
    isometry_loss,
    relative_reconstruction_error,
    train_jointly,
)


def _data(n=400, dim=12, seed=0):
    """Samples with variances 16, 4, 1, 0.01, ... along a random orthonormal basis."""
    rng = np.random.default_rng(seed)
    basis, _ = np.linalg.qr(rng.normal(size=(dim, dim)))
    std = np.array([4.0, 2.0, 1.0] + [0.1] * (dim - 3))
    coords = rng.normal(size=(n, dim)) * std
    coords -= coords.mean(axis=0)
    coords = coords / coords.std(axis=0) * std  # exact sample variances
    return coords @ basis.T + 3.0, basis, std**2


def test_pca_recovers_the_variances_and_directions():
    x, basis, var = _data()
    pca = PCA.fit(x, 3)
    # sample covariance is diagonal in `basis` only up to sampling; compare the spectra
    expected = np.sort(np.linalg.eigvalsh(np.cov(x.T, bias=True)))[::-1]
    np.testing.assert_allclose(pca.variance, expected[:3], rtol=1e-5)
    np.testing.assert_allclose(
        pca.explained_variance_ratio, (expected / expected.sum())[:10], rtol=1e-4
    )
    np.testing.assert_allclose(pca.components @ pca.components.T, np.eye(3), atol=1e-5)
    full = PCA.fit(x, 12)
    np.testing.assert_allclose(full.decode(full.encode(jnp.asarray(x))), x, atol=1e-4)
    with pytest.raises(ValueError, match="1 <= m"):
        PCA.fit(x, 13)


def test_untrained_autoencoder_is_pca_and_isometry_matches_the_residual_variance():
    x, _, _ = _data()
    x = jnp.asarray(x, jnp.float32)
    pca8, pca2 = PCA.fit(x, 8), PCA.fit(x, 2)
    ae = PCAResNet(pca8, widths=(4, 2), hidden=8, key=jax.random.PRNGKey(0))
    np.testing.assert_allclose(jax.vmap(ae.encode)(x), pca2.encode(x), atol=1e-4)
    recon = jax.vmap(lambda v: ae.decode(ae.encode(v)))(x)
    np.testing.assert_allclose(recon, pca2.decode(pca2.encode(x)), atol=1e-4)
    x1, x2, dt = x[:-1], x[1:], jnp.full(x.shape[0] - 1, 0.5)
    residual = (x1 - x2) - (x1 - x2) @ pca2.components.T @ pca2.components
    expected = jnp.mean(jnp.sum(residual**2, axis=-1)) / 0.25
    np.testing.assert_allclose(isometry_loss(ae.encode, x1, x2, dt), expected, rtol=1e-4)
    full = PCA.fit(x, 12)
    np.testing.assert_allclose(isometry_loss(full.encode, x1, x2, dt), 0.0, atol=1e-3)
    with pytest.raises(ValueError, match="widths"):
        PCAResNet(pca8, widths=(9, 2), key=jax.random.PRNGKey(0))


def test_joint_training_keeps_the_first_layer_frozen_and_lowers_the_loss():
    x, _, _ = _data(n=200)
    rng = np.random.default_rng(1)
    x1 = jnp.asarray(x, jnp.float32)
    x2 = x1 + 0.05 * jnp.asarray(rng.normal(size=x.shape), jnp.float32)
    dt = jnp.full(x.shape[0], 0.1)
    ae = PCAResNet(PCA.fit(x, 6), widths=(3,), hidden=8, key=jax.random.PRNGKey(0))
    field = OnsagerNet(3, 8, key=jax.random.PRNGKey(1))
    result = train_jointly(
        ae, field, (x1, x2, dt), epochs=20, key=jax.random.PRNGKey(2), batch_size=50, progress=False
    )
    assert result.history["loss"][-1] < result.history["loss"][0]
    np.testing.assert_allclose(result.model[0].pca.components, ae.pca.components)


def test_pca_agrees_with_scikit_learn():
    """Both branches (n >= dim: covariance eigh; n < dim: SVD) against sklearn's PCA:
    same components up to sign, variances with the population divisor, same ratios."""
    from sklearn.decomposition import PCA as SkPCA

    rng = np.random.default_rng(0)
    for n, dim in ((400, 12), (8, 30)):
        x = rng.normal(size=(n, dim)) @ rng.normal(size=(dim, dim)) + rng.normal(size=dim)
        m = 5
        ours = PCA.fit(x, m, n_report=m)
        sk = SkPCA(n_components=m, svd_solver="full").fit(x)
        comps = np.asarray(ours.components, np.float64)
        signs = np.sign(np.sum(comps * sk.components_, axis=1))
        np.testing.assert_allclose(comps * signs[:, None], sk.components_, atol=2e-4)
        np.testing.assert_allclose(ours.variance, sk.explained_variance_ * (n - 1) / n, rtol=1e-5)
        np.testing.assert_allclose(
            ours.explained_variance_ratio, sk.explained_variance_ratio_, rtol=1e-5
        )
        np.testing.assert_allclose(ours.mean, sk.mean_, rtol=1e-5, atol=1e-5)


def test_truncated_pca_and_its_reconstruction_error():
    x, _, _ = _data()
    pca = PCA.fit(x, 6)
    var = np.asarray(PCA.fit(x, x.shape[1]).variance, np.float64)  # the full spectrum
    lead = pca.leading(2)
    np.testing.assert_allclose(lead.encode(x), pca.encode(x)[:, :2], rtol=1e-5, atol=1e-5)
    # on its own data: |x - D(E(x))| / |x - mean| = (sum of the discarded variances / total)^1/2
    expected = np.sqrt(var[2:].sum() / var.sum())
    np.testing.assert_allclose(relative_reconstruction_error(lead, x), expected, rtol=1e-4)

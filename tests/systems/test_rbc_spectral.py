"""Sine/cosine transforms of the free-slip box: exact inverses, derivatives, mean weights."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dynml.systems.rbc import Basis, to_grid, to_modes


@pytest.fixture
def basis():
    return Basis(nx=12, nz=8, aspect=2.0)


def test_analysis_inverts_synthesis(basis):
    m = {k: jnp.asarray(v) for k, v in (basis.synthesis() | basis.analysis()).items()}
    c = np.random.default_rng(0).normal(size=(3, basis.nx, basis.nz))
    c_sin = c.copy()
    c_sin[:, 0] = 0.0  # sin(0 x) = 0: the m = 0 sine coefficient does not exist
    back_cos = to_modes(to_grid(c, m["cx"], m["sz"]), m["ax_cos"], m["az_sin"])
    back_sin = to_modes(to_grid(c_sin, m["sx"], m["sz"]), m["ax_sin"], m["az_sin"])
    np.testing.assert_allclose(back_cos, c, atol=1e-4)
    np.testing.assert_allclose(back_sin, c_sin, atol=1e-4)


def test_synthesis_matches_the_analytic_series(basis):
    x, z = np.array([0.1, 0.7, 1.9]), np.array([0.05, 0.5])
    m = basis.synthesis(x, z)
    c = np.zeros((basis.nx, basis.nz))
    c[3, 1] = 2.0  # 2 cos(3 pi x / L) sin(2 pi z)
    expected = 2 * np.outer(np.cos(3 * np.pi * x / basis.aspect), np.sin(2 * np.pi * z))
    np.testing.assert_allclose(to_grid(c, m["cx"], m["sz"]), expected, atol=1e-5)


def test_grid_mean_of_products_equals_the_spectral_weights(basis):
    rng = np.random.default_rng(1)
    mask = basis.dealias_mask()
    f, g = rng.normal(size=(2, basis.nx, basis.nz)) * mask
    m = basis.synthesis()
    with jax.enable_x64(True):
        grid_mean = float(jnp.mean(to_grid(f, m["cx"], m["sz"]) * to_grid(g, m["cx"], m["sz"])))
    spectral = float(np.sum(basis.mean_weights("cos") * f * g))
    np.testing.assert_allclose(grid_mean, spectral, rtol=1e-10)
    with pytest.raises(ValueError, match="x_parity"):
        basis.mean_weights("tan")

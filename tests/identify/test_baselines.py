"""Baselines: SINDy recovers Lorenz '63; the dissipative Hamiltonian net never gains energy."""

import equinox as eqx
import jax
import numpy as np
import pysindy as ps
import pytest

from dynml.identify import DissipativeHamiltonianNet, SINDy, ensemble
from dynml.systems.lorenz import simulate


def _lorenz_pairs(n_traj=80, seed=0):
    x0 = np.random.default_rng(seed).uniform([-25, -25, -5], [25, 25, 30], size=(n_traj, 3))
    tr = simulate(x0, np.arange(0, 0.301, 1e-3))
    idx = np.arange(0, 300, 10)
    return tr.x[:, idx].reshape(-1, 3), tr.x[:, idx + 1].reshape(-1, 3)


def test_sindy_recovers_lorenz_coefficients_from_clean_pairs():
    h1, h2 = _lorenz_pairs()
    model = SINDy.from_pairs(h1, h2, 1e-3)
    exact = np.zeros((3, 10))  # features 1, x0, x1, x2, x0^2, x0x1, x0x2, x1^2, x1x2, x2^2
    exact[0, [1, 2]] = [-10, 10]
    exact[1, [1, 2, 6]] = [28, -1, -1]
    exact[2, [3, 5]] = [-8 / 3, 1]
    assert model.names == ("1", "x0", "x1", "x2", "x0^2", "x0 x1", "x0 x2", "x1^2", "x1 x2", "x2^2")
    np.testing.assert_allclose(np.asarray(model.coefficients), exact, atol=2e-2)


def test_sindy_jax_field_matches_pysindy_features():
    h1, h2 = _lorenz_pairs(n_traj=10)
    model = SINDy.from_pairs(h1, h2, 1e-3)
    lib = ps.PolynomialLibrary(degree=2).fit(h1)
    pts = np.random.default_rng(1).normal(size=(50, 3)) * 10
    ours = np.asarray(jax.vmap(model.features)(pts))
    np.testing.assert_allclose(ours, lib.transform(pts), rtol=1e-5, atol=1e-3)


@pytest.mark.parametrize("dim", [2, 3, 4])
def test_dissipative_hamiltonian_net_never_gains_energy(dim):
    """`dH/dt = grad H^T (J - D) grad H = -grad H^T D grad H <= 0` for random nets and states."""
    keys = jax.random.split(jax.random.PRNGKey(dim), 16)
    models = ensemble(lambda k: DissipativeHamiltonianNet(dim, 8, key=k), keys)
    states = 3 * jax.random.normal(jax.random.PRNGKey(1), (16, 8, dim))

    def rate(mod, hs):
        return jax.vmap(lambda h: jax.grad(mod.H)(h) @ mod(h))(hs), mod.J()

    rates, j = eqx.filter_jit(eqx.filter_vmap(rate, in_axes=(eqx.if_array(0), 0)))(models, states)
    np.testing.assert_allclose(j, -np.swapaxes(np.asarray(j), -1, -2))
    assert np.all(np.asarray(rates) <= 1e-5)


def test_mlp_ode_is_the_authors_odenet():
    """3 -> 16 -> 16 (skip) -> 3 has 387 parameters; the skip adds the previous features."""
    from dynml.core.nn import count_params
    from dynml.identify import MLPODE

    key = jax.random.PRNGKey(0)
    with_skip = MLPODE(3, 16, depth=2, activation="requ", key=key)
    without = MLPODE(3, 16, depth=2, activation="requ", skip=False, key=key)
    assert count_params(with_skip) == 387
    h = jax.numpy.array([1.0, -2.0, 3.0])
    z = with_skip.act(with_skip.layers[0](h))
    np.testing.assert_allclose(
        with_skip(h) - without(h), with_skip.readout.weight @ z, rtol=1e-5, atol=1e-7
    )

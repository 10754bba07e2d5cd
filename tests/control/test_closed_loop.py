"""Closed-loop controller: PCA projector, PMP gradient against autodiff, exact one-layer step,
the c → ∞ limit, and the controls pulling perturbed states back towards the manifolds."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dynml.control import Dense, Flatten, Residual, pmp
from dynml.control import closed_loop as cl


def subspace_states(key, n=200, d=12, k=3, noise=1e-4):
    ka, kb, kc, kd = jax.random.split(key, 4)
    basis = jnp.linalg.qr(jax.random.normal(ka, (d, k)))[0]
    coef = jax.random.normal(kb, (n, k)) * jnp.array([3.0, 2.0, 1.0])[:k]
    offset = jax.random.normal(kc, (d,))
    return offset + coef @ basis.T + noise * jax.random.normal(kd, (n, d)), basis, offset


def test_projector_is_an_idempotent_symmetric_complement():
    z, basis, _ = subspace_states(jax.random.key(0))
    m = cl.fit_manifold(z, 0.99)
    q = np.asarray(m.projector(), dtype=np.float64)
    np.testing.assert_allclose(q @ q, q, atol=1e-5)
    np.testing.assert_allclose(q, q.T, atol=1e-6)
    assert m.rank == 3  # the noise directions hold far less than 1 % of the singular values
    np.testing.assert_allclose(q @ np.asarray(basis), 0.0, atol=1e-4)  # span annihilated
    assert float(jnp.max(jnp.abs(m.residual(z)))) < 1e-3


@pytest.mark.parametrize("threshold", [0.5, 0.9, 0.99])
def test_rank_is_the_smallest_reaching_the_threshold_and_residual_is_the_tail(threshold):
    z = jax.random.normal(jax.random.key(1), (80, 10)) * jnp.linspace(3.0, 0.1, 10)
    m = cl.fit_manifold(z, threshold)
    zc = np.asarray(z, dtype=np.float64) - np.asarray(z, dtype=np.float64).mean(axis=0)
    s = np.linalg.svd(zc, compute_uv=False)
    frac = np.cumsum(s) / s.sum()
    r = m.rank
    assert frac[r - 1] >= threshold - 1e-9 and (r == 1 or frac[r - 2] < threshold)
    tail = np.sum(s[r:] ** 2)  # the residual energy is the discarded singular values'
    np.testing.assert_allclose(float(jnp.sum(m.residual(z) ** 2)), tail, rtol=1e-3)


def small_net(key, dim=6, depth=3):
    k = jax.random.split(key, depth + 1)
    blocks = tuple(Residual(dim, step=0.5, key=kk) for kk in k[:depth])
    return (Flatten(), *blocks, Dense(dim, 3, key=k[-1]))


def fitted(key, cost=0.1, controlled=(1, 2, 3), **kw):
    kn, kz = jax.random.split(key)
    net = small_net(kn)
    z, _, _ = subspace_states(kz, n=300, d=6, k=2)
    y = jnp.argmax(pmp.forward(net, z)[-1], axis=1)  # every point "correctly classified"
    mans = cl.fit_manifolds(net, z, y, controlled, threshold=0.99)
    return cl.ClosedLoop(net, mans, cost=cost, **kw), z


def test_costate_gradient_equals_autodiff_of_the_running_cost():
    ctrl, z = fitted(jax.random.key(2), cost=0.3)
    x0 = z[:7] + 0.3 * jax.random.normal(jax.random.key(3), z[:7].shape)
    u = [
        None if m is None else 0.1 * jax.random.normal(jax.random.key(10 + t), x.shape)
        for t, (m, x) in enumerate(zip(ctrl.manifolds, pmp.forward(ctrl.layers, x0), strict=False))
    ]

    def cost_of(u):
        xs = cl.controlled_forward(ctrl.layers, ctrl.manifolds, x0, u)
        return cl.running_cost(ctrl.manifolds, xs, u, ctrl.cost)

    auto = jax.grad(cost_of)(u)
    xs = cl.controlled_forward(ctrl.layers, ctrl.manifolds, x0, u)
    pmp_grad = cl.hamiltonian_gradient(ctrl.layers, ctrl.manifolds, xs, u, ctrl.cost)
    for a, g in zip(auto, pmp_grad, strict=True):
        if a is not None:
            np.testing.assert_allclose(g, -a, rtol=1e-4, atol=1e-6)


def test_one_step_solves_a_single_last_controlled_layer_exactly():
    cost = 0.5
    ctrl, z = fitted(jax.random.key(4), cost=cost, controlled=(3,), iterations=1, lr=1.0)
    x0 = z[:9] + 0.5 * jax.random.normal(jax.random.key(5), z[:9].shape)
    x3 = pmp.forward(ctrl.layers, x0)[3]
    want = -ctrl.manifolds[3].residual(x3) / (1.0 + cost)
    np.testing.assert_allclose(ctrl.controls(x0)[3], want, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("optimizer,lr", [("gd", 1.0)])
def test_infinite_control_cost_gives_zero_controls(optimizer, lr):
    ctrl, z = fitted(jax.random.key(6), cost=1e9, optimizer=optimizer, lr=lr)
    x0 = z[:5] + 0.5
    for u in ctrl.controls(x0):
        if u is not None:
            assert float(jnp.max(jnp.abs(u))) < 1e-7
    np.testing.assert_allclose(ctrl(x0), pmp.forward(ctrl.layers, x0)[-1], atol=1e-5)


@pytest.mark.parametrize("optimizer,lr", [("gd", 0.3), ("adam", 0.05)])
def test_controls_reduce_the_manifold_residual_of_perturbed_states(optimizer, lr):
    ctrl, z = fitted(jax.random.key(7), cost=0.01, iterations=10, optimizer=optimizer, lr=lr)
    x0 = z[:50] + 0.4 * jax.random.normal(jax.random.key(8), z[:50].shape)
    before = ctrl.manifold_residuals(x0)
    after = ctrl.manifold_residuals(x0, ctrl.controls(x0))
    assert float(jnp.mean(before)) > 0.05
    assert float(jnp.mean(after)) < 0.5 * float(jnp.mean(before))
    assert bool(jnp.all(after <= before + 1e-6))


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="threshold"):
        cl.fit_manifold(jnp.ones((5, 3)), 1.5)
    ctrl, _ = fitted(jax.random.key(9))
    with pytest.raises(ValueError, match="optimizer"):
        cl.ClosedLoop(ctrl.layers, ctrl.manifolds, optimizer="lbfgs")
    with pytest.raises(ValueError, match="controlled layers"):
        cl.fit_manifolds(ctrl.layers, jnp.ones((4, 6)), jnp.zeros(4, int), [9])


@pytest.mark.slow
def test_quick_closed_loop_defence_runs(tmp_path):
    from dynml.core import experiment as ex

    spec = ex.get("closed-loop-defence")
    run = ex.execute(spec, spec.config(quick=True), tmp_path, quick=True)
    assert run.status == "done" and len(run.metrics["controlled_accuracy_all"]) == 6

"""PMP costates against autodiff; MSA steps: Hamiltonian ascent and small steps for large ρ."""

import equinox as eqx
import jax
import jax.numpy as jnp
import pytest

from dynml.control import (
    MSA,
    AvgPool,
    ChannelMean,
    Conv,
    ConvResidual,
    Dense,
    Residual,
    extended_hamiltonian,
    maximise_hamiltonian,
    msa_fit,
    pmp,
)


def cross_entropy(logits, y):
    return -jnp.take_along_axis(jax.nn.log_softmax(logits), y[:, None], axis=1)[:, 0]


def sum_mse(x_T, y):
    return (x_T.sum(axis=-1) - y) ** 2


def residual_net(key, depth=3, dim=4):
    return tuple(Residual(dim, key=k) for k in jax.random.split(key, depth))


def conv_net(key):
    k = jax.random.split(key, 5)
    return (
        Conv(1, 3, key=k[0]),
        AvgPool(),
        ConvResidual(3, key=k[1]),
        ChannelMean(),
        Dense(3, 4, key=k[2]),
    )


def _check_costates(layers, x, y, terminal):
    _, xs, ps = pmp.states_and_costates(layers, x, y, terminal)
    for t in range(len(layers) + 1):
        j_t = lambda xt, t=t: jnp.mean(terminal(pmp.forward(layers[t:], xt)[-1], y))  # noqa: E731
        expected = -jax.grad(j_t)(xs[t])
        assert jnp.allclose(ps[t], expected, atol=1e-6, rtol=1e-4), t


def test_costates_equal_minus_dJ_dx_dense():
    x = jax.random.normal(jax.random.key(1), (7, 4))
    _check_costates(residual_net(jax.random.key(0)), x, jnp.sin(x[:, 0]), sum_mse)


def test_costates_equal_minus_dJ_dx_conv():
    x = jax.random.normal(jax.random.key(1), (6, 1, 4, 4))
    y = jnp.arange(6) % 4
    _check_costates(conv_net(jax.random.key(0)), x, y, cross_entropy)


def test_hamiltonian_gradient_is_minus_loss_gradient():
    layers = residual_net(jax.random.key(2))
    x = jax.random.normal(jax.random.key(3), (5, 4))
    y = jnp.cos(x[:, 1])
    _, xs, ps = pmp.states_and_costates(layers, x, y, sum_mse)
    g_h = jax.grad(lambda ls: pmp.total_hamiltonian(ls, xs, ps))(layers)
    g_j = jax.grad(lambda ls: pmp.loss(ls, x, y, sum_mse))(layers)
    for a, b in zip(jax.tree_util.tree_leaves(g_h), jax.tree_util.tree_leaves(g_j), strict=True):
        assert jnp.allclose(a, -b, atol=1e-6)


def _problem():
    layers = residual_net(jax.random.key(4), depth=3, dim=3)
    x = jax.random.normal(jax.random.key(5), (16, 3))
    return layers, x, jnp.sin(x.sum(axis=1))


@pytest.mark.parametrize("rho", [0.0, 1.0])
def test_one_maximisation_step_does_not_decrease_the_hamiltonian(rho):
    layers, x, y = _problem()
    _, xs, ps = pmp.states_and_costates(layers, x, y, sum_mse)
    method = MSA(rho=rho, reg=1e-3, inner_steps=1, inner="lbfgs")
    new = maximise_hamiltonian(method, layers, xs, ps)
    before = extended_hamiltonian(layers, xs, ps, rho, 1e-3)
    after = extended_hamiltonian(new, xs, ps, rho, 1e-3)
    assert after > before


def _step_size_and_loss(rho):
    layers, x, y = _problem()
    method = MSA(rho=rho, inner_steps=10, inner="lbfgs")
    new, _, _ = method.update(layers, method.init(layers), (x, y), sum_mse)
    diff = jax.tree_util.tree_map(
        jnp.subtract, eqx.filter(new, eqx.is_array), eqx.filter(layers, eqx.is_array)
    )
    size = jnp.sqrt(pmp.sq_norm(diff))
    return size, pmp.loss(layers, x, y, sum_mse), pmp.loss(new, x, y, sum_mse)


def test_emsa_large_rho_makes_small_stable_steps():
    size_100, _, _ = _step_size_and_loss(1e2)
    size_1e4, before, after = _step_size_and_loss(1e4)
    assert 0 < size_1e4 < size_100 / 10
    assert after < before


def test_msa_fit_reduces_loss_and_rejects_bad_input():
    layers, x, y = _problem()
    method = MSA(rho=10.0, inner_steps=5, inner="adam", inner_lr=0.01)
    res = msa_fit(layers, sum_mse, (x, y), method, steps=20, key=jax.random.key(0), batch_size=8)
    assert res.stopped == "completed" and len(res.history["loss"]) == 20
    assert pmp.loss(res.model, x, y, sum_mse) < pmp.loss(layers, x, y, sum_mse)
    with pytest.raises(ValueError, match="inner solver"):
        MSA(inner="newton").init(layers)
    with pytest.raises(ValueError, match="steps"):
        msa_fit(layers, sum_mse, (x, y), method, steps=0, key=jax.random.key(0))

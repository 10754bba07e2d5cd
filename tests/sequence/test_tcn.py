"""The locuslab TCN: weight normalisation, causal dilated convolution, receptive field,
causality by the Jacobian; and the sequence-model interface."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dynml.sequence import (
    GRU,
    RNN,
    AbstractSequenceModel,
    CausalConv1d,
    CausalTransformer,
    LinearRNN,
    ResidualTCN,
    TemporalCNN,
    tcn_levels,
    tcn_receptive_field,
)


def test_weight_norm_is_identity_at_init_and_scales_with_g():
    conv = CausalConv1d(3, 4, 5, 2, key=jax.random.PRNGKey(0))
    np.testing.assert_allclose(conv.weight, conv.v, rtol=1e-6)  # g = ‖v‖ at the start
    norms = jnp.sqrt(jnp.sum(conv.weight**2, axis=(1, 2)))
    np.testing.assert_allclose(norms, conv.g, rtol=1e-6)
    # w depends on v only through its direction: scaling v leaves w unchanged, g scales it
    scaled = eqx_replace(conv, v=7.0 * conv.v, g=2.0 * conv.g)
    np.testing.assert_allclose(scaled.weight, 2.0 * conv.weight, rtol=1e-5)


def test_conv_init_is_pytorch_default_uniform_unless_a_std_is_given():
    # v ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)), fan_in = c_in * k: bounded, variance bound^2 / 3
    conv = CausalConv1d(16, 32, 7, key=jax.random.PRNGKey(3))
    bound = 1.0 / np.sqrt(16 * 7)
    v = np.asarray(conv.v)
    assert np.abs(v).max() <= bound and np.abs(v).max() > 0.95 * bound
    np.testing.assert_allclose(v.var(), bound**2 / 3, rtol=0.1)
    small = CausalConv1d(16, 32, 7, key=jax.random.PRNGKey(3), init_std=0.01)
    np.testing.assert_allclose(np.asarray(small.v).std(), 0.01, rtol=0.1)


def eqx_replace(module, **fields):
    return eqx.tree_at(lambda m: [getattr(m, k) for k in fields], module, list(fields.values()))


def test_causal_conv_is_the_dilated_sum_and_matches_lax_conv():
    k, d, n_t = 4, 3, 30
    conv = CausalConv1d(2, 3, k, d, key=jax.random.PRNGKey(1))
    x = jax.random.normal(jax.random.PRNGKey(2), (n_t, 2))
    w = np.asarray(conv.weight)
    xn = np.asarray(x)
    expected = np.tile(np.asarray(conv.bias), (n_t, 1))
    for t in range(n_t):
        for j in range(k):  # tap j reads x_{t - (k-1-j) d}
            s = t - (k - 1 - j) * d
            if s >= 0:
                expected[t] += w[:, :, j] @ xn[s]
    y = eqx.filter_jit(conv)(x)
    np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-6)
    pad = (k - 1) * d
    lax = jax.lax.conv_general_dilated(
        x.T[None], conv.weight, (1,), [(pad, 0)], rhs_dilation=(d,),
        dimension_numbers=("NCH", "OIH", "NCH"),
    )[0].T + conv.bias  # fmt: skip
    np.testing.assert_allclose(y, lax, rtol=1e-5, atol=1e-6)


def test_receptive_field_formula_and_levels():
    assert tcn_receptive_field(7, 1) == 13  # two convolutions of reach 6
    assert tcn_receptive_field(7, 8) == 1 + 12 * 255
    assert tcn_levels(50, 7) == 3 and tcn_levels(400, 7) == 6 and tcn_levels(37, 7) == 2


def test_tcn_jacobian_is_causal_with_the_stated_receptive_field():
    kernel, levels = 3, 2
    rf = tcn_receptive_field(kernel, levels)  # 13
    n_t = rf + 4
    model = ResidualTCN(2, 1, 4, levels, kernel, key=jax.random.PRNGKey(3))
    assert model.receptive_field == rf
    x = jax.random.normal(jax.random.PRNGKey(4), (n_t, 2))
    jac = eqx.filter_jit(jax.jacfwd(lambda z: model(z)[:, 0]))(x)  # (t, t', in)
    dep = np.abs(np.asarray(jac)).sum(-1)
    t, tp = np.indices(dep.shape)
    assert np.all(dep[tp > t] == 0.0)  # exactly zero: no output reads a later input
    assert np.all(dep[t - tp >= rf] == 0.0)  # nothing older than the receptive field
    assert np.all(dep[-1, n_t - rf :] != 0.0)  # every input in reach matters


def test_every_model_is_a_sequence_model_with_batch_calls():
    k = jax.random.PRNGKey(5)
    models = [
        RNN(4, 2, 1, key=k),
        GRU(4, 2, 1, key=k),
        LinearRNN(4, 2, 1, key=k),
        TemporalCNN(3, 2, 2, 1, key=k),
        ResidualTCN(2, 1, 4, 2, 3, key=k),
        CausalTransformer(2, 1, 8, d_model=8, depth=1, heads=2, key=k),
    ]
    x = jax.random.normal(jax.random.PRNGKey(6), (2, 6, 2))
    for model in models:
        assert isinstance(model, AbstractSequenceModel)
        assert eqx.filter_eval_shape(model, x).shape == (2, 6, 1)
        n = sum(a.size for a in jax.tree_util.tree_leaves(eqx.filter(model, eqx.is_inexact_array)))
        assert model.n_params == n > 0
    model = models[4]
    both = eqx.filter_jit(lambda m, z: (m(z), m(z[1])))
    batch, one = both(model, x)
    np.testing.assert_allclose(batch[1], one, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="batch"):
        models[0](jnp.ones(5))
    with pytest.raises(TypeError):
        AbstractSequenceModel()


def test_gru_matches_the_gate_equations():
    model = GRU(3, 2, 1, key=jax.random.PRNGKey(7))
    x = jax.random.normal(jax.random.PRNGKey(8), (6, 2))
    c = model.cell
    Wi, Wh, b, bn = (
        np.asarray(c.weight_ih),
        np.asarray(c.weight_hh),
        np.asarray(c.bias),
        np.asarray(c.bias_n),
    )
    sig = lambda z: 1 / (1 + np.exp(-z))
    h, ys = np.zeros(3), []
    for xk in np.asarray(x):
        gi, gh = Wi @ xk + b, Wh @ h
        r, z = sig(gi[:3] + gh[:3]), sig(gi[3:6] + gh[3:6])
        n = np.tanh(gi[6:] + r * (gh[6:] + bn))
        h = (1 - z) * n + z * h
        ys.append(np.asarray(model.readout.weight) @ h + np.asarray(model.readout.bias))
    np.testing.assert_allclose(eqx.filter_jit(model)(x), np.array(ys), rtol=1e-5, atol=1e-6)


def test_tcn_last_output_on_the_dilation_grid_equals_the_full_forward():
    # `last` evaluates block i only at T-1 - 2^i m; lengths of either parity, and a receptive
    # field both shorter and longer than T
    for n_t, levels in [(23, 3), (30, 2)]:  # receptive field 29 > 23, 13 < 30
        model = ResidualTCN(2, 1, 4, levels, 3, key=jax.random.PRNGKey(n_t))
        x = jax.random.normal(jax.random.PRNGKey(9), (n_t, 2))
        np.testing.assert_allclose(model.last(x), model.forward(x)[-1], rtol=1e-5, atol=1e-6)

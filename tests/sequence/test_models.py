"""Structural properties of the sequence models: consistency of discretisation and causality."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dynml.sequence import (
    RNN,
    CausalTransformer,
    LinearRNN,
    TemporalCNN,
    impulse_response,
    model_kernel,
)
from dynml.systems.memory import causal_convolution


def test_linear_rnn_output_is_convolution_with_closed_form_kernel():
    dt, n_t = 0.1, 64
    model = LinearRNN(5, dt=dt, key=jax.random.PRNGKey(0), noise=0.5)
    x = jax.random.normal(jax.random.PRNGKey(1), (n_t, 1))
    rho = model.kernel(jnp.arange(n_t) * dt)[:, 0, 0]  # c e^{W t} U, one expm per time
    expected = causal_convolution(x[:, 0], rho, dt)
    np.testing.assert_allclose(model(x)[:, 0], expected, rtol=1e-4, atol=1e-5)


def test_sampled_kernel_and_impulse_response_match_closed_form():
    dt, n_t = 0.05, 100  # 100 is not a power of two: the doubling must truncate
    model = LinearRNN(4, dt=dt, key=jax.random.PRNGKey(2), noise=1.0)
    closed = model.kernel(jnp.arange(n_t) * dt)[:, 0, 0]
    np.testing.assert_allclose(model.sampled_kernel(n_t)[:, 0, 0], closed, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(impulse_response(model, n_t, dt), closed, rtol=1e-4, atol=1e-6)


def test_linear_rnn_kernel_of_diagonal_model_is_exponential_sum():
    rates = jnp.array([0.5, 2.0])
    model = LinearRNN(2, key=jax.random.PRNGKey(3), rates=rates, noise=0.0)
    t = jnp.linspace(0.0, 3.0, 7)
    c, u = model.c[0], model.U[:, 0]
    expected = (c * u * jnp.exp(-jnp.outer(t, rates))).sum(1)
    np.testing.assert_allclose(model.kernel(t)[:, 0, 0], expected, rtol=1e-5, atol=1e-6)


def test_linear_tcn_is_a_convolution_with_its_impulse_response():
    dt, n_t = 0.1, 40
    model = TemporalCNN(3, 4, key=jax.random.PRNGKey(4))
    rho = model_kernel(model, n_t, dt)
    assert np.all(np.asarray(rho[model.receptive_field :]) == 0.0)  # support is 2^K steps
    x = jax.random.normal(jax.random.PRNGKey(5), (n_t, 1))
    np.testing.assert_allclose(model(x)[:, 0], causal_convolution(x[:, 0], rho, dt), atol=1e-5)


@pytest.mark.parametrize(
    "make",
    [
        lambda k: RNN(8, 2, 1, key=k),
        lambda k: RNN(8, 2, 1, key=k, residual=True),
        lambda k: TemporalCNN(4, 3, 2, 1, key=k, activation="relu", residual=True),
        lambda k: CausalTransformer(2, 1, 32, d_model=16, depth=1, heads=2, key=k),
    ],
)
def test_models_are_causal(make):
    model = make(jax.random.PRNGKey(6))
    x = jax.random.normal(jax.random.PRNGKey(7), (20, 2))
    x2 = x.at[12:].set(jax.random.normal(jax.random.PRNGKey(8), (8, 2)))
    y, y2 = model(x), model(x2)
    assert y.shape == (20, 1)
    np.testing.assert_allclose(y[:12], y2[:12], atol=1e-5)  # past outputs ignore the future
    assert not np.allclose(y[12:], y2[12:])


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="width"):
        LinearRNN(0, key=jax.random.PRNGKey(0))
    with pytest.raises(ValueError, match="divisible"):
        CausalTransformer(1, 1, 8, d_model=10, heads=4, key=jax.random.PRNGKey(0))
    with pytest.raises(ValueError, match="max_len"):
        CausalTransformer(1, 1, 4, d_model=8, heads=2, key=jax.random.PRNGKey(0))(jnp.ones((5, 1)))

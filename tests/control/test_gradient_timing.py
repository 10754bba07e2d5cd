"""gradient_seconds_per_step compiles once per signature: a second call compiles nothing."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

from dynml.control import gradient_seconds_per_step
from dynml.core.compile import CompileStats


def _loss(model, batch):
    x, y = batch
    return jnp.mean((jax.vmap(model)(x) - y) ** 2)


def test_second_call_reuses_the_executable():
    net = eqx.nn.Linear(3, 1, key=jax.random.PRNGKey(0))
    x, y = jnp.ones((16, 3)), jnp.zeros((16, 1))
    opt = optax.sgd(1e-2)
    first = gradient_seconds_per_step(_loss, net, (x, y), opt, steps=5)
    shifted = x + 1.0  # a new batch of the same shape: the same executable
    with CompileStats() as stats:
        second = gradient_seconds_per_step(_loss, net, (shifted, y), opt, steps=5)
    assert stats.compilations == 0, stats.names
    assert np.isfinite(first) and np.isfinite(second) and second > 0

"""`msa_fit` compiles its loop once per model, method and shapes, whatever its step count.

The chunked loop (a fixed-length compiled scan, iterations past the end skipped) must take
exactly the steps of a plain iteration-by-iteration loop of `MSA.update` with the same
mini-batches, across chunk boundaries and with the warm-started inner state carried over.
"""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from dynml.control import MSA, Residual, msa_fit
from dynml.control.losses import sum_mse
from dynml.core.compile import CompileStats


def _problem(n=12, dim=3, depth=3):
    k = jax.random.split(jax.random.key(0), depth + 1)
    layers = tuple(Residual(dim, step=0.5, key=kk) for kk in k[:depth])
    x = jax.random.normal(k[-1], (n, dim))
    return layers, (x, jnp.sin(x.sum(axis=1)))


def _stepwise(layers, data, method, steps, key, bsz):
    """Reference: one jitted `method.update` per iteration, mini-batch `i mod E` of epoch
    `i // E`'s permutation (`E = n // bsz`), Python floats for the hyperparameters."""
    x, y = data
    n = x.shape[0]
    per_epoch = n // bsz
    update = eqx.filter_jit(lambda ls, s, b: method.update(ls, s, b, sum_mse))
    state, losses = method.init(layers), []
    for i in range(steps):
        perm = jax.random.permutation(jax.random.fold_in(key, i // per_epoch), n)
        idx = perm[(i % per_epoch) * bsz : (i % per_epoch + 1) * bsz]
        layers, state, value = update(layers, state, (x[idx], y[idx]))
        losses.append(float(value))
    return layers, np.array(losses)


def test_chunked_loop_equals_the_stepwise_loop_across_chunk_boundaries():
    layers, data = _problem()
    method = MSA(rho=0.5, reg=1e-3, inner="adam", inner_steps=3, inner_lr=0.05)
    key, steps = jax.random.key(2), 70  # two chunks of 64, the second mostly skipped
    res = msa_fit(layers, sum_mse, data, method, steps=steps, key=key, batch_size=4)
    ref_layers, ref_losses = _stepwise(layers, data, method, steps, key, bsz=4)
    assert res.steps == steps and len(res.history["loss"]) == steps
    np.testing.assert_allclose(res.history["loss"], ref_losses, rtol=2e-5, atol=1e-7)
    ours, theirs = eqx.filter(res.model, eqx.is_array), eqx.filter(ref_layers, eqx.is_array)
    for a, b in zip(
        jax.tree_util.tree_leaves(ours), jax.tree_util.tree_leaves(theirs), strict=True
    ):
        np.testing.assert_allclose(a, b, rtol=2e-5, atol=1e-6)


def test_a_second_fit_with_another_step_count_and_data_compiles_nothing():
    layers, data = _problem()
    key = jax.random.key(1)
    method = MSA(rho=0.5, reg=1e-3, inner="adam", inner_steps=3, inner_lr=0.05)
    msa_fit(layers, sum_mse, data, method, steps=5, key=key, batch_size=4)
    shifted = (data[0] + 1.0, data[1])
    with CompileStats() as stats:
        res = msa_fit(layers, sum_mse, shifted, method, steps=90, key=key, batch_size=4)
    assert stats.compilations == 0, stats.names
    assert len(res.history["loss"]) == 90 and np.isfinite(res.history["loss"]).all()

"""Robustness of an optimiser to its initial setting: train one model per setting, at once.

Li, Tai, E (ICML 2017, §4) measure the spread `max − min` of final test accuracy over a grid
of initial settings (learning rate, or cSGD's initial control `u₀`): an adaptive method is
robust when the spread is small. A setting whose training diverged (non-finite parameters,
or a final training loss above the initial one) is flagged and left out of the spread, and
the number of such settings is reported beside it, so a diverged point is never scored as
zero accuracy without saying so.
"""

from collections.abc import Callable
from typing import NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
from jaxtyping import Array, Float, Int


class GridResult(NamedTuple):
    """Per setting: final test accuracy, initial and final training loss, diverged flag,
    the mean control (cSGD's `u`, cMSGD's `μ`; NaN for other optimisers) per step, and the
    test accuracy after each epoch `(settings, epochs)`."""

    accuracy: np.ndarray
    initial_loss: np.ndarray
    final_loss: np.ndarray
    diverged: np.ndarray
    control: np.ndarray
    epoch_accuracy: np.ndarray


def batch_order(key: Array, n: int, batch_size: int, epochs: int) -> Int[Array, "steps batch"]:
    """Indices of the mini-batches of `epochs` shuffled passes over `n` samples (drop last)."""
    per_epoch = n // batch_size
    if per_epoch < 1 or epochs < 1:
        raise ValueError(f"need batch_size <= n and epochs >= 1, got {batch_size}, {n}, {epochs}")
    perms = [jax.random.permutation(jax.random.fold_in(key, e), n) for e in range(epochs)]
    return jnp.concatenate([p[: per_epoch * batch_size] for p in perms]).reshape(-1, batch_size)


def _is_moments(x):
    return hasattr(x, "control") and hasattr(x, "gx_cov")


def _mean_control(state):
    leaves = [s for s in jax.tree_util.tree_leaves(state, is_leaf=_is_moments) if _is_moments(s)]
    if not leaves:
        return jnp.nan
    parts = jax.tree_util.tree_leaves(leaves[0].control)
    return sum(jnp.sum(c) for c in parts) / sum(c.size for c in parts)


def train_grid(
    make_opt: Callable[[Array], optax.GradientTransformation],
    settings: Float[Array, " n_settings"],
    model: eqx.Module,
    train: tuple[Float[Array, "n d"], Int[Array, " n"]],
    test: tuple[Float[Array, "m d"], Int[Array, " m"]],
    order: Int[Array, "steps batch"],
    epochs: int = 1,
) -> GridResult:
    """Train `model` with `make_opt(setting)` for every setting (`vmap`), on the same
    mini-batches `order` (`epochs` equal passes) and the same initialisation; softmax
    cross-entropy. The test accuracy is recorded after every epoch, so the epoch-to-epoch
    fluctuation of the last iterate can be set beside the spread over settings."""
    (x_tr, y_tr), (x_te, y_te) = train, test
    if epochs < 1 or order.shape[0] % epochs:
        raise ValueError(f"{order.shape[0]} steps do not split into {epochs} equal epochs")
    params, static = eqx.partition(model, eqx.is_inexact_array)
    by_epoch = order.reshape(epochs, -1, order.shape[1])

    def loss(p, x, y):
        logits = jax.vmap(eqx.combine(p, static))(x)
        return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()

    def accuracy(p):
        return jnp.mean(jnp.argmax(jax.vmap(eqx.combine(p, static))(x_te), -1) == y_te)

    def one(setting):
        opt = make_opt(setting)

        def step(carry, idx):
            p, s = carry
            g = jax.grad(loss)(p, x_tr[idx], y_tr[idx])
            upd, s = opt.update(g, s, p)
            return (optax.apply_updates(p, upd), s), _mean_control(s)

        def epoch(carry, idx):
            carry, controls = jax.lax.scan(step, carry, idx)
            return carry, (controls, accuracy(carry[0]))

        (p, _), (controls, accs) = jax.lax.scan(epoch, (params, opt.init(params)), by_epoch)
        finite = jnp.all(jnp.stack([jnp.all(jnp.isfinite(q)) for q in jax.tree.leaves(p)]))
        return accs[-1], loss(p, x_tr, y_tr), finite, controls.reshape(-1), accs

    acc, final, finite, controls, accs = jax.jit(jax.vmap(one))(jnp.asarray(settings))
    initial = float(loss(params, x_tr, y_tr))
    final = np.asarray(final)
    diverged = ~np.asarray(finite) | ~np.isfinite(final) | (final > initial)
    return GridResult(
        np.asarray(acc), np.full(len(final), initial), final, diverged, np.asarray(controls),
        np.asarray(accs),
    )  # fmt: skip


def accuracy_spread(accuracy: np.ndarray, diverged: np.ndarray) -> tuple[float, float, float]:
    """`(max − min, min, max)` of the accuracy over the settings that did not diverge
    (NaN when all diverged)."""
    ok = np.asarray(accuracy)[~np.asarray(diverged, dtype=bool)]
    if ok.size == 0:
        return float("nan"), float("nan"), float("nan")
    return float(ok.max() - ok.min()), float(ok.min()), float(ok.max())


def last_epochs_fluctuation(epoch_accuracy: np.ndarray, diverged: np.ndarray, k: int) -> float:
    """Median over the non-diverged settings of `max − min` test accuracy over the last `k`
    epochs: how much the last iterate alone moves once training has settled (NaN if none)."""
    ok = np.asarray(epoch_accuracy)[~np.asarray(diverged, dtype=bool), -k:]
    return float(np.median(ok.max(axis=1) - ok.min(axis=1))) if ok.size else float("nan")

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
    and the mean control (cSGD's `u`, cMSGD's `μ`; NaN for other optimisers) per step."""

    accuracy: np.ndarray
    initial_loss: np.ndarray
    final_loss: np.ndarray
    diverged: np.ndarray
    control: np.ndarray


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
) -> GridResult:
    """Train `model` with `make_opt(setting)` for every setting (`vmap`), on the same
    mini-batches `order` and the same initialisation; softmax cross-entropy."""
    (x_tr, y_tr), (x_te, y_te) = train, test
    params, static = eqx.partition(model, eqx.is_inexact_array)

    def loss(p, x, y):
        logits = jax.vmap(eqx.combine(p, static))(x)
        return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()

    def one(setting):
        opt = make_opt(setting)

        def step(carry, idx):
            p, s = carry
            g = jax.grad(loss)(p, x_tr[idx], y_tr[idx])
            upd, s = opt.update(g, s, p)
            return (optax.apply_updates(p, upd), s), _mean_control(s)

        (p, _), controls = jax.lax.scan(step, (params, opt.init(params)), order)
        logits = jax.vmap(eqx.combine(p, static))(x_te)
        acc = jnp.mean(jnp.argmax(logits, -1) == y_te)
        finite = jnp.all(jnp.stack([jnp.all(jnp.isfinite(q)) for q in jax.tree.leaves(p)]))
        return acc, loss(p, x_tr, y_tr), finite, controls

    acc, final, finite, controls = jax.jit(jax.vmap(one))(jnp.asarray(settings))
    initial = float(loss(params, x_tr, y_tr))
    final = np.asarray(final)
    diverged = ~np.asarray(finite) | ~np.isfinite(final) | (final > initial)
    return GridResult(
        np.asarray(acc), np.full(len(final), initial), final, diverged, np.asarray(controls)
    )


def accuracy_spread(accuracy: np.ndarray, diverged: np.ndarray) -> tuple[float, float, float]:
    """`(max − min, min, max)` of the accuracy over the settings that did not diverge
    (NaN when all diverged)."""
    ok = np.asarray(accuracy)[~np.asarray(diverged, dtype=bool)]
    if ok.size == 0:
        return float("nan"), float("nan"), float("nan")
    return float(ok.max() - ok.min()), float(ok.min()), float(ok.max())

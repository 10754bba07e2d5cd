"""Robustness of an optimiser to its initial setting: train one model per setting, at once.

Li, Tai, E (ICML 2017, §4) measure the spread `max − min` of final test accuracy over a grid
of initial settings (learning rate, or cSGD's initial control `u₀`): an adaptive method is
robust when the spread is small. A setting whose training diverged (non-finite parameters,
or a final training loss above the initial one) is flagged and left out of the spread, and
the number of such settings is reported beside it, so a diverged point is never scored as
zero accuracy without saying so. `train_trials` repeats the grid over initialisations and
batch orders; `spread_over_trials` and `setting_effect` (an analysis of variance) tell a
spread over settings from run-to-run noise.
"""

from collections.abc import Callable
from typing import NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
from jaxtyping import Array, Float, Int
from scipy import stats


class GridResult(NamedTuple):
    """Per run: final test accuracy, initial and final training loss, diverged flag,
    the mean control (cSGD's `u`, cMSGD's `μ`; NaN for other optimisers) per step, and the
    test accuracy after each epoch. Leading axes `(trials, settings)` from `train_trials`,
    `(settings,)` from `train_grid`."""

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


def train_trials(
    make_opt: Callable[[Array], optax.GradientTransformation],
    settings: Float[Array, " n_settings"],
    models: list[eqx.Module],
    train: tuple[Float[Array, "n d"], Int[Array, " n"]],
    test: tuple[Float[Array, "m d"], Int[Array, " m"]],
    orders: Int[Array, "trials steps batch"],
    epochs: int = 1,
) -> GridResult:
    """Train `models[k]` with `make_opt(setting)` for every trial `k` and every setting, all
    at once (`vmap` over trials and settings), on the mini-batches `orders[k]` (`epochs`
    equal passes); softmax cross-entropy. Trial `k` gives every setting the same
    initialisation and batches, so settings differ only by the optimiser; trials differ by
    both. The test accuracy is recorded after every epoch. Every array of the result has
    leading axes `(trials, settings)`."""
    (x_tr, y_tr), (x_te, y_te) = train, test
    orders = jnp.asarray(orders)
    if len(models) != orders.shape[0]:
        raise ValueError(f"{len(models)} models for {orders.shape[0]} batch orders")
    if epochs < 1 or orders.shape[1] % epochs:
        raise ValueError(f"{orders.shape[1]} steps do not split into {epochs} equal epochs")
    parts = [eqx.partition(m, eqx.is_inexact_array) for m in models]
    static = parts[0][1]
    params = jax.tree_util.tree_map(lambda *p: jnp.stack(p), *[p for p, _ in parts])
    by_epoch = orders.reshape(orders.shape[0], epochs, -1, orders.shape[2])

    def loss(p, x, y):
        logits = jax.vmap(eqx.combine(p, static))(x)
        return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()

    def accuracy(p):
        return jnp.mean(jnp.argmax(jax.vmap(eqx.combine(p, static))(x_te), -1) == y_te)

    def one(setting, p0, idx_by_epoch):
        opt = make_opt(setting)

        def step(carry, idx):
            p, s = carry
            g = jax.grad(loss)(p, x_tr[idx], y_tr[idx])
            upd, s = opt.update(g, s, p)
            return (optax.apply_updates(p, upd), s), _mean_control(s)

        def epoch(carry, idx):
            carry, controls = jax.lax.scan(step, carry, idx)
            return carry, (controls, accuracy(carry[0]))

        (p, _), (controls, accs) = jax.lax.scan(epoch, (p0, opt.init(p0)), idx_by_epoch)
        finite = jnp.all(jnp.stack([jnp.all(jnp.isfinite(q)) for q in jax.tree.leaves(p)]))
        initial = loss(p0, x_tr, y_tr)
        return accs[-1], loss(p, x_tr, y_tr), finite, controls.reshape(-1), accs, initial

    over_settings = jax.vmap(one, in_axes=(0, None, None))
    out = jax.jit(jax.vmap(over_settings, in_axes=(None, 0, 0)))(
        jnp.asarray(settings), params, by_epoch
    )
    acc, final, finite, controls, accs, initial = (np.asarray(a) for a in out)
    diverged = ~finite | ~np.isfinite(final) | (final > initial)
    return GridResult(acc, initial, final, diverged, controls, accs)


def train_grid(
    make_opt: Callable[[Array], optax.GradientTransformation],
    settings: Float[Array, " n_settings"],
    model: eqx.Module,
    train: tuple[Float[Array, "n d"], Int[Array, " n"]],
    test: tuple[Float[Array, "m d"], Int[Array, " m"]],
    order: Int[Array, "steps batch"],
    epochs: int = 1,
) -> GridResult:
    """`train_trials` with one trial: every setting from `model`'s initialisation on the
    mini-batches `order`; the result's arrays have a leading `settings` axis."""
    res = train_trials(make_opt, settings, [model], train, test, jnp.asarray(order)[None], epochs)
    return GridResult(*(a[0] for a in res))


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


def setting_effect(accuracy: np.ndarray, diverged: np.ndarray) -> tuple[float, float, float]:
    """Does the setting change the accuracy beyond run-to-run noise? `accuracy` and
    `diverged` are `(trials, settings)`; trials are blocks (trial `k` shares initialisation
    and batches over the settings). Two-way analysis of variance without interaction on the
    settings none of whose trials diverged:

        F = [T Σ_j (ā_·j − ā)² / (S − 1)] / [Σ_kj (a_kj − ā_k· − ā_·j + ā)² / ((T − 1)(S − 1))]

    Returns `(F, p, σ)`: `p` the probability of an `F` this large if the setting has no
    effect (F distribution with `(S − 1, (T − 1)(S − 1))` degrees of freedom), `σ` the
    residual standard deviation of one run's accuracy. NaN when fewer than 2 trials or 2
    settings remain.
    """
    a = np.asarray(accuracy, float)[:, ~np.asarray(diverged, bool).any(axis=0)]
    t, s = a.shape
    if t < 2 or s < 2:
        return float("nan"), float("nan"), float("nan")
    grand = a.mean()
    by_setting, by_trial = a.mean(axis=0) - grand, a.mean(axis=1) - grand
    resid = a - grand - by_setting[None] - by_trial[:, None]
    ms_setting = t * np.sum(by_setting**2) / (s - 1)
    ms_resid = np.sum(resid**2) / ((t - 1) * (s - 1))
    if ms_resid == 0.0:
        return (float("inf") if ms_setting > 0 else float("nan")), float("nan"), 0.0
    f = ms_setting / ms_resid
    return float(f), float(stats.f.sf(f, s - 1, (t - 1) * (s - 1))), float(np.sqrt(ms_resid))


def spread_over_trials(accuracy: np.ndarray, diverged: np.ndarray) -> float:
    """Median over the settings none of whose trials diverged of `max − min` over the trials
    (`accuracy`, `diverged`: `(trials, settings)`): the run-to-run noise of one setting's
    accuracy, the floor below which a spread over settings says nothing (NaN if none)."""
    a = np.asarray(accuracy, float)[:, ~np.asarray(diverged, bool).any(axis=0)]
    return float(np.median(np.ptp(a, axis=0))) if a.size else float("nan")

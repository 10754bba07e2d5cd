"""`fit`: the jit-compiled optax training loop used by every model in the library.

Steps run in jitted `lax.scan` chunks between log points (few Python round trips). Each
step draws its mini-batch from a per-epoch permutation keyed by `fold_in(key, epoch)`, so a
run resumed from a checkpoint takes exactly the same steps as an uninterrupted one.
"""

import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
from tqdm.auto import tqdm

from .io import atomic_path, write_json


@dataclass
class FitResult:
    """What `fit` returns: the trained model, the loss history and why it stopped.

    `history` has `loss` (one value per step), `val_step`/`val_loss` (one per log point when
    validation data is given) and `lr_scale` (reduce-on-plateau factor per log point).
    `stopped` is `"completed"`, `"early_stopping"` or `"nan"`.
    """

    model: Any
    history: dict[str, list] = field(default_factory=dict)
    steps: int = 0
    stopped: str = "completed"


def _progress_enabled(progress: bool) -> bool:
    return progress and os.environ.get("DYNML_PROGRESS", "1") != "0"


def make_optimizer(
    optimizer: optax.GradientTransformation | None,
    learning_rate: float | optax.Schedule,
    clip_norm: float | None,
    plateau: dict | None,
) -> optax.GradientTransformationExtraArgs:
    """Adam by default; optional global-norm clipping before it and reduce-on-plateau after."""
    parts = []
    if clip_norm is not None:
        parts.append(optax.clip_by_global_norm(clip_norm))
    parts.append(optimizer if optimizer is not None else optax.adam(learning_rate))
    if plateau is not None:
        parts.append(optax.contrib.reduce_on_plateau(**plateau))
    return optax.with_extra_args_support(optax.chain(*parts))


def _all_finite(tree) -> jax.Array:
    leaves = [jnp.all(jnp.isfinite(x)) for x in jax.tree_util.tree_leaves(tree)]
    return jnp.all(jnp.stack(leaves)) if leaves else jnp.array(True)


def _n_samples(data) -> int:
    sizes = {np.shape(x)[0] for x in jax.tree_util.tree_leaves(data)}
    if len(sizes) != 1:
        raise ValueError(f"all training arrays must share their first dimension, got {sizes}")
    return sizes.pop()


def _lr_scale(opt_state) -> float:
    scales = [
        s.scale
        for s in jax.tree_util.tree_leaves(
            opt_state, is_leaf=lambda x: isinstance(x, optax.contrib.ReduceLROnPlateauState)
        )
        if isinstance(s, optax.contrib.ReduceLROnPlateauState)
    ]
    return float(scales[0]) if scales else 1.0


def _chunk_ends(start: int, steps: int, log_every: int, checkpoint_every: int | None) -> list[int]:
    marks = set(range(log_every, steps, log_every)) | {steps}
    if checkpoint_every:
        marks |= set(range(checkpoint_every, steps, checkpoint_every))
    return sorted(m for m in marks if m > start)


def fit(
    model: eqx.Module,
    loss_fn: Callable[..., jax.Array],
    data: Any,
    *,
    steps: int,
    key: jax.Array,
    optimizer: optax.GradientTransformation | None = None,
    learning_rate: float | optax.Schedule = 1e-3,
    batch_size: int | None = None,
    clip_norm: float | None = None,
    plateau: dict | None = None,
    val_data: Any = None,
    patience: int | None = None,
    stochastic: bool = False,
    log_every: int = 100,
    checkpoint_dir: str | Path | None = None,
    checkpoint_every: int | None = None,
    progress: bool = True,
    desc: str = "fit",
    has_aux: bool = False,
) -> FitResult:
    """Minimise `loss_fn(model, batch)` (or `loss_fn(model, batch, key)` if `stochastic`).

    `data` is a pytree of arrays sharing their first dimension; each step uses a mini-batch
    of `batch_size` rows (all rows if `None`). `plateau` holds keyword arguments of
    `optax.contrib.reduce_on_plateau` (its `value` is the step's loss). With `val_data`, the
    validation loss is computed at every log point and the best model is returned; `patience`
    log points without improvement stop early. A non-finite loss or gradient stops training
    and keeps the last good parameters. With `checkpoint_dir`, the state is saved every
    `checkpoint_every` steps and training resumes from the last checkpoint found there.
    """
    if steps < 1:
        raise ValueError(f"steps must be a positive integer, got {steps}")
    n = _n_samples(data)
    full_batch = batch_size is None or batch_size >= n
    bsz = n if full_batch else int(batch_size)
    steps_per_epoch = max(1, n // bsz)
    data = jax.tree_util.tree_map(jnp.asarray, data)
    params, static = eqx.partition(model, eqx.is_inexact_array)
    opt = make_optimizer(optimizer, learning_rate, clip_norm, plateau)
    opt_state = opt.init(params)
    batch_key, loss_key = jax.random.split(key)

    def batch_at(step):
        if full_batch:
            return data
        epoch, i = step // steps_per_epoch, step % steps_per_epoch
        perm = jax.random.permutation(jax.random.fold_in(batch_key, epoch), n)
        idx = jax.lax.dynamic_slice_in_dim(perm, i * bsz, bsz)
        return jax.tree_util.tree_map(lambda x: x[idx], data)

    def loss_of(p, batch, step):
        m = eqx.combine(p, static)
        if stochastic:
            out = loss_fn(m, batch, jax.random.fold_in(loss_key, step))
        else:
            out = loss_fn(m, batch)
        return out if has_aux else (out, jnp.zeros(0))

    def one_step(carry, step):
        # `p_good`: the latest parameters whose loss and gradient were finite.
        p, s, p_good, bad = carry
        (loss, aux), grads = jax.value_and_grad(loss_of, has_aux=True)(p, batch_at(step), step)
        updates, s_new = opt.update(grads, s, p, value=loss)
        p_new = eqx.apply_updates(p, updates)
        ok = jnp.isfinite(loss) & _all_finite(grads) & ~bad
        keep = lambda new, old: jax.tree_util.tree_map(lambda a, b: jnp.where(ok, a, b), new, old)
        return (keep(p_new, p), keep(s_new, s), keep(p, p_good), bad | ~ok), (loss, aux, ok)

    @eqx.filter_jit
    def run_chunk(p, s, bad, first, length):
        return jax.lax.scan(one_step, (p, s, p, bad), first + jnp.arange(length))

    @eqx.filter_jit
    def val_loss_of(p):
        m = eqx.combine(p, static)
        out = loss_fn(m, val_data, loss_key) if stochastic else loss_fn(m, val_data)
        return out[0] if has_aux else out

    history: dict[str, list] = {"loss": [], "val_step": [], "val_loss": [], "lr_scale": []}
    if has_aux:
        history["aux"] = []
    state = {"step": 0, "best_val": float("inf"), "since_best": 0}
    best_params = params
    ckpt = Path(checkpoint_dir) if checkpoint_dir is not None else None
    if ckpt is not None and (ckpt / "meta.json").is_file():
        params, opt_state, best_params, state, history = _load_checkpoint(
            ckpt, (params, opt_state, best_params)
        )
    bad = jnp.array(False)
    stopped = "completed"
    bar = tqdm(
        total=steps,
        initial=state["step"],
        desc=desc,
        disable=not _progress_enabled(progress),
        file=sys.stderr,
        leave=False,
        dynamic_ncols=True,
    )
    for end in _chunk_ends(state["step"], steps, log_every, checkpoint_every):
        first = state["step"]
        (params, opt_state, good_params, bad), (losses, aux, ok) = run_chunk(
            params, opt_state, bad, jnp.asarray(first), end - first
        )
        losses, aux = np.asarray(losses), np.asarray(aux)
        if bool(bad):
            params, n_good = good_params, int(np.sum(np.asarray(ok)))
            history["loss"].extend(losses[:n_good].tolist())
            if has_aux:
                history["aux"].extend(aux[:n_good].tolist())
            state["step"] = first + n_good
            stopped = "nan"
            print(
                f"{desc}: non-finite loss or gradient at step {state['step']}; stopped and kept "
                "the last good parameters",
                file=sys.stderr,
            )
            break
        history["loss"].extend(losses.tolist())
        if has_aux:
            history["aux"].extend(aux.tolist())
        state["step"] = end
        history["lr_scale"].append(_lr_scale(opt_state))
        bar.update(end - first)
        postfix = {"loss": f"{losses[-1]:.3e}"}
        if val_data is not None:
            v = float(val_loss_of(params))
            history["val_step"].append(end)
            history["val_loss"].append(v)
            postfix["val"] = f"{v:.3e}"
            if v < state["best_val"] * (1 - 1e-6):
                state["best_val"], state["since_best"], best_params = v, 0, params
            else:
                state["since_best"] += 1
        bar.set_postfix(postfix)
        if ckpt is not None and checkpoint_every and (end % checkpoint_every == 0 or end == steps):
            _save_checkpoint(ckpt, (params, opt_state, best_params), state, history)
        if patience is not None and val_data is not None and state["since_best"] >= patience:
            stopped = "early_stopping"
            break
    bar.close()
    final = best_params if val_data is not None and history["val_loss"] else params
    return FitResult(eqx.combine(final, static), history, state["step"], stopped)


def _save_checkpoint(folder: Path, arrays, state: dict, history: dict) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    with atomic_path(folder / "state.eqx") as tmp:
        eqx.tree_serialise_leaves(tmp, arrays)
    write_json(folder / "meta.json", {"state": state, "history": history})


def _load_checkpoint(folder: Path, like):
    params, opt_state, best = eqx.tree_deserialise_leaves(folder / "state.eqx", like)
    meta = json.loads((folder / "meta.json").read_text())
    return params, opt_state, best, meta["state"], meta["history"]

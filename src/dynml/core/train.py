"""`fit`: the jit-compiled optax training loop used by every model in the library.

Steps run in jitted `lax.scan` chunks between log points (few Python round trips). The
training set is shuffled once per epoch: the permutation of epoch `e` is keyed by
`fold_in(key, e)` and drawn once for all the steps of that epoch, so a run resumed from a
checkpoint takes exactly the same steps as an uninterrupted one. Every chunk has the same
compiled length (steps past the chunk's end are skipped by `lax.cond`), so a run compiles its
training step once whatever its log and checkpoint intervals. With `seeds=K` (or `keys=`)
K models are trained together under `equinox.filter_vmap`, each exactly as it would train
alone.
"""

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
from jaxtyping import PRNGKeyArray
from tqdm.auto import tqdm

from . import checkpoint
from .compile import Unkeyable, structural_key
from .data import Trajectories
from .runs import report_divergence

# Above this many int32 entries the per-chunk table of epoch permutations is not built.
_MAX_PERM_TABLE = 50_000_000


@dataclass
class FitResult:
    """What `fit` returns: the trained model, the loss history and why it stopped.

    `history` has `loss` (one value per step), `val_step`/`val_loss` (one per log point when
    validation data is given) and `lr_scale` (reduce-on-plateau factor per log point).
    `stopped` is `"completed"`, `"early_stopping"` or `"nan"`; `diverged` is `True` when the
    NaN guard stopped training (then `model` holds the last parameters with a finite loss).

    For an ensemble (`fit(..., seeds=K)`), `model` is the stacked ensemble (array leaves with
    a leading axis of K), every history entry is a list of K per-seed lists, `steps` is the
    largest member step count, `stopped_members` gives each member's reason and `stopped` is
    `"nan"` only if every member diverged (`diverged_members` says which did). `member(i)`
    returns seed `i` alone as a `FitResult`.
    """

    model: Any
    history: dict[str, list] = field(default_factory=dict)
    steps: int = 0
    stopped: str = "completed"
    stopped_members: list[str] | None = None
    steps_members: list[int] | None = None

    @property
    def diverged(self) -> bool:
        """Whether the NaN guard stopped training (every member, for an ensemble)."""
        return self.stopped == "nan"

    @property
    def diverged_members(self) -> list[bool] | None:
        """Per member of an ensemble: whether the NaN guard stopped it (`None` otherwise)."""
        if self.stopped_members is None:
            return None
        return [s == "nan" for s in self.stopped_members]

    def member(self, i: int) -> "FitResult":
        """Seed `i` of an ensemble as its own `FitResult`."""
        if self.stopped_members is None:
            raise ValueError("member() is for ensembles trained with fit(..., seeds=K)")
        params, static = eqx.partition(self.model, eqx.is_array)
        one = jax.tree_util.tree_map(lambda x: x[i], params)
        history = {k: list(v[i]) for k, v in self.history.items()}
        return FitResult(
            eqx.combine(one, static), history, self.steps_members[i], self.stopped_members[i]
        )


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


def as_training_data(data: Any, name: str = "data") -> Any:
    """`data` checked as a pytree of arrays; a `Trajectories` becomes its one-step pairs.

    A `Trajectories` `traj` is taken as `(x_t, x_{t+dt}, dt)`: `traj.pairs()` with `dt`
    broadcast to one entry per pair (the layout of `identify.as_pairs`). Any other value must
    be a pytree whose leaves are numeric arrays with a leading (sample) axis; a `TypeError`
    names the first leaf that is not.
    """
    if isinstance(data, Trajectories):
        x0, x1, dt = data.pairs()
        return x0, x1, np.full(x0.shape[0], dt, x0.dtype)
    leaves = jax.tree_util.tree_leaves(data)
    if not leaves:
        raise TypeError(f"{name} holds no arrays: give a pytree of arrays or a Trajectories")
    for leaf in leaves:
        kind = getattr(getattr(leaf, "dtype", None), "kind", None)
        if kind is None or kind in "OUS" or np.ndim(leaf) < 1:
            raise TypeError(
                f"{name} must be a Trajectories or a pytree of arrays with a leading sample "
                f"axis; got a leaf of type {type(leaf).__name__} with shape {np.shape(leaf)}"
            )
    return data


def _n_samples(data) -> int:
    sizes = {np.shape(x)[0] for x in jax.tree_util.tree_leaves(data)}
    if len(sizes) != 1:
        raise ValueError(f"all training arrays must share their first dimension, got {sizes}")
    return sizes.pop()


def _lr_scales(opt_state) -> np.ndarray:
    scales = [
        s.scale
        for s in jax.tree_util.tree_leaves(
            opt_state, is_leaf=lambda x: isinstance(x, optax.contrib.ReduceLROnPlateauState)
        )
        if isinstance(s, optax.contrib.ReduceLROnPlateauState)
    ]
    return np.atleast_1d(np.asarray(scales[0], dtype=float)) if scales else None


def _chunk_ends(start: int, steps: int, log_every: int, checkpoint_every: int | None) -> list[int]:
    marks = set(range(log_every, steps, log_every)) | {steps}
    if checkpoint_every:
        marks |= set(range(checkpoint_every, steps, checkpoint_every))
    return sorted(m for m in marks if m > start)


def _chunk_length(steps: int, log_every: int, checkpoint_every: int | None) -> int:
    """The one compiled chunk length: the longest gap between consecutive marks from 0."""
    ends = _chunk_ends(0, steps, log_every, checkpoint_every)
    return max(b - a for a, b in zip([0, *ends[:-1]], ends, strict=True))


def _select(mask, new, old):
    """Per-member `where` over a pytree: `mask` has shape () or (K,) (the leading axis)."""

    def pick(a, b):
        m = jnp.reshape(mask, mask.shape + (1,) * (a.ndim - mask.ndim))
        return jnp.where(m, a, b)

    return jax.tree_util.tree_map(pick, new, old)


def _make_chunk(
    loss_fn, static, opt, *, n, bsz, full_batch, stochastic, has_aux, length, max_perm_table
):
    """The training chunk: `length` steps from `first`, the steps at or after `stop` skipped."""
    spe = max(1, n // bsz)
    n_epochs = (spe - 1 + length - 1) // spe + 1
    table = not full_batch and spe > 1 and n_epochs * n <= max_perm_table

    def perm_of(batch_key, epoch):
        return jax.random.permutation(jax.random.fold_in(batch_key, epoch), n)

    def chunk(data, p, s, p_good, bad, done, keys, first, stop):
        batch_key, loss_key = keys
        e0 = first // spe
        if table:  # one permutation per epoch, not one per step
            perms = jax.vmap(lambda e: perm_of(batch_key, e))(e0 + jnp.arange(n_epochs))

        def batch_at(step):
            if full_batch:
                return data
            epoch, i = step // spe, step % spe
            perm = perms[epoch - e0] if table else perm_of(batch_key, epoch)
            idx = jax.lax.dynamic_slice_in_dim(perm, i * bsz, bsz)
            return jax.tree_util.tree_map(lambda x: x[idx], data)

        def loss_of(p, batch, step):
            m = eqx.combine(p, static)
            if stochastic:
                out = loss_fn(m, batch, jax.random.fold_in(loss_key, step))
            else:
                out = loss_fn(m, batch)
            return out if has_aux else (out, jnp.zeros(0))

        def train_step(carry, step):
            # `p_good`: the latest parameters whose loss and gradient were finite.
            p, s, p_good, bad = carry
            (loss, aux), grads = jax.value_and_grad(loss_of, has_aux=True)(p, batch_at(step), step)
            updates, s_new = opt.update(grads, s, p, value=loss)
            p_new = eqx.apply_updates(p, updates)
            live = ~bad & ~done
            finite = jnp.isfinite(loss) & _all_finite(grads)
            ok = finite & live
            carry = (
                _select(ok, p_new, p),
                _select(ok, s_new, s),
                _select(ok, p, p_good),
                bad | (live & ~finite),
            )
            return carry, (loss.astype(jnp.float32), aux, ok)

        out_shape = jax.eval_shape(train_step, (p, s, p_good, bad), first)[1]

        def skip(carry, step):
            del step
            return carry, jax.tree_util.tree_map(lambda x: jnp.zeros(x.shape, x.dtype), out_shape)

        def one_step(carry, step):
            return jax.lax.cond(step < stop, train_step, skip, carry, step)

        return jax.lax.scan(one_step, (p, s, p_good, bad), first + jnp.arange(length))

    return chunk


# Compiled training chunks, reused by later `fit` calls with the same loss, model structure,
# optimiser settings and sizes (so, e.g., seeds trained one after another compile once). The
# key is structural (`core.compile.structural_key`): a loss or optimiser rebuilt on every call
# from the same code and settings (a fresh `lambda`, a fresh `optax.chain`) still hits.
_COMPILED: dict = {}


def _compiled(loss_fn, static, opt, ensemble, settings):
    """The jitted `(init, run_chunk, val_loss_of)` for this configuration (cached if keyable)."""
    try:
        key = structural_key((loss_fn, static, opt, ensemble, settings))
        hash(key)
    except (Unkeyable, TypeError):
        key = None
    if key is not None and key in _COMPILED:
        return _COMPILED[key]
    chunk = _make_chunk(loss_fn, static, opt, **settings)
    vmap = eqx.filter_vmap if ensemble else (lambda f: f)
    stochastic, has_aux = settings["stochastic"], settings["has_aux"]

    init = eqx.filter_jit(vmap(opt.init))

    @eqx.filter_jit
    def run_chunk(data, p, s, p_good, bad, done, ks, first, stop):
        body = lambda p, s, g, b, d, k: chunk(data, p, s, g, b, d, k, first, stop)
        return vmap(body)(p, s, p_good, bad, done, ks)

    @eqx.filter_jit
    def val_loss_of(val_data, p, ks):
        def one(p, k):
            m = eqx.combine(p, static)
            out = loss_fn(m, val_data, k[1]) if stochastic else loss_fn(m, val_data)
            return out[0] if has_aux else out

        return vmap(one)(p, ks)

    if key is not None:
        if len(_COMPILED) >= 64:
            _COMPILED.pop(next(iter(_COMPILED)))
        _COMPILED[key] = (init, run_chunk, val_loss_of)
    return init, run_chunk, val_loss_of


def fit(
    model: eqx.Module | Callable[[PRNGKeyArray], eqx.Module],
    loss_fn: Callable[..., jax.Array],
    data: Any,
    *,
    steps: int,
    key: PRNGKeyArray,
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
    seeds: int | None = None,
    keys: PRNGKeyArray | None = None,
) -> FitResult:
    """Minimise `loss_fn(model, batch)` (or `loss_fn(model, batch, key)` if `stochastic`).

    `data` is a pytree of arrays sharing their first dimension, or a `Trajectories` (taken
    as its pairs `(x_t, x_{t+dt}, dt)`, see `as_training_data`); each step uses a mini-batch
    of `batch_size` rows (all rows if `None`), drawn without replacement from the epoch's
    permutation. `plateau` holds keyword arguments of `optax.contrib.reduce_on_plateau` (its
    `value` is the step's loss). With `val_data`, the validation loss is computed at every log
    point and the best model is returned; `patience` log points without improvement stop
    early. A non-finite loss or gradient stops training and keeps the last parameters whose
    loss was finite (`result.diverged`). With `checkpoint_dir`, the state is saved every
    `checkpoint_every` steps and training resumes from the last checkpoint found there.

    Seed ensembles: with `seeds=K` (keys `jax.random.split(key, K)`) or `keys` (shape
    `(K,)`), `model` is a factory `key -> Module` and member `i` is exactly
    `fit(model(k_model), ..., key=k_fit)` with `k_model, k_fit = jax.random.split(keys[i])`,
    trained for all members at once under `equinox.filter_vmap` (data shared). Each member
    has its own NaN guard, best validation model and early stopping.
    """
    if steps < 1:
        raise ValueError(f"steps must be a positive integer, got {steps}")
    if log_every < 1:
        raise ValueError(f"log_every must be a positive integer, got {log_every}")
    data = as_training_data(data)
    val_data = None if val_data is None else as_training_data(val_data, "val_data")
    ensemble = seeds is not None or keys is not None
    if ensemble:
        if keys is None:
            if seeds < 1:
                raise ValueError(f"seeds must be a positive integer, got {seeds}")
            keys = jax.random.split(key, seeds)
        if isinstance(model, eqx.Module) or not callable(model):
            raise TypeError("with seeds= or keys=, `model` must be a factory `key -> Module`")
        split = jax.vmap(jax.random.split)(keys)
        model = eqx.filter_vmap(model)(split[:, 0])
        fit_keys = split[:, 1]
        n_members = len(keys)
    else:
        fit_keys, n_members = key, 1
    n = _n_samples(data)
    full_batch = batch_size is None or batch_size >= n
    bsz = n if full_batch else int(batch_size)
    data = jax.tree_util.tree_map(jnp.asarray, data)
    params, static = eqx.partition(model, eqx.is_inexact_array)
    opt = make_optimizer(optimizer, learning_rate, clip_norm, plateau)
    run_keys = (jax.vmap(jax.random.split) if ensemble else jax.random.split)(fit_keys)
    typed = jax.dtypes.issubdtype(run_keys.dtype, jax.dtypes.prng_key)
    run_keys = (
        (run_keys[..., 0], run_keys[..., 1])
        if typed
        else (run_keys[..., 0, :], run_keys[..., 1, :])
    )
    length = _chunk_length(steps, log_every, checkpoint_every)
    settings = dict(
        n=n,
        bsz=bsz,
        full_batch=full_batch,
        stochastic=stochastic,
        has_aux=has_aux,
        length=length,
        max_perm_table=_MAX_PERM_TABLE,  # read at call time: part of the compiled chunk's key
    )
    init, run_chunk, val_loss_of = _compiled(loss_fn, static, opt, ensemble, settings)
    opt_state = init(params)
    names = ["loss", "val_step", "val_loss", "lr_scale"] + (["aux"] if has_aux else [])
    histories = [{k: [] for k in names} for _ in range(n_members)]
    members = [
        {"step": 0, "best_val": float("inf"), "since_best": 0, "stopped": "running"}
        for _ in range(n_members)
    ]
    step = 0
    best_params = params
    ckpt = Path(checkpoint_dir) if checkpoint_dir is not None else None
    if ckpt is not None and checkpoint.latest(ckpt) is not None:
        params, opt_state, best_params, step, members, histories = _load_checkpoint(
            ckpt, (params, opt_state, best_params), members, histories
        )
    shape = (n_members,) if ensemble else ()
    stopped_mask = lambda *why: np.reshape(np.array([m["stopped"] in why for m in members]), shape)
    bad, p_good = stopped_mask("nan"), params
    bar = tqdm(
        total=steps,
        initial=step,
        desc=desc,
        disable=not _progress_enabled(progress),
        file=sys.stderr,
        leave=False,
        dynamic_ncols=True,
    )
    for end in _chunk_ends(step, steps, log_every, checkpoint_every):
        first = step
        (params, opt_state, p_good, bad), (losses, aux, ok) = run_chunk(
            data,
            params,
            opt_state,
            p_good,
            bad,
            stopped_mask("nan", "early_stopping"),
            run_keys,
            jnp.asarray(first),
            jnp.asarray(end),
        )
        if np.any(np.asarray(bad)):  # a diverged member keeps its last good state
            params = _select(bad, p_good, params)
        lead = (lambda x: np.asarray(x)) if ensemble else (lambda x: np.asarray(x)[None])
        losses, aux, ok = (lead(x)[:, : end - first] for x in (losses, aux, ok))
        scales = _lr_scales(opt_state)
        vals = (
            np.atleast_1d(np.asarray(val_loss_of(val_data, params, run_keys)))
            if val_data is not None
            else None
        )
        improved = np.zeros(n_members, bool)
        for i, (m, h) in enumerate(zip(members, histories, strict=True)):
            if m["stopped"] != "running":
                continue
            n_good = int(ok[i].sum())
            h["loss"].extend(losses[i, :n_good].tolist())
            if has_aux:
                h["aux"].extend(aux[i, :n_good].tolist())
            m["step"] = first + n_good
            if n_good < end - first:
                m["stopped"] = "nan"
                who = f"{desc}[seed {i}]" if ensemble else desc
                message = (
                    f"{who}: non-finite loss or gradient at step {m['step']}; stopped and kept "
                    "the last parameters with a finite loss"
                )
                print(message, file=sys.stderr)
                report_divergence(message)
                continue
            h["lr_scale"].append(float(scales[i]) if scales is not None else 1.0)
            if vals is not None:
                v = float(vals[i])
                h["val_step"].append(end)
                h["val_loss"].append(v)
                if v < m["best_val"] * (1 - 1e-6):
                    m["best_val"], m["since_best"], improved[i] = v, 0, True
                else:
                    m["since_best"] += 1
                if patience is not None and m["since_best"] >= patience:
                    m["stopped"] = "early_stopping"
        if vals is not None and improved.all():
            best_params = params
        elif vals is not None and improved.any():
            best_params = _select(jnp.reshape(jnp.asarray(improved), shape), params, best_params)
        step = end
        bar.update(end - first)
        live = [i for i, m in enumerate(members) if m["stopped"] == "running"]
        if live:
            i = live[0]
            postfix = {"loss": f"{histories[i]['loss'][-1]:.3e}"}
            if vals is not None:
                postfix["val"] = f"{vals[i]:.3e}"
            bar.set_postfix(postfix)
        if ckpt is not None and checkpoint_every and (end % checkpoint_every == 0 or end == steps):
            _save_checkpoint(ckpt, (params, opt_state, best_params), step, members, histories)
        if not live:
            break
    bar.close()
    for m in members:
        if m["stopped"] == "running":
            m["stopped"] = "completed"
    has_val = np.array([bool(h["val_loss"]) for h in histories]) if val_data is not None else None
    if has_val is None or not has_val.any():
        final = params
    elif has_val.all():
        final = best_params
    else:
        final = _select(jnp.reshape(jnp.asarray(has_val), shape), best_params, params)
    model = eqx.combine(final, static)
    if not ensemble:
        m = members[0]
        return FitResult(model, histories[0], m["step"], m["stopped"])
    reasons = [m["stopped"] for m in members]
    return FitResult(
        model,
        {k: [h[k] for h in histories] for k in names},
        max(m["step"] for m in members),
        "nan" if all(r == "nan" for r in reasons) else _summary(reasons),
        reasons,
        [m["step"] for m in members],
    )


def _summary(reasons: list[str]) -> str:
    rest = [r for r in reasons if r != "nan"]
    return "early_stopping" if all(r == "early_stopping" for r in rest) else "completed"


def _save_checkpoint(folder: Path, arrays, step: int, members, histories) -> None:
    checkpoint.save(
        folder, step, arrays, {"step": step, "members": members, "histories": histories}
    )


def _load_checkpoint(folder: Path, like, members, histories):
    (params, opt_state, best), meta = checkpoint.load(folder, like)
    if "members" not in meta:  # a checkpoint written before seed ensembles
        state, history = meta["state"], meta["history"]
        member = {
            "step": state["step"],
            "best_val": state["best_val"],
            "since_best": state["since_best"],
            "stopped": "running",
        }
        meta = {"step": state["step"], "members": [member], "histories": [history]}
    if len(meta["members"]) != len(members):
        raise ValueError(
            f"checkpoint in {folder} holds {len(meta['members'])} members, not {len(members)}"
        )
    return params, opt_state, best, meta["step"], meta["members"], meta["histories"]

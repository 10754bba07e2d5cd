"""One training recipe shared by every learned vector field (OnsagerNet and its baselines).

Loss on pairs `(h1, h2)` a time `dt` apart (Yu et al. 2021):
`mean_pairs sum_components |(Heun_dt(h1) - h2) / dt|^2` (the authors' units; `reduction="mean"`
averages over components instead), with Heun's step `h1 + dt/2 [f(h1) + f(h1 + dt f(h1))]`.
Optimiser, as in the authors' code: AdamW with the AMSGrad second moment as PyTorch computes it
(`scale_by_amsgrad_torch`) and no weight decay,
global-norm clipping at 1.0, reduce-on-plateau (x0.5 when more than `patience` epochs pass
without a relative improvement of 1e-4 of the epoch-mean training loss, as PyTorch's
`ReduceLROnPlateau` counts, down to a learning rate of 5e-6).

Several seeds of one model train together: `train_vector_field(build, pairs, seeds=K)` hands a
factory `key -> model` to `core.fit(..., seeds=K)`, which trains the K members under
`equinox.filter_vmap`, each exactly as it would train alone (its own clipping, plateau schedule
and NaN guard). `member(models, i)` takes member `i` out of the stacked result. (The older
`n_members=` path sums the members' losses on a prebuilt `ensemble` and shares one plateau
schedule between them.)
"""

from collections.abc import Callable
from typing import NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
from jaxtyping import Array, ArrayLike, Float, PRNGKeyArray

from ..core.data import Trajectories
from ..core.solve import heun_step
from ..core.train import FitResult, fit

Pairs = tuple[Float[Array, "n dim"], Float[Array, "n dim"], Float[Array, " n"]]


def as_pairs(
    x0: Float[ArrayLike, "n dim"], x1: Float[ArrayLike, "n dim"], dt: Float[ArrayLike, "*n"]
) -> Pairs:
    """Pairs `(h1, h2, dt)` as arrays sharing their first dimension (a scalar `dt` is broadcast)."""
    x0, x1 = jnp.asarray(x0, jnp.float32), jnp.asarray(x1, jnp.float32)
    if x0.shape != x1.shape or x0.ndim != 2:
        raise ValueError(f"pairs need h1, h2 of equal shape (n, dim), got {x0.shape}, {x1.shape}")
    return x0, x1, jnp.broadcast_to(jnp.asarray(dt, jnp.float32), x0.shape[:1])


def _pairs_of(data: "Pairs | Trajectories", name: str) -> Pairs:
    """`data` as `Pairs`: a `Trajectories` gives its one-step pairs `as_pairs(*traj.pairs())`."""
    if isinstance(data, Trajectories):
        return as_pairs(*data.pairs())
    if not (isinstance(data, tuple | list) and len(data) == 3):
        raise TypeError(
            f"{name} must be as_pairs(h1, h2, dt) or a Trajectories, got {type(data).__name__}"
        )
    return data


def heun_loss(
    model: Callable[[Array], Array], pairs: Pairs, *, reduction: str = "sum"
) -> Float[Array, ""]:
    """`mean_pairs sum_i ((Heun_dt(h1) - h2)_i / dt)^2`, the one-step loss (Yu et al. 2021).

    `reduction="sum"` sums over components (the authors' units); `"mean"` averages over them
    (the sum divided by `dim`).
    """
    if reduction not in ("sum", "mean"):
        raise ValueError(f"reduction must be 'sum' or 'mean', got {reduction!r}")
    x0, x1, dt = pairs
    step = jax.vmap(lambda y, d: heun_step(model, y, d))
    sq = jnp.sum(((step(x0, dt) - x1) / dt[:, None]) ** 2, axis=1)
    return jnp.mean(sq) / (x0.shape[1] if reduction == "mean" else 1)


def ensemble(build: Callable[[PRNGKeyArray], eqx.Module], keys: PRNGKeyArray) -> eqx.Module:
    """Members `build(key)` for each key, parameters stacked on a leading axis."""
    return eqx.filter_vmap(build)(keys)


def member(models: eqx.Module, i: int) -> eqx.Module:
    """Member `i` of an ensemble built by `ensemble`."""
    params, static = eqx.partition(models, eqx.is_array)
    return eqx.combine(jax.tree_util.tree_map(lambda a: a[i], params), static)


def summed(loss: Callable[[eqx.Module, Pairs], Array]) -> Callable[[eqx.Module, Pairs], Array]:
    """`loss` summed over ensemble members (each member's gradient is its own loss's gradient)."""

    def total(models: eqx.Module, pairs: Pairs) -> Array:
        return jnp.sum(eqx.filter_vmap(loss, in_axes=(eqx.if_array(0), None))(models, pairs))

    return total


ensemble_loss = summed(heun_loss)


def member_losses(models: eqx.Module, pairs: Pairs, loss=heun_loss) -> Float[np.ndarray, " k"]:
    """Each member's `loss` on `pairs` (e.g. the test one-step MSE per seed)."""
    f = eqx.filter_jit(eqx.filter_vmap(loss, in_axes=(eqx.if_array(0), None)))
    return np.asarray(f(models, pairs))


def select_member(
    models: eqx.Module, pairs: Pairs, loss=heun_loss
) -> tuple[eqx.Module, int, Float[np.ndarray, " k"]]:
    """The member with the lowest `loss` on held-out `pairs` (model selection by validation:
    e.g. the one-step negative log-likelihood), its index and every member's loss."""
    losses = member_losses(models, pairs, loss)
    if not np.isfinite(losses).any():
        raise ValueError("no member has a finite validation loss")
    i = int(np.nanargmin(np.where(np.isfinite(losses), losses, np.nan)))
    return member(models, i), i, losses


def per_member(inner: optax.GradientTransformation) -> optax.GradientTransformation:
    """Apply an optax transform to each ensemble member separately (vmap over axis 0)."""
    return optax.GradientTransformation(
        jax.vmap(inner.init), lambda u, s, p=None: jax.vmap(inner.update)(u, s, p)
    )


class AmsgradState(NamedTuple):
    count: Array
    mu: optax.Updates
    nu: optax.Updates
    nu_max: optax.Updates


def scale_by_amsgrad_torch(
    b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8
) -> optax.GradientTransformation:
    """Adam's step with AMSGrad as PyTorch computes it (`torch.optim.AdamW(amsgrad=True)`).

    `m_t = b1 m + (1 - b1) g`, `v_t = b2 v + (1 - b2) g^2`, `vmax_t = max(vmax, v_t)` on the raw
    second moment, update `(m_t / (1 - b1^t)) / (sqrt(vmax_t / (1 - b2^t)) + eps)` (Reddi, Kale,
    Kumar 2018, with PyTorch's bias corrections). `optax.scale_by_amsgrad` instead takes the
    maximum of the bias-corrected `v_t / (1 - b2^t)`, so one large early gradient (the first
    step's estimate is `g_1^2` itself) caps every later step for ever; PyTorch's raw maximum
    starts at `(1 - b2) g_1^2` and the correction fades as `t` grows.
    """

    def init(params):
        zeros = lambda: jax.tree_util.tree_map(jnp.zeros_like, params)  # noqa: E731
        return AmsgradState(jnp.zeros([], jnp.int32), zeros(), zeros(), zeros())

    def update(grads, state, params=None):
        del params
        t = state.count + 1
        mu = jax.tree_util.tree_map(lambda m, g: b1 * m + (1 - b1) * g, state.mu, grads)
        nu = jax.tree_util.tree_map(lambda v, g: b2 * v + (1 - b2) * g * g, state.nu, grads)
        nu_max = jax.tree_util.tree_map(jnp.maximum, state.nu_max, nu)
        c1 = 1 - b1 ** t.astype(jnp.float32)
        c2 = jnp.sqrt(1 - b2 ** t.astype(jnp.float32))
        step = jax.tree_util.tree_map(lambda m, v: (m / c1) / (jnp.sqrt(v) / c2 + eps), mu, nu_max)
        return step, AmsgradState(t, mu, nu, nu_max)

    return optax.GradientTransformation(init, update)


def adamw_amsgrad(learning_rate: float, weight_decay: float = 0.0) -> optax.GradientTransformation:
    """AdamW with AMSGrad's running maximum of the second moment, as PyTorch computes it
    (`scale_by_amsgrad_torch`; the authors train with `torch.optim.AdamW(amsgrad=True)`)."""
    return optax.chain(
        scale_by_amsgrad_torch(),
        optax.add_decayed_weights(weight_decay),
        optax.scale_by_learning_rate(learning_rate),
    )


SCHEDULES = ("plateau", "cosine")


def train_vector_field(
    model: eqx.Module,
    pairs: "Pairs | Trajectories",
    *,
    epochs: int,
    key: PRNGKeyArray,
    batch_size: int = 200,
    learning_rate: float = 0.0128,
    weight_decay: float = 0.0,
    clip_norm: float = 1.0,
    plateau_patience: int = 25,
    min_learning_rate: float = 5e-6,
    schedule: str = "plateau",
    val_pairs: "Pairs | Trajectories | None" = None,
    n_members: int | None = None,
    seeds: int | None = None,
    log_epochs: int = 10,
    loss: Callable[[eqx.Module, Pairs], Array] = heun_loss,
    progress: bool = True,
    desc: str = "vector field",
) -> FitResult:
    """Fit `model` (or an `ensemble` of `n_members`) by `loss` (one-step Heun) on `pairs`.

    With `seeds=K`, `model` is a factory `key -> model` and K members train together, each
    as if alone (module doc); `result.model` is their stack. `pairs` is `as_pairs(h1, h2, dt)`
    or a `Trajectories` (its one-step pairs `traj.pairs()`, likewise `val_pairs`). Mini-batches of `batch_size`; the learning rate halves
    after `plateau_patience` epochs without improvement of the epoch-averaged training loss
    (`schedule="plateau"`), or follows a cosine decay from `learning_rate` to
    `min_learning_rate` over all steps (`schedule="cosine"`, Loshchilov & Hutter 2017).
    Without `val_pairs` training runs as one compiled scan; with them, the validation loss is
    checked every `log_epochs` epochs and the best model is kept.
    """
    if epochs < 1:
        raise ValueError(f"epochs must be >= 1, got {epochs}")
    if seeds is not None and n_members is not None:
        raise ValueError("give seeds= (independent members) or n_members= (summed), not both")
    pairs = _pairs_of(pairs, "pairs")
    val_pairs = None if val_pairs is None else _pairs_of(val_pairs, "val_pairs")
    if schedule not in SCHEDULES:
        raise ValueError(f"schedule must be one of {SCHEDULES}, got {schedule!r}")
    n = pairs[0].shape[0]
    steps_per_epoch = max(1, n // min(batch_size, n))
    loss = loss if n_members is None else summed(loss)
    clip = optax.clip_by_global_norm(clip_norm)
    rate = learning_rate
    if schedule == "cosine":
        alpha = min(1.0, min_learning_rate / learning_rate)
        rate = optax.cosine_decay_schedule(learning_rate, epochs * steps_per_epoch, alpha=alpha)
    optimizer = optax.chain(
        clip if n_members is None else per_member(clip),
        adamw_amsgrad(rate, weight_decay),
    )
    plateau = (
        None
        if schedule == "cosine"
        else dict(
            factor=0.5,
            patience=plateau_patience + 1,  # PyTorch reduces after `patience` + 1 bad epochs
            accumulation_size=steps_per_epoch,
            rtol=1e-4,
            min_scale=min(1.0, min_learning_rate / learning_rate),
        )
    )
    return fit(
        model,
        loss,
        pairs,
        steps=epochs * steps_per_epoch,
        key=key,
        optimizer=optimizer,
        batch_size=batch_size,
        plateau=plateau,
        val_data=val_pairs,
        log_every=epochs * steps_per_epoch if val_pairs is None else steps_per_epoch * log_epochs,
        progress=progress,
        desc=desc,
        **({} if seeds is None else {"seeds": seeds}),
    )

"""Independent training runs as one vmapped ensemble, with per-member divergence.

`core.fit` stops a whole ensemble when one member's loss turns non-finite; for sweeps (one
member per `1/ω` and seed) each member must instead be stopped alone and counted. Here member
`i` is trained on its own target with an element-wise optimiser (SGD, Adam: the stacked update
equals `n` separate runs); a member whose loss or gradient turns non-finite is frozen at its
last finite parameters and flagged `diverged`, and its later losses are NaN.
"""

from collections.abc import Callable
from dataclasses import dataclass

import equinox as eqx
import jax
import jax.flatten_util
import jax.numpy as jnp
import numpy as np
import optax
from jaxtyping import Array, Float, PRNGKeyArray, PyTree


@dataclass(frozen=True)
class EnsembleResult:
    """`model` (stacked), `losses (steps, n)` (NaN after divergence), `diverged (n,)` and
    `diverged_at (n,)` (the first non-finite step, or -1)."""

    model: eqx.Module
    losses: np.ndarray
    diverged: np.ndarray
    diverged_at: np.ndarray


def train_ensemble(
    models: eqx.Module,
    loss_fn: Callable[..., Float[Array, ""]],
    targets: PyTree,
    optimizer: optax.GradientTransformation,
    steps: int,
    *,
    data: PyTree | None = None,
    batch_size: int | None = None,
    key: PRNGKeyArray | None = None,
    chunk: int = 1000,
) -> EnsembleResult:
    """Train member `i` of a stacked ensemble (`stack`) on `loss_fn(model_i, target_i[, batch])`.

    With `data` (arrays with a leading sample axis) each step draws one mini-batch of
    `batch_size` samples (shared by all members) and passes it as the third argument.
    """
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    params, static = eqx.partition(models, eqx.is_inexact_array)
    n = jax.tree_util.tree_leaves(params)[0].shape[0]
    key = jax.random.PRNGKey(0) if key is None else key

    def member_loss(p, target, batch):
        model = eqx.combine(p, static)
        return loss_fn(model, target) if data is None else loss_fn(model, target, batch)

    value_and_grad = jax.vmap(jax.value_and_grad(member_loss), in_axes=(0, 0, None))

    def step(carry, k):
        p, state, dead, dead_at, i = carry
        batch = None
        if data is not None:
            n_data = jax.tree_util.tree_leaves(data)[0].shape[0]
            idx = jax.random.choice(k, n_data, (batch_size or n_data,), replace=False)
            batch = jax.tree_util.tree_map(lambda a: a[idx], data)
        loss, grads = value_and_grad(p, targets, batch)
        finite = jnp.isfinite(loss)
        for g in jax.tree_util.tree_leaves(grads):
            finite &= jnp.all(jnp.isfinite(g.reshape(n, -1)), axis=1)
        now_dead = dead | ~finite
        mask = lambda a: now_dead.reshape((n,) + (1,) * (a.ndim - 1))
        grads = jax.tree_util.tree_map(lambda g: jnp.where(mask(g), 0.0, g), grads)
        updates, new_state = optimizer.update(grads, state, p)
        new_p = optax.apply_updates(p, updates)
        new_p = jax.tree_util.tree_map(lambda a, b: jnp.where(mask(a), a, b), p, new_p)
        dead_at = jnp.where(now_dead & ~dead, i, dead_at)
        return (new_p, new_state, now_dead, dead_at, i + 1), jnp.where(now_dead, jnp.nan, loss)

    @eqx.filter_jit
    def run_chunk(carry, keys):
        return jax.lax.scan(step, carry, keys)

    carry = (params, optimizer.init(params), jnp.zeros(n, bool), -jnp.ones(n, int), jnp.asarray(0))
    losses, done = [], 0
    while done < steps:
        size = min(chunk, steps - done)
        keys = jax.random.split(jax.random.fold_in(key, done), chunk)[:size]
        carry, chunk_losses = run_chunk(carry, keys)
        losses.append(np.asarray(chunk_losses))
        done += size
    p, _, dead, dead_at, _ = carry
    return EnsembleResult(
        eqx.combine(p, static), np.concatenate(losses), np.asarray(dead), np.asarray(dead_at)
    )


def gradient_flow_ensemble(
    models: eqx.Module,
    loss_fn: Callable[[eqx.Module, PyTree], Float[Array, ""]],
    targets: PyTree,
    ts: Float[np.ndarray, " n_t"],
    *,
    rtol: float = 1e-4,
    atol: float = 1e-7,
    max_steps: int = 100_000,
) -> np.ndarray:
    """Gradient flow `θ̇_i = -∇L_i(θ_i)` of every member of a stacked ensemble, solved as one
    state by an adaptive Runge–Kutta method (`core.solve`, Tsit5); losses `(n_t, n)` at `ts`.

    The continuous-time limit of gradient descent analysed by Li, Han, E, Li (JMLR 2022):
    no learning rate, so no edge-of-stability spikes; escape times are in units of flow time.
    A member whose loss is not finite at a saved time is reported as NaN there.
    """
    from ..core.solve import solve

    params, static = eqx.partition(models, eqx.is_inexact_array)
    flat, unravel = jax.flatten_util.ravel_pytree(params)

    def losses(y):
        p = unravel(y)
        return jax.vmap(lambda q, tgt: loss_fn(eqx.combine(q, static), tgt))(p, targets)

    def field(t, y, args):
        return -jax.grad(lambda z: jnp.sum(losses(z)))(y)

    ys = solve(field, flat, jnp.asarray(ts), rtol=rtol, atol=atol, max_steps=max_steps)
    out = np.asarray(jax.vmap(losses)(ys))
    return np.where(np.isfinite(out), out, np.nan)

"""Method of successive approximations (MSA) and extended MSA (Li, Chen, Tai, E, JMLR 2018).

One MSA iteration on a batch: forward states, backward costates (`pmp`), then every layer's
control maximises its (extended) Hamiltonian with `x` and `p` frozen. The extended Hamiltonian
(per-sample feasibility errors; costates are `O(1/S)`, hence the factor `S`)

    H̃_t(θ) = H_t(x_t, p_{t+1}, θ) − (ρ/2)(1/S) ‖x_{t+1} − f_t(x_t, θ)‖²
              − (ρ/2) S ‖p_t − ∇_x H_t(x_t, p_{t+1}, θ)‖² − (reg/2)‖θ‖²

penalises moves that break the forward/backward equations, so `1/ρ` acts as a step size;
`ρ = 0` is the basic MSA. The layers are independent given `x` and `p`, so all of them are
solved at once as one optimisation of the separable sum `Σ_t H̃_t(θ_t)` (a few L-BFGS or
gradient steps; with a per-coordinate optimiser this is exactly one solve per layer).

`MSA` has an optax-like interface (`init`, `update`), and `msa_fit` is the jitted training loop
that mirrors `core.fit`, so MSA is compared with SGD/Adam at matched iterations.
"""

import time
from collections.abc import Callable
from typing import NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

from ..core.train import FitResult
from .pmp import Terminal, costate_step, sq_norm, states_and_costates


def extended_hamiltonian(layers, xs, ps, rho: float, reg: float, filter_spec=eqx.is_inexact_array):
    """`Σ_t H̃_t(x_t, p_{t+1}, θ_t)` (see the module docstring); `ρ = 0` gives `Σ_t H_t`."""
    s = xs[0].shape[0]
    total = -0.5 * reg * sq_norm(eqx.filter(layers, filter_spec))
    for f, x, x_next, p, p_next in zip(layers, xs[:-1], xs[1:], ps[:-1], ps[1:], strict=True):
        out = f(x)
        total = total + jnp.sum(p_next * out)
        if rho > 0:
            dp = p - costate_step(f, x, p_next)
            total = total - 0.5 * rho * (jnp.sum((x_next - out) ** 2) / s + s * jnp.sum(dp**2))
    return total


def _inner_solver(name: str, learning_rate: float) -> optax.GradientTransformationExtraArgs:
    if name == "lbfgs":
        return optax.lbfgs()
    if name in ("adam", "sgd"):
        return optax.with_extra_args_support(getattr(optax, name)(learning_rate))
    raise ValueError(f"inner solver must be 'lbfgs', 'adam' or 'sgd', got {name!r}")


class MSA(NamedTuple):
    """Extended MSA as an optax-like transform (`rho=0`: basic MSA).

    `update(layers, state, batch, terminal)` returns `(new_layers, state, loss)` where `batch`
    is `(x, y)` and `loss` is the mean terminal loss before the update. Controls are the leaves
    selected by `filter_spec` (every inexact array by default).
    """

    rho: float = 1.0
    reg: float = 0.0
    inner_steps: int = 10
    inner: str = "lbfgs"
    inner_lr: float = 0.01
    filter_spec: Callable | object = eqx.is_inexact_array

    def init(self, layers) -> tuple:
        if self.rho < 0 or self.reg < 0 or self.inner_steps < 1:
            raise ValueError("MSA needs rho >= 0, reg >= 0 and inner_steps >= 1")
        _inner_solver(self.inner, self.inner_lr)
        return ()

    def update(self, layers, state, batch, terminal: Terminal):
        x, y = batch
        value, xs, ps = states_and_costates(layers, x, y, terminal)
        return maximise_hamiltonian(self, layers, xs, ps), state, value


def maximise_hamiltonian(method: MSA, layers, xs, ps):
    """All layers' `argmax_θ H̃_t` at once: `inner_steps` steps of the inner solver from `θ`."""
    theta, static = eqx.partition(layers, method.filter_spec)
    xs, ps = jax.lax.stop_gradient((xs, ps))

    def objective(th):
        return -extended_hamiltonian(
            eqx.combine(th, static), xs, ps, method.rho, method.reg, method.filter_spec
        )

    solver = _inner_solver(method.inner, method.inner_lr)
    if method.inner == "lbfgs":
        value_and_grad = optax.value_and_grad_from_state(objective)
    else:
        value_and_grad = lambda th, state: jax.value_and_grad(objective)(th)  # noqa: E731

    def body(carry, _):
        th, s = carry
        value, grad = value_and_grad(th, state=s)
        updates, s = solver.update(grad, s, th, value=value, grad=grad, value_fn=objective)
        return (optax.apply_updates(th, updates), s), None

    (theta, _), _ = jax.lax.scan(body, (theta, solver.init(theta)), None, method.inner_steps)
    return eqx.combine(theta, static)


def msa_fit(
    layers,
    terminal: Terminal,
    data: tuple,
    method: MSA,
    *,
    steps: int,
    key: jax.Array,
    batch_size: int | None = None,
) -> FitResult:
    """Train `layers` by `method` for `steps` iterations (one jitted `lax.scan`).

    Mini-batches are drawn from a fresh permutation each epoch (all rows if `batch_size` is
    `None`). `history["loss"]` holds the batch loss before each step, as in `core.fit`; a
    non-finite loss stops the record there (`stopped="nan"`). The loop is compiled ahead of
    time, so `history["seconds_per_step"]` is the wall time of one iteration without compiling.
    """
    if steps < 1:
        raise ValueError(f"steps must be a positive integer, got {steps}")
    x, y = (jnp.asarray(a) for a in data)
    n = x.shape[0]
    bsz = n if batch_size is None or batch_size >= n else int(batch_size)
    per_epoch = n // bsz
    state = method.init(layers)
    params, static = eqx.partition(layers, eqx.is_array)

    def step(carry, i):
        p, s = carry
        perm = jax.random.permutation(jax.random.fold_in(key, i // per_epoch), n)
        idx = jax.lax.dynamic_slice_in_dim(perm, (i % per_epoch) * bsz, bsz)
        new, s, value = method.update(eqx.combine(p, static), s, (x[idx], y[idx]), terminal)
        return (eqx.filter(new, eqx.is_array), s), value

    run = jax.jit(lambda p, s: jax.lax.scan(step, (p, s), jnp.arange(steps)))
    compiled = run.lower(params, state).compile()
    start = time.perf_counter()
    (params, _), losses = jax.block_until_ready(compiled(params, state))
    seconds = time.perf_counter() - start
    losses = np.asarray(losses)
    bad = ~np.isfinite(losses)
    stopped = "nan" if bad.any() else "completed"
    kept = losses[: int(np.argmax(bad))] if bad.any() else losses
    history = {"loss": kept.tolist(), "seconds_per_step": seconds / steps}
    return FitResult(eqx.combine(params, static), history, len(kept), stopped)


def gradient_seconds_per_step(loss_fn, model, batch, optimizer, steps: int = 50) -> float:
    """Wall seconds of one `optimizer` step on `loss_fn(model, batch)`, compile time excluded.

    The steps run in one ahead-of-time compiled `lax.scan`, as in `msa_fit`, so the two are
    timed the same way.
    """
    params, static = eqx.partition(model, eqx.is_inexact_array)
    grad_fn = jax.grad(lambda p: loss_fn(eqx.combine(p, static), batch))

    def step(carry, _):
        p, s = carry
        updates, s = optimizer.update(grad_fn(p), s, p)
        return (optax.apply_updates(p, updates), s), None

    run = jax.jit(lambda p, s: jax.lax.scan(step, (p, s), None, steps)[0])
    state = optimizer.init(params)
    compiled = run.lower(params, state).compile()
    start = time.perf_counter()
    jax.block_until_ready(compiled(params, state))
    return (time.perf_counter() - start) / steps

"""Method of successive approximations (MSA) and extended MSA (Li, Chen, Tai, E, JMLR 2018).

One MSA iteration on a batch: forward states, backward costates (`pmp`), then every layer's
control maximises its (extended) Hamiltonian with `x` and `p` frozen. The extended Hamiltonian
(per-sample feasibility errors; costates are `O(1/S)`, hence the factor `S`)

    H̃_t(θ) = H_t(x_t, p_{t+1}, θ) − (ρ/2)(1/S) ‖x_{t+1} − f_t(x_t, θ)‖²
              − (ρ/2) S ‖p_t − ∇_x H_t(x_t, p_{t+1}, θ)‖² − (reg/2)‖θ‖²

penalises moves that break the forward/backward equations, so `1/ρ` acts as a step size;
`ρ = 0` is the basic MSA. The layers are independent given `x` and `p`, so all of them are
solved at once as one optimisation of the separable sum `Σ_t H̃_t(θ_t)`; layers with the same
structure and input shape are evaluated as one `vmap`ped layer (one batched call instead of a
Python loop over depth). The inner solver (`adam`, `sgd` or `lbfgs`) runs `inner_steps` steps
per iteration; the first-order solvers keep their state from one iteration to the next (warm
start), so a few inner steps suffice.

`MSA` has an optax-like interface (`init`, `update`), and `msa_fit(model, loss, data)` is the
jitted training loop that mirrors `core.fit` for any model built from layers.
"""

import time
from collections.abc import Callable
from typing import Any, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
from jaxtyping import Array, PRNGKeyArray

from ..core.train import FitResult
from .pmp import Terminal, sq_norm, states_costates_gradients


def _term(f, x, x_next, p, p_next, rho, s):
    """`H_t − (ρ/2)((1/S)‖x_{t+1} − f_t‖² + S‖p_t − ∇_x H_t‖²)` of one layer."""
    out, pull = jax.vjp(f, x)
    total = jnp.sum(p_next * out)
    if rho > 0:
        dp = p - pull(p_next)[0]
        total = total - 0.5 * rho * (jnp.sum((x_next - out) ** 2) / s + s * jnp.sum(dp**2))
    return total


def _groups(layers, xs) -> list[list[int]]:
    """Indices of layers sharing structure, static fields, leaf shapes and input shape (other
    leaves, such as functions, must be the same objects)."""
    groups: dict[Any, list[int]] = {}
    for t, (f, x) in enumerate(zip(layers, xs, strict=False)):
        leaves, treedef = jax.tree_util.tree_flatten(f)
        shapes = tuple((v.shape, v.dtype) if eqx.is_array(v) else id(v) for v in leaves)
        groups.setdefault((treedef, shapes, x.shape), []).append(t)
    return list(groups.values())


def extended_hamiltonian(layers, xs, ps, rho: float, reg: float, filter_spec=eqx.is_inexact_array):
    """`Σ_t H̃_t(x_t, p_{t+1}, θ_t)` (see the module docstring); `ρ = 0` gives `Σ_t H_t`."""
    s = xs[0].shape[0]
    total = -0.5 * reg * sq_norm(eqx.filter(layers, filter_spec))
    for idx in _groups(layers, xs[:-1]):
        if len(idx) == 1:
            t = idx[0]
            total = total + _term(layers[t], xs[t], xs[t + 1], ps[t], ps[t + 1], rho, s)
            continue
        stack = lambda *a: jnp.stack(a)  # noqa: E731
        group = [layers[t] for t in idx]
        params, static = eqx.partition(group[0], eqx.is_array)
        stacked = jax.tree_util.tree_map(stack, *[eqx.filter(f, eqx.is_array) for f in group])
        args = [jnp.stack([a[t + k] for t in idx]) for a, k in ((xs, 0), (xs, 1), (ps, 0), (ps, 1))]

        def one(th, x, xn, p, pn, static=static):
            return _term(eqx.combine(th, static), x, xn, p, pn, rho, s)

        total = total + jnp.sum(jax.vmap(one)(stacked, *args))
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
    selected by `filter_spec` (every inexact array by default). With `warm_start` (first-order
    inner solvers only) the inner optimiser's state carries over between iterations; L-BFGS
    restarts each iteration, since its line search caches the previous objective's values.
    """

    rho: float = 1.0
    reg: float = 0.0
    inner_steps: int = 10
    inner: str = "lbfgs"
    inner_lr: float = 0.01
    filter_spec: Callable | object = eqx.is_inexact_array
    warm_start: bool = True

    def init(self, layers) -> tuple:
        if self.rho < 0 or self.reg < 0 or self.inner_steps < 1:
            raise ValueError("MSA needs rho >= 0, reg >= 0 and inner_steps >= 1")
        solver = _inner_solver(self.inner, self.inner_lr)
        if self.warm_start and self.inner != "lbfgs":
            return (solver.init(eqx.filter(layers, self.filter_spec)),)
        return ()

    def update(self, layers, state, batch, terminal: Terminal):
        x, y = batch
        value, xs, ps, dh = states_costates_gradients(layers, x, y, terminal, self.filter_spec)
        start = _start(self, layers, xs, ps, dh)
        new, inner_state = _maximise(self, layers, xs, ps, state[0] if state else None, start)
        return new, ((inner_state,) if state else ()), value


def _start(method: MSA, layers, xs, ps, dh):
    """`(−H̃, −∇_θ H̃)` at the passes' own controls, from the passes alone.

    There `x_{t+1} = f_t(x_t, θ_t)` and `p_t = ∇_x H_t(x_t, p_{t+1}, θ_t)` hold exactly, so both
    feasibility errors and their gradients vanish: `H̃ = Σ_t p_{t+1}·x_{t+1} − (reg/2)‖θ‖²` and
    `∇_θ H̃ = ∂H/∂θ − reg·θ`, with `∂H/∂θ` from the backward pass. The first inner step thus
    costs no extra evaluation (only later steps see the ρ terms).
    """
    theta = eqx.filter(layers, method.filter_spec)
    h = sum((jnp.sum(p * x) for x, p in zip(xs[1:], ps[1:], strict=True)), jnp.array(0.0))
    value = 0.5 * method.reg * sq_norm(theta) - h
    grad = jax.tree_util.tree_map(lambda g, th: method.reg * th - g, dh, theta)
    return jax.lax.stop_gradient((value, grad))


def maximise_hamiltonian(method: MSA, layers, xs, ps):
    """All layers' `argmax_θ H̃_t` at once: `inner_steps` steps of the inner solver from `θ`."""
    return _maximise(method, layers, xs, ps, None)[0]


def _maximise(method: MSA, layers, xs, ps, inner_state, start=None):
    """`inner_steps` steps of the inner solver on `−Σ_t H̃_t`; `start`, if given, is the
    objective's `(value, gradient)` at `θ` (see `_start`), used by the first step."""
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

    def step(th, s, value, grad):
        updates, s = solver.update(grad, s, th, value=value, grad=grad, value_fn=objective)
        return optax.apply_updates(th, updates), s

    def body(carry, _):
        th, s = carry
        return step(th, s, *value_and_grad(th, state=s)), None

    s = solver.init(theta) if inner_state is None else inner_state
    steps = method.inner_steps
    if start is not None:
        theta, s = step(theta, s, *start)
        steps -= 1
    if steps:
        (theta, s), _ = jax.lax.scan(body, (theta, s), None, steps)
    return eqx.combine(theta, static), s


class _PerSample(eqx.Module):
    """A per-sample layer (an `equinox.nn` layer, say) applied to a batch by `vmap`."""

    layer: Any

    def __call__(self, x: Array) -> Array:
        return jax.vmap(self.layer)(x)


def as_layers(model, x: Array) -> tuple[tuple, Callable]:
    """Split `model` into layers `x_{t+1} = f_t(x_t)` acting on batches, and a function that
    puts trained layers back into a model of the same type.

    Accepted: a tuple or list of layers, or an equinox Module with a `layers` tuple/list that
    its `__call__` applies in order (`equinox.nn.Sequential`, for one). Layers may act on
    batches `(S, ...)` or, if `model` acts per sample, on single samples. Anything else raises
    a `TypeError`/`ValueError` that says why (the check runs the model once on `x[:2]`).
    """
    if isinstance(model, tuple | list):
        layers, rebuild = tuple(model), type(model)
    elif isinstance(model, eqx.Module) and isinstance(getattr(model, "layers", None), tuple | list):
        kind = type(model.layers)
        layers = tuple(model.layers)
        rebuild = lambda ls: eqx.tree_at(lambda m: m.layers, model, kind(ls))  # noqa: E731
    else:
        raise TypeError(
            "msa_fit needs a model built from layers: a tuple of layers, or an equinox Module "
            "with a `layers` tuple that __call__ applies in order (like equinox.nn.Sequential); "
            f"got {type(model).__name__}"
        )
    if not layers or not all(callable(f) for f in layers):
        raise TypeError("msa_fit: every layer must be callable, and there must be at least one")
    probe = x[:2]
    call = model if isinstance(model, eqx.Module) else None
    per_sample = False
    if call is not None:
        try:
            expected = call(probe)
        except Exception:  # noqa: BLE001 - a per-sample model fails on a batch
            expected, per_sample = jax.vmap(call)(probe), True
    wrapped = tuple(_PerSample(f) for f in layers) if per_sample else layers
    out = probe
    try:
        for f in wrapped:
            out = f(out)
    except Exception as err:  # noqa: BLE001
        raise ValueError(f"msa_fit: the layers cannot be applied in sequence ({err})") from None
    if call is not None and not (
        out.shape == expected.shape and jnp.allclose(out, expected, rtol=1e-5, atol=1e-6)
    ):
        raise ValueError(
            "msa_fit cannot split this model: model(x) differs from applying model.layers in "
            "order (its __call__ does something between the layers, such as an activation); "
            "write it as a tuple of layers, e.g. with equinox.nn.Lambda for the activation"
        )
    if per_sample:
        return wrapped, lambda ls: rebuild(tuple(f.layer for f in ls))
    return wrapped, rebuild


# Iterations per compiled chunk: every `msa_fit` call runs the same compiled loop of at most
# this many iterations (a traced trip count), whatever its step count.
_CHUNK = 64


@eqx.filter_jit
def _scan_fit(params, static, state, method, loss, x, y, key, first, stop, bsz: int):
    """Iterations `first, ..., min(stop, first + _CHUNK) - 1` of `method` in one loop (the
    values of iterations not run are 0); mini-batch `i` is slice `i mod E` of epoch `i // E`'s
    permutation (`E = n // bsz`).

    Module-level and filter-jitted: arrays (parameters, data, the arrays inside `loss`, say a
    `jax.tree_util.Partial`, and the iteration counters) are traced and everything else is
    static, so a later call with the same model structure, method (its hyperparameters
    included), loss function and shapes reuses the compiled loop whatever its number of
    iterations. The method's floats stay compiled in: traced, they would let XLA fold its
    constants differently and change the iterates in the last bits, which a run started at a
    saddle (the toy net at zero weights) amplifies.
    """
    n = x.shape[0]
    per_epoch = n // bsz

    def step(carry, i):
        p, s = carry
        perm = jax.random.permutation(jax.random.fold_in(key, i // per_epoch), n)
        idx = jax.lax.dynamic_slice_in_dim(perm, (i % per_epoch) * bsz, bsz)
        new, s, value = method.update(eqx.combine(p, static), s, (x[idx], y[idx]), loss)
        return (eqx.filter(new, eqx.is_array), s), value

    value = jax.eval_shape(step, (params, state), first)[1]

    def body(i, carry):
        p, s, values = carry
        (p, s), v = step((p, s), i)
        return p, s, jax.lax.dynamic_update_index_in_dim(values, v, i - first, 0)

    # a loop with a traced trip count: a `lax.cond` per iteration measured up to 1.5x slower
    values = jnp.zeros((_CHUNK, *value.shape), value.dtype)
    end = jnp.minimum(stop, first + _CHUNK)
    p, s, values = jax.lax.fori_loop(first, end, body, (params, state, values))
    return (p, s), values


def msa_fit(
    model,
    loss: Terminal,
    data: tuple,
    method=None,
    *,
    steps: int,
    key: PRNGKeyArray,
    batch_size: int | None = None,
) -> FitResult:
    """Train `model` by (extended) MSA for `steps` iterations (one jitted `lax.scan`).

    `model`: a tuple of layers or an equinox Module made of them (see `as_layers`); `loss`:
    the terminal loss `Φ(output, y)` per sample; `data = (x, y)`; `method`: `MSA(...)` (default
    `MSA()`: E-MSA, ρ = 1, 10 L-BFGS steps) or `discrete.DiscreteMSA`. Mini-batches are drawn
    from a fresh permutation each epoch (all rows if `batch_size` is `None`). `history["loss"]`
    holds the batch loss before each step, as in `core.fit`; a non-finite loss stops the record
    there (`stopped="nan"`). The loop is compiled ahead of time, so
    `history["seconds_per_step"]` is the wall time of one iteration without compiling
    (`history["cpu_seconds_per_step"]`: the process's CPU time, all threads).

    ```python
    net = equinox.nn.Sequential([equinox.nn.Linear(2, 8, key=k1), equinox.nn.Lambda(jnp.tanh),
                                 equinox.nn.Linear(8, 1, key=k2)])
    res = msa_fit(net, lambda out, y: (out[:, 0] - y) ** 2, (x, y),
                  MSA(rho=1.0, inner="adam", inner_lr=0.01, inner_steps=3), steps=200, key=k3)
    ```
    """
    if steps < 1:
        raise ValueError(f"steps must be a positive integer, got {steps}")
    method = MSA() if method is None else method
    x, y = (jnp.asarray(a) for a in data)
    layers, rebuild = as_layers(model, x)
    n = x.shape[0]
    bsz = n if batch_size is None or batch_size >= n else int(batch_size)
    state = method.init(layers)
    params, static = eqx.partition(layers, eqx.is_array)
    stop, zero = jnp.asarray(steps), jnp.asarray(0)
    compiled = _scan_fit.lower(params, static, state, method, loss, x, y, key, zero, stop, bsz)
    compiled = compiled.compile()
    chunks = []
    start, cpu = time.perf_counter(), time.process_time()
    for first in range(0, steps, _CHUNK):
        (params, state), values = compiled(
            params, static, state, method, loss, x, y, key, jnp.asarray(first), stop, bsz
        )
        chunks.append(values)
    jax.block_until_ready((params, chunks))
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    losses = np.concatenate([np.asarray(c) for c in chunks])[:steps]
    bad = ~np.isfinite(losses)
    stopped = "nan" if bad.any() else "completed"
    kept = losses[: int(np.argmax(bad))] if bad.any() else losses
    history = {
        "loss": kept.tolist(),
        "seconds_per_step": seconds / steps,
        "cpu_seconds_per_step": cpu / steps,
    }
    return FitResult(rebuild(eqx.combine(params, static)), history, len(kept), stopped)


@eqx.filter_jit
def _gradient_steps(params, state, batch, static, loss_fn, optimizer, steps):
    """`steps` optimizer steps on `loss_fn(combine(params, static), batch)` as one scan."""
    grad_fn = jax.grad(lambda p: loss_fn(eqx.combine(p, static), batch))

    def step(carry, _):
        p, s = carry
        updates, s = optimizer.update(grad_fn(p), s, p)
        return (optax.apply_updates(p, updates), s), None

    return jax.lax.scan(step, (params, state), None, steps)[0]


def gradient_seconds_per_step(
    loss_fn, model, batch, optimizer, steps: int = 50, clock: Callable = time.perf_counter
) -> float:
    """Wall seconds of one `optimizer` step on `loss_fn(model, batch)`, compile time excluded
    (`clock=time.process_time`: CPU seconds of the process instead).

    The steps run in one jitted `lax.scan`, as in `msa_fit`, so the two are timed the same
    way. The function is jitted once at module level with the batch as an argument (not a
    baked-in constant), so calls with the same loss, optimizer, structure and shapes reuse
    one executable; a first call warms it up before the timed call.
    """
    params, static = eqx.partition(model, eqx.is_inexact_array)
    state = optimizer.init(params)
    args = (params, state, batch, static, loss_fn, optimizer, steps)
    jax.block_until_ready(_gradient_steps(*args))  # compiles once per signature
    start = clock()
    jax.block_until_ready(_gradient_steps(*args))
    return (clock() - start) / steps

"""The one door to diffrax: `solve` a vector field over given times, and one-step maps.

`solve(field, y0, ts, ...)` takes an `AbstractVectorField` (`field(h)`), a plain callable
`f(y)`, `f(t, y)` or the diffrax signature `f(t, y, args)` (see `core.field.as_field`). With
`batch=True` the field is written for one state of shape `(dim,)` and is vmapped over the
leading axis of `y0`, so a whole batch is integrated as one state of shape `(batch, dim)` on
a shared grid.

Two paths, each jitted once per field structure and shape (the field is wrapped in an
equinox module, never in a fresh closure, so repeated calls reuse the compiled solver):

- fixed-step explicit Runge–Kutta (`euler`, `heun`, `midpoint`, `rk4` with a step `dt`): a
  `lax.scan` over the Butcher tableau, stepping exactly onto every save time (each interval
  `[ts[i], ts[i+1]]` in `ceil(Δ/dt)` equal steps). It compiles faster and steps cheaper than
  the general-purpose diffrax loop; backprop stores every step (no recomputation).
- diffrax (Kidger 2021) for adaptive steps, `backsolve` adjoints, `saveat` (dense output),
  diffrax solver objects (e.g. `diffrax.Kvaerno5()` for stiff problems) and SDEs.
"""

from collections.abc import Callable

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float

from .field import as_field

Field = Callable[[ArrayLike, Array, object], Array]

_rk4_tableau = diffrax.ButcherTableau(
    a_lower=(np.array([0.5]), np.array([0.0, 0.5]), np.array([0.0, 0.0, 1.0])),
    b_sol=np.array([1 / 6, 1 / 3, 1 / 3, 1 / 6]),
    b_error=np.zeros(4),
    c=np.array([0.5, 0.5, 1.0]),
)


class RK4(diffrax.AbstractERK):
    """Classical fourth-order Runge–Kutta (fixed step only: it has no error estimate)."""

    tableau = _rk4_tableau
    interpolation_cls = diffrax.ThirdOrderHermitePolynomialInterpolation.from_k

    def order(self, terms):
        del terms
        return 4


SOLVERS: dict[str, type] = {
    "euler": diffrax.Euler,
    "heun": diffrax.Heun,
    "midpoint": diffrax.Midpoint,
    "rk4": RK4,
    "tsit5": diffrax.Tsit5,
    "dopri5": diffrax.Dopri5,
}
_ADAPTIVE = {"heun", "tsit5", "dopri5"}
ADJOINTS: dict[str, Callable[[], diffrax.AbstractAdjoint]] = {
    "checkpoint": diffrax.RecursiveCheckpointAdjoint,
    "direct": diffrax.DirectAdjoint,
    "backsolve": diffrax.BacksolveAdjoint,
}

# Explicit Butcher tableaus (c, a rows, b) of the fixed-step scan path.
TABLEAUS: dict[str, tuple[tuple[float, ...], tuple[tuple[float, ...], ...], tuple[float, ...]]] = {
    "euler": ((0.0,), ((),), (1.0,)),
    "heun": ((0.0, 1.0), ((), (1.0,)), (0.5, 0.5)),
    "midpoint": ((0.0, 0.5), ((), (0.5,)), (0.0, 1.0)),
    "rk4": (
        (0.0, 0.5, 0.5, 1.0),
        ((), (0.5,), (0.0, 0.5), (0.0, 0.0, 1.0)),
        (1 / 6, 1 / 3, 1 / 3, 1 / 6),
    ),
}


class _Batched(eqx.Module):
    """A field on `(dim,)` states applied to every row of a `(batch, dim)` state."""

    field: Callable

    def __call__(self, t, y, args):
        return jax.vmap(lambda yi: self.field(t, yi, args))(y)


def rk_step(
    tableau: str,
    field: Field,
    t: Float[ArrayLike, ""],
    y: Float[Array, "*shape"],
    h: Float[ArrayLike, ""],
    args: object = None,
) -> Float[Array, "*shape"]:
    """One explicit Runge–Kutta step `y + h Σ_i b_i k_i`, `k_i = f(t + c_i h, y + h Σ_j a_ij k_j)`.

    `tableau` names one of `TABLEAUS` (Butcher 2016, *Numerical Methods for ODEs*, §23);
    zero coefficients are skipped when the step is traced.
    """
    c, a, b = TABLEAUS[tableau]
    ks = []
    for ci, row in zip(c, a, strict=True):
        yi = y
        for aij, kj in zip(row, ks, strict=False):
            if aij != 0.0:
                yi = yi + (h * aij) * kj
        ks.append(field(t + ci * h, yi, args))
    out = y
    for bi, ki in zip(b, ks, strict=True):
        if bi != 0.0:
            out = out + (h * bi) * ki
    return out


@eqx.filter_jit
def _scan_solve(field, y0, ts, args, n_sub, tableau: str, n_max: int, uniform: bool):
    """Fixed-step RK over each interval of `ts` (`n_sub[i]` equal steps; at most `n_max`)."""

    def interval(y, inputs):
        t0, t1, n = inputs
        h = (t1 - t0) / n.astype(ts.dtype)

        def inner(y, j):
            y_new = rk_step(tableau, field, t0 + j.astype(ts.dtype) * h, y, h, args)
            return (y_new if uniform else jnp.where(j < n, y_new, y)), None

        y, _ = jax.lax.scan(inner, y, jnp.arange(n_max))
        return y, y

    _, ys = jax.lax.scan(interval, y0, (ts[:-1], ts[1:], n_sub))
    return jnp.concatenate([y0[None], ys])


@eqx.filter_jit
def _diffrax_solve(term_field, solver, y0, ts, args, dt, rtol, atol, adjoint, max_steps, saveat):
    if dt is None:
        controller = diffrax.PIDController(rtol=rtol, atol=atol)
    else:
        controller = diffrax.ConstantStepSize()
    if adjoint == "checkpoint" and dt is not None and max_steps <= 10_000:
        # Few known steps: store every one, so backprop recomputes nothing (about 2x faster).
        adjoint_obj = diffrax.RecursiveCheckpointAdjoint(checkpoints=max_steps)
    else:
        adjoint_obj = ADJOINTS[adjoint]()
    return diffrax.diffeqsolve(
        diffrax.ODETerm(term_field),
        solver,
        t0=ts[0],
        t1=ts[-1],
        dt0=dt if dt is not None else (ts[-1] - ts[0]) / 100,
        y0=y0,
        args=args,
        saveat=saveat if saveat is not None else diffrax.SaveAt(ts=ts),
        stepsize_controller=controller,
        adjoint=adjoint_obj,
        max_steps=max_steps,
    )


def _substeps(ts, dt) -> np.ndarray | None:
    """Equal steps per interval of a concrete `ts` for a step at most `dt` (`None` if traced)."""
    if isinstance(ts, jax.core.Tracer) or isinstance(dt, jax.core.Tracer):
        return None
    gaps = np.diff(np.asarray(ts, dtype=np.float64))
    if np.any(gaps <= 0):
        raise ValueError("ts must be strictly increasing")
    ratio = gaps / float(dt)
    near = np.abs(ratio - np.round(ratio)) <= 1e-4 * np.maximum(1.0, ratio)
    return np.maximum(1, np.where(near, np.round(ratio), np.ceil(ratio))).astype(np.int32)


def solve(
    field: Callable,
    y0: Float[ArrayLike, "*batch dim"],
    ts: Float[ArrayLike, " n_t"],
    *,
    args: object = None,
    solver: str | diffrax.AbstractSolver = "tsit5",
    dt: float | None = None,
    rtol: float = 1e-6,
    atol: float = 1e-8,
    adjoint: str = "checkpoint",
    batch: bool = False,
    max_steps: int | None = None,
    saveat: diffrax.SaveAt | None = None,
) -> Float[Array, "*batch n_t dim"] | diffrax.Solution:
    """Integrate `dy/dt = field(y)` (or `field(t, y, args)`) from `y0` at `ts[0]`; `y` at `ts`.

    `field` is an `AbstractVectorField`, `f(y)`, `f(t, y)` or `f(t, y, args)`. A fixed step
    `dt` selects a constant step size; without it the step is adaptive with a PID controller
    at `rtol`/`atol` (euler, midpoint and rk4 have no error estimate and need `dt`). Named
    explicit solvers with a fixed step run as a `lax.scan` over their Butcher tableau,
    stepping exactly onto every `ts` (intervals split into `ceil(Δ/dt)` equal steps); the
    rest goes through diffrax. `solver` may also be a diffrax solver object (e.g.
    `diffrax.Kvaerno5()` for stiff problems). `adjoint` is `checkpoint` (recursive
    checkpointed backprop, the default), `direct` or `backsolve`. Output is `(n_t, dim)`, or
    `(batch, n_t, dim)` with `batch=True`; with a diffrax `saveat`, the `diffrax.Solution`
    itself (its `ys` time-major, batch second when `batch=True`). `max_steps` (diffrax path)
    defaults to the exact step count for a fixed step and to 100,000 for adaptive steps.
    """
    named = isinstance(solver, str)
    if named and solver not in SOLVERS:
        raise ValueError(f"unknown solver {solver!r}; choose one of {sorted(SOLVERS)}")
    if not named and not isinstance(solver, diffrax.AbstractSolver):
        raise TypeError(f"solver must be a name or a diffrax solver, got {type(solver).__name__}")
    if adjoint not in ADJOINTS:
        raise ValueError(f"unknown adjoint {adjoint!r}; choose one of {sorted(ADJOINTS)}")
    if dt is None and named and solver not in _ADAPTIVE:
        raise ValueError(f"solver {solver!r} has no error estimate: give a fixed step dt")
    if dt is not None and not isinstance(dt, jax.core.Tracer) and not float(dt) > 0:
        raise ValueError(f"dt must be a positive step size, got {dt}")
    vf = as_field(field)
    if batch:
        vf = _Batched(vf)
    y0 = jnp.asarray(y0)
    if (
        named
        and solver in TABLEAUS
        and dt is not None
        and saveat is None
        and adjoint != "backsolve"
    ):
        n_sub = _substeps(ts, dt)
        if n_sub is not None:
            ts = jnp.asarray(ts)
            ts = ts if jnp.issubdtype(ts.dtype, jnp.floating) else ts.astype(y0.dtype)
            uniform = bool(np.all(n_sub == n_sub[0])) if len(n_sub) else True
            n_max = int(n_sub.max()) if len(n_sub) else 1
            ys = _scan_solve(vf, y0, ts, args, jnp.asarray(n_sub), solver, n_max, uniform)
            return jnp.moveaxis(ys, 0, 1) if batch else ys
    if dt is None:
        max_steps = max_steps or 100_000
    else:
        max_steps = max_steps or _fixed_step_count(ts, dt)
    ts = jnp.asarray(ts)
    solver_obj = SOLVERS[solver]() if named else solver
    dt = float(dt) if dt is not None and not isinstance(dt, jax.core.Tracer) else dt
    sol = _diffrax_solve(vf, solver_obj, y0, ts, args, dt, rtol, atol, adjoint, max_steps, saveat)
    if saveat is not None:
        return sol
    return jnp.moveaxis(sol.ys, 0, 1) if batch else sol.ys


def _fixed_step_count(ts, dt) -> int:
    """Steps a constant `dt` needs over `ts` (plus slack for save points), if `ts` is concrete."""
    if isinstance(ts, jax.core.Tracer) or isinstance(dt, jax.core.Tracer):
        return 100_000
    span = float(np.max(np.asarray(ts)) - np.min(np.asarray(ts)))
    return int(np.ceil(span / float(dt) * (1 + 1e-6))) + len(ts) + 1


def euler_step(
    f: Callable[[Array], Array], y: Float[Array, "*shape"], dt: float
) -> Float[Array, "*shape"]:
    """Forward Euler: `y + dt f(y)` (first order)."""
    return y + dt * f(y)


def heun_step(
    f: Callable[[Array], Array], y: Float[Array, "*shape"], dt: float
) -> Float[Array, "*shape"]:
    """Heun (explicit trapezoid): `y + dt/2 [f(y) + f(y + dt f(y))]` (second order)."""
    k1 = f(y)
    k2 = f(y + dt * k1)
    return y + 0.5 * dt * (k1 + k2)


def rk4_step(
    f: Callable[[Array], Array], y: Float[Array, "*shape"], dt: float
) -> Float[Array, "*shape"]:
    """Classical Runge–Kutta: `y + dt/6 (k1 + 2k2 + 2k3 + k4)` (fourth order)."""
    k1 = f(y)
    k2 = f(y + 0.5 * dt * k1)
    k3 = f(y + 0.5 * dt * k2)
    k4 = f(y + dt * k3)
    return y + dt / 6 * (k1 + 2 * k2 + 2 * k3 + k4)


ONE_STEP: dict[str, Callable[[Callable[[Array], Array], Array, float], Array]] = {
    "euler": euler_step,
    "heun": heun_step,
    "rk4": rk4_step,
}


def one_step(method: str) -> Callable[[Callable[[Array], Array], Array, float], Array]:
    """The one-step map named `method` (euler, heun, rk4), for losses on pairs (x_t, x_{t+dt})."""
    if method not in ONE_STEP:
        raise ValueError(f"unknown one-step method {method!r}; choose one of {sorted(ONE_STEP)}")
    return ONE_STEP[method]


SDE_SOLVERS: dict[str, type] = {
    "euler": diffrax.Euler,
    "milstein": diffrax.ItoMilstein,
    "heun": diffrax.Heun,
    "euler_heun": diffrax.EulerHeun,
    "stratonovich_milstein": diffrax.StratonovichMilstein,
    "sra1": diffrax.SRA1,
    "shark": diffrax.ShARK,
}
"""Itô solvers: euler, milstein. Stratonovich: heun, euler_heun, stratonovich_milstein
(they agree with Itô for additive noise). Additive noise only: sra1, shark."""
_LEVY_AREA = {"sra1", "shark"}
# Solved as a `lax.scan` when the increments are given and the save times lie on the steps.
_SCAN_SDE = {"euler", "heun", "euler_heun"}
# Milstein solvers build Jacobians over the whole state: batch them by vmap, not as one state.
_PER_SAMPLE = {"milstein", "stratonovich_milstein"}


class _BatchControlTerm(diffrax.ControlTerm):
    """`ControlTerm` whose product is a matrix-vector product over leading batch axes."""

    def prod(self, vf, control):
        return jnp.einsum("...dn,...n->...d", vf, control)


def _brownian_path(key, t0, t1, noise_shape, dt, solver, brownian, increments):
    if increments is not None:
        dw = jnp.asarray(increments)
        n = dw.shape[0]
        grid = t0 + dt * jnp.arange(n + 1)
        w = jnp.concatenate([jnp.zeros((1, *dw.shape[1:]), dw.dtype), jnp.cumsum(dw, 0)])
        return diffrax.LinearInterpolation(grid, w)
    levy = diffrax.SpaceTimeLevyArea if solver in _LEVY_AREA else diffrax.BrownianIncrement
    if brownian == "unsafe":
        return diffrax.UnsafeBrownianPath(noise_shape, key, levy_area=levy)
    return diffrax.VirtualBrownianTree(t0, t1, dt / 4, noise_shape, key, levy_area=levy)


def solve_sde(
    drift: Field,
    diffusion: Field,
    y0: Float[ArrayLike, "*batch dim"],
    ts: Float[ArrayLike, " n_t"],
    key: Array | None = None,
    *,
    dt: float,
    solver: str = "euler",
    noise_dim: int | None = None,
    brownian: str = "virtual",
    increments: Float[ArrayLike, "*batch n_steps noise"] | None = None,
    args: object = None,
    batch: bool = False,
    max_steps: int | None = None,
) -> Float[Array, "*batch n_t dim"]:
    """Integrate `dY = drift(t, Y, args) dt + diffusion(t, Y, args) dW` with a fixed step `dt`.

    `diffusion` returns a `(dim, noise_dim)` matrix (`noise_dim` defaults to `dim`). The
    Brownian motion is a `VirtualBrownianTree` drawn from `key` (`brownian="virtual"`) or
    the cheaper `UnsafeBrownianPath` (`brownian="unsafe"`); or give `increments`, the
    Brownian increments over the steps `ts[0] + i dt`, shape `(n_steps, noise_dim)`, to
    couple the path with another process driven by the same noise (solvers without Lévy
    areas). With `batch=True`, `y0` is `(batch, dim)`, the fields are vmapped and the batch
    is solved as one state with independent Brownian coordinates per sample (`increments`
    then has shape `(batch, n_steps, noise_dim)`; Milstein solvers vmap one solve per
    sample instead); the output is `(batch, n_t, dim)`.
    Solver names and their calculus (Itô or Stratonovich) are in `SDE_SOLVERS`. With
    `increments` and save times on the step grid, euler, heun and euler_heun run as one
    `lax.scan` (no diffrax loop: a fraction of the compile time, and cacheable across
    processes); otherwise diffrax solves it.
    """
    if solver not in SDE_SOLVERS:
        raise ValueError(f"unknown SDE solver {solver!r}; choose one of {sorted(SDE_SOLVERS)}")
    if brownian not in ("virtual", "unsafe"):
        raise ValueError(f"brownian must be 'virtual' or 'unsafe', got {brownian!r}")
    if (key is None) == (increments is None):
        raise ValueError("give exactly one of `key` (a jax.random key) or `increments`")
    if increments is not None and solver in _LEVY_AREA:
        raise ValueError(f"solver {solver!r} needs Levy areas: give a key, not increments")
    if not dt > 0:
        raise ValueError(f"dt must be a positive step size, got {dt}")
    ts = jnp.asarray(ts)
    y0 = jnp.asarray(y0)
    n_steps = int(np.ceil(float(ts[-1] - ts[0]) / dt - 1e-9))
    m = noise_dim if noise_dim is not None else y0.shape[-1]
    if batch and solver in _PER_SAMPLE:
        keys = None if key is None else jax.random.split(key, y0.shape[0])
        options = dict(dt=dt, solver=solver, noise_dim=m, brownian=brownian, args=args)
        return jax.vmap(
            lambda y, k, dw: solve_sde(
                drift, diffusion, y, ts, k, increments=dw, max_steps=max_steps, **options
            )
        )(y0, keys, increments)
    drift, diffusion = as_field(drift), as_field(diffusion)
    if batch:
        drift, diffusion = _Batched(drift), _Batched(diffusion)
        if increments is not None:
            increments = jnp.moveaxis(jnp.asarray(increments), 1, 0)
    every = _save_every(ts, dt, n_steps)
    if (
        increments is not None
        and solver in _SCAN_SDE
        and every is not None
        and increments.shape[0] >= n_steps
    ):
        dw = jnp.asarray(increments)[:n_steps]
        dw = dw.reshape(len(ts) - 1, every, *dw.shape[1:])
        return _scan_sde(drift, diffusion, y0, ts[0], dt, dw, args, solver, batch)
    return _diffrax_sde(drift, diffusion, y0, ts, key, dt, solver, m, brownian, increments,
                        args, batch, max_steps, n_steps)  # fmt: skip


def _save_every(ts, dt, n_steps) -> int | None:
    """Steps between save times when every `ts[i]` is `ts[0] + i k dt` (else `None`)."""
    if isinstance(ts, jax.core.Tracer) or len(ts) < 2:
        return None
    gaps = np.diff(np.asarray(ts, dtype=np.float64)) / float(dt)
    every = int(np.round(gaps[0]))
    if every < 1 or np.any(np.abs(gaps - every) > 1e-4 * every):
        return None
    return every if every * (len(ts) - 1) == n_steps else None


def _sde_step(method, drift, diffusion, t, y, dt, dw, args):
    """One step driven by the increment `dw` (`g·dw` a matrix-vector product per sample).

    euler (Itô): `y + f dt + g dW`; heun (Stratonovich, diffrax's `Heun` on the combined
    term): `k₁ = f(t, y) dt + g(t, y) dW`, `k₂ = f(t + dt, y + k₁) dt + g(t + dt, y + k₁) dW`,
    `y + (k₁ + k₂)/2`; euler_heun (Stratonovich): `ỹ = y + g(t, y) dW`,
    `y + f(t, y) dt + ½ (g(t, y) + g(t, ỹ)) dW` (Kloeden & Platen 1992, §11.1, §15.1).
    """
    prod = lambda g: jnp.einsum("...dn,...n->...d", g, dw)  # noqa: E731
    g0 = diffusion(t, y, args)
    if method == "euler":
        return y + dt * drift(t, y, args) + prod(g0)
    if method == "heun":
        k1 = dt * drift(t, y, args) + prod(g0)
        y1 = y + k1
        k2 = dt * drift(t + dt, y1, args) + prod(diffusion(t + dt, y1, args))
        return y + 0.5 * (k1 + k2)
    y_bar = y + prod(g0)
    return y + dt * drift(t, y, args) + 0.5 * prod(g0 + diffusion(t, y_bar, args))


@eqx.filter_jit
def _scan_sde(drift, diffusion, y0, t0, dt, dw, args, method: str, batch: bool):
    """Fixed-step SDE solve as a `lax.scan` over given increments `dw` of shape
    `(n_save, every, *noise)` (batch axis first inside `noise` when `batch`): `y` at
    `t0 + i every dt`. One small program with no host callbacks (it persists in the cache)."""
    every = dw.shape[1]

    def interval(y, inputs):
        i, dws = inputs

        def step(y, inner):
            j, dwj = inner
            t = t0 + (i * every + j).astype(y.dtype) * dt
            return _sde_step(method, drift, diffusion, t, y, dt, dwj, args), None

        y, _ = jax.lax.scan(step, y, (jnp.arange(every), dws))
        return y, y

    _, ys = jax.lax.scan(interval, y0, (jnp.arange(dw.shape[0]), dw))
    ys = jnp.concatenate([y0[None], ys])
    return jnp.moveaxis(ys, 0, 1) if batch else ys


def _diffrax_sde(drift, diffusion, y0, ts, key, dt, solver, m, brownian, increments, args,
                 batch, max_steps, n_steps):  # fmt: skip
    """`solve_sde` through diffrax (any solver, a Brownian path or interpolated increments)."""
    t0, t1 = ts[0], ts[-1]
    bm = _brownian_path(key, t0, t1, (*y0.shape[:-1], m), dt, solver, brownian, increments)
    terms = diffrax.MultiTerm(diffrax.ODETerm(drift), _BatchControlTerm(diffusion, bm))
    sol = diffrax.diffeqsolve(
        terms,
        SDE_SOLVERS[solver](),
        t0=t0,
        t1=t1,
        dt0=dt,
        y0=y0,
        args=args,
        saveat=diffrax.SaveAt(ts=ts),
        stepsize_controller=diffrax.ConstantStepSize(),
        adjoint=diffrax.DirectAdjoint(),
        max_steps=max_steps if max_steps is not None else n_steps + 1,
    )
    return jnp.moveaxis(sol.ys, 0, 1) if batch else sol.ys

"""The one door to diffrax: `solve` a vector field over given times, and one-step maps.

A vector field has the diffrax signature `field(t, y, args) -> dy/dt`. With `batch=True`
the field is written for one state of shape `(dim,)` and is vmapped over the leading axis of
`y0`, so a whole batch is integrated as one state of shape `(batch, dim)` on a shared grid.
"""

from collections.abc import Callable

import diffrax
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float

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


def _batched(field: Field) -> Field:
    return lambda t, y, args: jax.vmap(lambda yi: field(t, yi, args))(y)


def solve(
    field: Field,
    y0: Float[ArrayLike, "*batch dim"],
    ts: Float[ArrayLike, " n_t"],
    *,
    args: object = None,
    solver: str = "tsit5",
    dt: float | None = None,
    rtol: float = 1e-6,
    atol: float = 1e-8,
    adjoint: str = "checkpoint",
    batch: bool = False,
    max_steps: int | None = None,
) -> Float[Array, "*batch n_t dim"]:
    """Integrate `dy/dt = field(t, y, args)` from `y0` at `ts[0]` and return `y` at every `ts`.

    A fixed step `dt` selects a constant step size; without it the step is adaptive with a
    PID controller at `rtol`/`atol` (euler, midpoint and rk4 have no error estimate and need
    `dt`). `adjoint` is `checkpoint` (recursive checkpointed backprop, the default), `direct`
    or `backsolve`. Output is `(n_t, dim)`, or `(batch, n_t, dim)` with `batch=True`.
    `max_steps` defaults to the exact step count for a fixed step (which keeps checkpointed
    backprop cheap) and to 100,000 for adaptive steps.
    """
    if solver not in SOLVERS:
        raise ValueError(f"unknown solver {solver!r}; choose one of {sorted(SOLVERS)}")
    if adjoint not in ADJOINTS:
        raise ValueError(f"unknown adjoint {adjoint!r}; choose one of {sorted(ADJOINTS)}")
    if dt is None and solver not in _ADAPTIVE:
        raise ValueError(f"solver {solver!r} has no error estimate: give a fixed step dt")
    y0 = jnp.asarray(y0)
    vf = _batched(field) if batch else field
    if dt is None:
        controller = diffrax.PIDController(rtol=rtol, atol=atol)
        max_steps = max_steps or 100_000
    else:
        controller = diffrax.ConstantStepSize()
        max_steps = max_steps or _fixed_step_count(ts, dt)
    if adjoint == "checkpoint" and dt is not None and max_steps <= 10_000:
        # Few known steps: store every one, so backprop recomputes nothing (about 2x faster).
        adjoint_obj = diffrax.RecursiveCheckpointAdjoint(checkpoints=max_steps)
    else:
        adjoint_obj = ADJOINTS[adjoint]()
    ts = jnp.asarray(ts)
    sol = diffrax.diffeqsolve(
        diffrax.ODETerm(vf),
        SOLVERS[solver](),
        t0=ts[0],
        t1=ts[-1],
        dt0=dt if dt is not None else (ts[-1] - ts[0]) / 100,
        y0=y0,
        args=args,
        saveat=diffrax.SaveAt(ts=ts),
        stepsize_controller=controller,
        adjoint=adjoint_obj,
        max_steps=max_steps,
    )
    ys = sol.ys
    return jnp.moveaxis(ys, 0, 1) if batch else ys


def _fixed_step_count(ts, dt) -> int:
    """Steps a constant `dt` needs over `ts` (plus slack for save points), if `ts` is concrete."""
    if isinstance(ts, jax.core.Tracer) or isinstance(dt, jax.core.Tracer):
        return 100_000
    span = float(np.max(np.asarray(ts)) - np.min(np.asarray(ts)))
    return int(np.ceil(span / float(dt) * (1 + 1e-6))) + len(ts) + 1


def euler_step(f: Callable[[Array], Array], y: Array, dt: float) -> Array:
    """Forward Euler: `y + dt f(y)` (first order)."""
    return y + dt * f(y)


def heun_step(f: Callable[[Array], Array], y: Array, dt: float) -> Array:
    """Heun (explicit trapezoid): `y + dt/2 [f(y) + f(y + dt f(y))]` (second order)."""
    k1 = f(y)
    k2 = f(y + dt * k1)
    return y + 0.5 * dt * (k1 + k2)


def rk4_step(f: Callable[[Array], Array], y: Array, dt: float) -> Array:
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
    Solver names and their calculus (Itô or Stratonovich) are in `SDE_SOLVERS`.
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
    t0, t1 = ts[0], ts[-1]
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
    if batch:
        drift, diffusion = _batched(drift), _batched(diffusion)
        if increments is not None:
            increments = jnp.moveaxis(jnp.asarray(increments), 1, 0)
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

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
    max_steps: int = 100_000,
) -> Float[Array, "*batch n_t dim"]:
    """Integrate `dy/dt = field(t, y, args)` from `y0` at `ts[0]` and return `y` at every `ts`.

    A fixed step `dt` selects a constant step size; without it the step is adaptive with a
    PID controller at `rtol`/`atol` (euler, midpoint and rk4 have no error estimate and need
    `dt`). `adjoint` is `checkpoint` (recursive checkpointed backprop, the default), `direct`
    or `backsolve`. Output is `(n_t, dim)`, or `(batch, n_t, dim)` with `batch=True`.
    """
    if solver not in SOLVERS:
        raise ValueError(f"unknown solver {solver!r}; choose one of {sorted(SOLVERS)}")
    if adjoint not in ADJOINTS:
        raise ValueError(f"unknown adjoint {adjoint!r}; choose one of {sorted(ADJOINTS)}")
    if dt is None and solver not in _ADAPTIVE:
        raise ValueError(f"solver {solver!r} has no error estimate: give a fixed step dt")
    ts = jnp.asarray(ts)
    y0 = jnp.asarray(y0)
    vf = _batched(field) if batch else field
    if dt is None:
        controller = diffrax.PIDController(rtol=rtol, atol=atol)
    else:
        controller = diffrax.ConstantStepSize()
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
        adjoint=ADJOINTS[adjoint](),
        max_steps=max_steps,
    )
    ys = sol.ys
    return jnp.moveaxis(ys, 0, 1) if batch else ys


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

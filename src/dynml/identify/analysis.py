"""Analysis of a learned vector field `f(h) -> dh/dt`: fixed points, limit cycles, rollouts.

- Fixed points: Newton's method `h <- h - J(h)^{-1} f(h)` (`optimistix.Newton` through
  `optimistix.root_find`) from many starts at once (vmap), converged roots merged, each with
  the eigenvalues of `J = df/dh`.
- Limit cycles: single shooting on `(h0, T)`: `phi_T(h0) - h0 = 0` with the phase condition
  `f(h_ref) . (h0 - h_ref) = 0`, solved by the same Newton root finder; `phi_T` is classical
  RK4 (through `core.solve`) in rescaled time `s = t / T`, so Newton differentiates through
  it in `T` too. Floquet multipliers: eigenvalues of `d phi_T / d h0`.
- Long rollouts through `core.solve`, the fraction that stays bounded, and a histogram
  distance between long-time distributions (mean over coordinates of the total variation).
"""

from collections.abc import Callable
from dataclasses import dataclass

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optimistix as optx
from jaxtyping import Array, Float, Int

from ..core.solve import solve

VectorField = Callable[[Array], Array]


@dataclass(frozen=True)
class FixedPoints:
    """Distinct fixed points `(k, dim)`, Jacobian eigenvalues `(k, dim)` and unstable counts."""

    points: np.ndarray
    eigenvalues: np.ndarray

    @property
    def n_unstable(self) -> Int[np.ndarray, " k"]:
        """Number of eigenvalues with positive real part at each point (0: stable)."""
        return np.sum(self.eigenvalues.real > 0, axis=1)

    def rows(self, precision: int = 3) -> list[dict]:
        """One table row per point: its coordinates (as text) and its unstable count."""
        return [
            dict(point=np.array2string(p, precision=precision), n_unstable=int(u))
            for p, u in zip(self.points, self.n_unstable, strict=True)
        ]


def jacobian_eigenvalues(field: VectorField, h: Float[Array, " dim"]) -> Float[np.ndarray, " dim"]:
    """Eigenvalues of the Jacobian `df/dh` at `h`."""
    return np.linalg.eigvals(np.asarray(jax.jacfwd(field)(jnp.asarray(h)), np.float64))


def _root(fn, z0, n_iter: int, rtol: float, atol: float) -> Array:
    """`optimistix.root_find` of `fn(z) = 0` by Newton from `z0`, at most `n_iter` steps;
    the last iterate is returned whether or not it converged (callers check the residual)."""
    solver = optx.Newton(rtol=rtol, atol=atol)
    sol = optx.root_find(lambda z, _: fn(z), solver, z0, max_steps=n_iter, throw=False)
    return sol.value


@eqx.filter_jit
def _newton(field, starts, n_iter: int, rtol: float, atol: float):
    def solve_one(h0):
        h = _root(field, h0, n_iter, rtol, atol)
        return h, jnp.linalg.norm(field(h))

    return jax.vmap(solve_one)(starts)


def find_fixed_points(
    field: VectorField,
    starts: Float[Array, "n dim"],
    *,
    n_iter: int = 60,
    tol: float = 1e-3,
    merge_tol: float = 1e-2,
    rtol: float = 1e-6,
    atol: float = 1e-6,
) -> FixedPoints:
    """Roots of `field` reached by Newton from each start, merged within `merge_tol`.

    `optimistix.Newton` stops a start once its step is below `atol + rtol |h|` (at most
    `n_iter` steps); a root counts when `|f(h)| < tol * (1 + |h|)`. Starts that diverge are
    dropped. Works for any equinox-module field.
    """
    starts = jnp.asarray(starts, jnp.float32)
    if starts.ndim != 2:
        raise ValueError(f"starts must have shape (n, dim), got {starts.shape}")
    roots, residual = (np.asarray(a) for a in _newton(field, starts, n_iter, rtol, atol))
    ok = np.isfinite(residual) & (residual < tol * (1 + np.linalg.norm(roots, axis=1)))
    kept: list[np.ndarray] = []
    for h in roots[ok][np.argsort(residual[ok])]:
        if all(np.linalg.norm(h - k) > merge_tol * (1 + np.linalg.norm(k)) for k in kept):
            kept.append(h)
    dim = starts.shape[1]
    points = np.array(kept).reshape(-1, dim)
    eig = np.array([jacobian_eigenvalues(field, h) for h in points]).reshape(-1, dim)
    return FixedPoints(points, eig)


def match_fixed_points(
    found: FixedPoints, exact: Float[np.ndarray, "k dim"]
) -> Float[np.ndarray, " k"]:
    """Distance from each exact fixed point to the nearest found one (`inf` if none found)."""
    if len(found.points) == 0:
        return np.full(len(exact), np.inf)
    d = np.linalg.norm(exact[:, None, :] - found.points[None, :, :], axis=-1)
    return d.min(axis=1)


def stable_point_gap(found: FixedPoints, states: Float[np.ndarray, "n dim"]) -> float:
    """`mean_k min_j |s_k - p_j| / mean_k |s_k|` over the stable points `p_j` of `found`.

    How close `states` (e.g. the final snapshots of trajectories that settled) lie to the
    stable fixed points, relative to their size; `inf` when `found` has no stable point.
    """
    stable = found.points[found.n_unstable == 0]
    if len(stable) == 0:
        return float("inf")
    d = np.linalg.norm(states[:, None] - stable[None], axis=-1).min(axis=1)
    return float(np.mean(d) / np.mean(np.linalg.norm(states, axis=-1)))


@dataclass(frozen=True)
class LimitCycle:
    """A periodic orbit through `point` with `period`, its Floquet multipliers and convergence."""

    point: np.ndarray
    period: float
    multipliers: np.ndarray
    converged: bool


def _rescaled(s, h, args):
    del s
    field, period = args
    return period * field(h)


def flow_map(field: VectorField, h0: Float[Array, " dim"], period: Array, n_steps: int) -> Array:
    """`phi_T(h0)`: `n_steps` classical RK4 steps (`core.solve`) of `dh/ds = T f(h)`, `s in [0, 1]`.

    Differentiable in `h0` and in `T` (the period enters as an argument of the field).
    """
    ends = np.array([0.0, 1.0], np.float32)
    return solve(_rescaled, h0, ends, args=(field, period), solver="rk4", dt=1.0 / n_steps)[-1]


def find_limit_cycle(
    field: VectorField,
    h0: Float[Array, " dim"],
    period: float,
    *,
    n_steps: int = 400,
    n_iter: int = 30,
    tol: float = 1e-4,
    rtol: float = 1e-6,
    atol: float = 1e-6,
) -> LimitCycle:
    """Shooting for a periodic orbit near the guess `(h0, period)` (Newton on `(h, T)`).

    `converged` when `|residual| < tol (1 + |h|)` and `T > 0`; Newton stops once its step
    is below `atol + rtol |z|` or after `n_iter` steps.
    """
    h_ref = jnp.asarray(h0, jnp.float32)
    f_ref = field(h_ref)

    def residual(z):
        h, t = z[:-1], z[-1]
        return jnp.concatenate([flow_map(field, h, t, n_steps) - h, (f_ref @ (h - h_ref))[None]])

    z0 = jnp.concatenate([h_ref, jnp.array([period], jnp.float32)])
    z = jax.jit(lambda z: _root(residual, z, n_iter, rtol, atol))(z0)
    err = float(jnp.linalg.norm(residual(z)))
    h, t = z[:-1], z[-1]
    monodromy = jax.jacfwd(lambda y: flow_map(field, y, t, n_steps))(h)
    multipliers = np.linalg.eigvals(np.asarray(monodromy, np.float64))
    converged = bool(np.isfinite(err) and err < tol * (1 + float(jnp.linalg.norm(h))))
    return LimitCycle(np.asarray(h), float(t), multipliers, converged and float(t) > 0)


def _autonomous(t, y, model):
    del t
    return model(y)


def rollout(
    field: eqx.Module,
    h0: Float[Array, "batch dim"],
    t_final: float,
    dt: float | None,
    *,
    n_save: int = 1001,
    solver: str = "rk4",
    max_steps: int = 100_000,
) -> tuple[np.ndarray, np.ndarray]:
    """Rollouts of `dh/dt = field(h)` from each row of `h0` to `t_final`.

    Fixed step `dt` (RK4 by default), or adaptive (`dt=None`, e.g. `solver="tsit5"`).
    `field` is passed as `args`, so every model of one structure shares one compilation.
    Returns `(ts (n_save,), hs (batch, n_save, dim))`; blown-up rollouts hold inf or NaN.
    """
    ts = jnp.linspace(0.0, t_final, n_save)
    n_steps = None if dt is None else int(np.ceil(t_final / dt))
    hs = solve(
        _autonomous,
        jnp.asarray(h0, jnp.float32),
        ts,
        args=field,
        solver=solver,
        dt=None if n_steps is None else t_final / n_steps,
        rtol=1e-5,
        atol=1e-6,
        batch=True,
        max_steps=max_steps if n_steps is None else n_steps + 10,
    )
    return np.asarray(ts), np.asarray(hs)


def bounded_fraction(hs: Float[np.ndarray, "batch n_t dim"], bound: float) -> float:
    """Fraction of rollouts that stay finite with `max |h| <= bound` at every saved time."""
    hs = np.asarray(hs)
    with np.errstate(invalid="ignore"):
        ok = np.all(np.isfinite(hs), axis=(1, 2)) & (np.nanmax(np.abs(hs), axis=(1, 2)) <= bound)
    return float(np.mean(ok))


def histogram_distance(
    a: Float[np.ndarray, "n dim"],
    b: Float[np.ndarray, "m dim"],
    *,
    bins: int = 50,
    limits: np.ndarray | None = None,
) -> float:
    """Mean over coordinates of the total variation `1/2 sum |p - q|` of two histograms.

    `limits` `(dim, 2)` fixes the bins (default: the range of `b`); samples outside count in
    neither histogram's bins but still in its total, so mass that escapes is penalised. 0 for
    identical distributions, 1 for disjoint ones.
    """
    a, b = np.asarray(a).reshape(-1, np.shape(b)[-1]), np.asarray(b).reshape(-1, np.shape(b)[-1])
    a = a[np.all(np.isfinite(a), axis=1)] if len(a) else a
    if len(a) == 0:
        return 1.0
    limits = np.stack([b.min(0), b.max(0)], 1) if limits is None else np.asarray(limits)
    tv = []
    for i, (lo, hi) in enumerate(limits):
        p = np.histogram(a[:, i], bins=bins, range=(lo, hi))[0] / len(a)
        q = np.histogram(b[:, i], bins=bins, range=(lo, hi))[0] / len(b)
        tv.append(0.5 * (np.abs(p - q).sum() + abs(p.sum() - q.sum())))
    return float(np.mean(tv))


def rollout_error(
    model: eqx.Module,
    truth: eqx.Module,
    h0: Float[Array, "batch dim"],
    t_final: float,
    dt: float,
    *,
    n_save: int = 101,
    cap: float = 1e6,
) -> tuple[np.ndarray, np.ndarray]:
    """`ts` and the mean over starts of `|h_model(t) - h_true(t)|` (RK4 rollouts from `h0`).

    Blown-up rollouts count as `cap` (so one divergent start cannot turn the mean into NaN).
    """
    ts, true = rollout(truth, h0, t_final, dt, n_save=n_save)
    _, ours = rollout(model, h0, t_final, dt, n_save=n_save)
    err = np.linalg.norm(np.nan_to_num(ours - true, nan=cap, posinf=cap, neginf=cap), axis=-1)
    return ts, np.minimum(err, cap).mean(axis=0)


def prediction_horizon(
    ts: Float[np.ndarray, " n_t"], error: Float[np.ndarray, " n_t"], threshold: float
) -> float:
    """First time `error(t)` exceeds `threshold` (`ts[-1]` if it never does)."""
    over = np.nonzero(np.asarray(error) > threshold)[0]
    return float(ts[over[0]]) if len(over) else float(ts[-1])


@dataclass(frozen=True)
class FixedPointMatch:
    """How the fixed points of a learned field compare with the exact ones.

    `distance[i]`: from exact point `i` to the nearest found one; `same_stability[i]`: that
    nearest point has the same number of unstable eigenvalues; `relative_error`:
    `max_i distance[i] / scale` (e.g. `scale = |C+|` for Lorenz).
    """

    distance: np.ndarray
    same_stability: np.ndarray
    relative_error: float
    found: FixedPoints


def compare_fixed_points(
    field: VectorField,
    truth: VectorField,
    exact: Float[np.ndarray, "k dim"],
    starts: Float[Array, "n dim"],
    *,
    scale: float,
) -> FixedPointMatch:
    """Find the fixed points of `field` from `starts` and match them to `exact` (roots of `truth`).

    Stability is compared through the number of Jacobian eigenvalues with positive real part
    at the exact point (of `truth`) and at the nearest found point (of `field`).
    """
    found = find_fixed_points(field, starts)
    dist = match_fixed_points(found, np.asarray(exact))
    exact_unstable = np.array([np.sum(jacobian_eigenvalues(truth, e).real > 0) for e in exact])
    if len(found.points) == 0:
        same = np.zeros(len(exact), bool)
    else:
        near = np.argmin(np.linalg.norm(exact[:, None] - found.points[None], axis=-1), axis=1)
        same = found.n_unstable[near] == exact_unstable
    return FixedPointMatch(dist, same, float(dist.max() / scale), found)


def relative_l2_error(
    learned: Callable[[Array], Array],
    exact: Callable[[Array], Array],
    points: Float[Array, "n dim"],
) -> float:
    """`(sum_k |a(x_k) - b(x_k)|^2 / sum_k |b(x_k)|^2)^{1/2}` over `points` (vectors or matrices)."""
    pts = jnp.asarray(points, jnp.float32)
    a, b = (np.asarray(jax.vmap(f)(pts), np.float64) for f in (learned, exact))
    return float(np.sqrt(np.sum((a - b) ** 2) / np.sum(b**2)))


def path_relative_error(
    hs: Float[np.ndarray, "batch n_t dim"], truth: Float[np.ndarray, "batch n_t dim"]
) -> float:
    """`(mean_k (|h_k - h*_k|_{L2(t)} / |h*_k|_{L2(t)})^2)^{1/2}`: the root mean square over paths
    of each rollout's relative L2-in-time error (Yu et al. 2021's `long_run_cmp`, Fig. 2b).
    A rollout that blew up (inf or NaN) makes it inf."""
    hs, truth = np.asarray(hs, np.float64), np.asarray(truth, np.float64)
    err = np.sqrt(np.sum((hs - truth) ** 2, axis=(1, 2)) / np.sum(truth**2, axis=(1, 2)))
    return float(np.sqrt(np.mean(err**2))) if np.all(np.isfinite(err)) else float("inf")


def potential_minima(
    potential: Callable[[Array], Array], starts: Float[Array, "n dim"], **newton_kwargs
) -> np.ndarray:
    """Local minima of `potential`: critical points (Newton on `grad V` from `starts`) whose
    Hessian is positive definite, merged as in `find_fixed_points`."""
    crit = find_fixed_points(_Gradient(potential), starts, **newton_kwargs)
    keep = np.all(crit.eigenvalues.real > 0, axis=1)
    return crit.points[keep]


class _Gradient(eqx.Module):
    potential: Callable[[Array], Array]

    def __call__(self, h):
        return jax.grad(self.potential)(h)


def aligned_energy_error(learned, exact, grid: np.ndarray):
    """Relative L2 error of `c (learned - learned_min)` against `exact - exact_min` on `grid`.

    The minimum `h*` of `learned` is found by Newton on its gradient (from the grid points);
    `c = <H_l, H_e>_F / |H_l|_F^2` matches the Hessian of `learned` at `h*` to the Hessian of
    `exact` at its nearest minimum (least squares). Returns `(error, aligned function)`.
    """
    fp = find_fixed_points(jax.grad(learned), grid[:: max(1, len(grid) // 200)])
    fe = find_fixed_points(jax.grad(exact), grid[:: max(1, len(grid) // 200)])
    if len(fp.points) == 0 or len(fe.points) == 0:
        return float("nan"), lambda y: jnp.full(y.shape[:-1], jnp.nan)
    h_star = fp.points[np.argmin([float(learned(p)) for p in fp.points])]
    e_star = fe.points[np.argmin(np.linalg.norm(fe.points - h_star, axis=1))]
    hess_l = np.asarray(jax.hessian(learned)(jnp.asarray(h_star)))
    hess_e = np.asarray(jax.hessian(exact)(jnp.asarray(e_star)))
    c, v_star, e_min = (
        float(np.sum(hess_l * hess_e) / np.sum(hess_l**2)),
        learned(h_star),
        exact(e_star),
    )

    def aligned(y):
        return c * (learned(y) - v_star) + e_min

    values_l = np.asarray(jax.vmap(aligned)(grid))
    values_e = np.asarray(jax.vmap(exact)(grid)) - float(e_min)
    error = np.linalg.norm(values_l - float(e_min) - values_e) / np.linalg.norm(values_e)
    return float(error), aligned

"""Forecast errors of a learned field against recorded trajectories (Yu, Tian, E, Li 2021).

The Rayleigh–Bénard comparison of Yu, Tian, E, Li (Phys. Rev. Fluids 6, 114402, 2021,
section V) scores a reduced model `dh/dt = f(h)` on test trajectories `h` (snapshots every
`snapshot_dt`) by

- the mean relative error at horizon `T`, from every snapshot `t` that has one `T` later:
  `e(T) = mean_t |h_pred(t + T) - h(t + T)| / |h(t + T)|` (blow-ups count as `inf`);
- `N_fail`: the number of rollouts from each trajectory's first snapshot whose error at
  `t_check` exceeds `fail_fraction` (0.3) times the trajectory's maximal amplitude
  `max_t |h(t)|`, or that blow up.

Rollouts are fixed-step RK4 (`analysis.rollout`) with step `dt`.
"""

from dataclasses import dataclass

import numpy as np
from jaxtyping import Float

from .analysis import VectorField, rollout


def horizon_error(
    field: VectorField,
    h: Float[np.ndarray, "n_traj n_t dim"],
    horizon: float,
    snapshot_dt: float,
    dt: float,
) -> float:
    """`e(T)` of the module doc for `T = horizon` (a whole number of snapshot intervals)."""
    lag = round(horizon / snapshot_dt)
    if lag >= h.shape[1]:
        raise ValueError(f"horizon {horizon} exceeds the trajectories' length")
    starts = h[:, : h.shape[1] - lag].reshape(-1, h.shape[2])
    target = h[:, lag:].reshape(-1, h.shape[2])
    pred = rollout(field, starts, horizon, dt, n_save=2)[1][:, -1]
    with np.errstate(invalid="ignore", over="ignore"):
        err = np.linalg.norm(pred - target, axis=1) / np.linalg.norm(target, axis=1)
    return float(np.mean(np.where(np.isfinite(err), err, np.inf)))


def long_rollouts(
    field: VectorField,
    h: Float[np.ndarray, "n_traj n_t dim"],
    t_end: float,
    t_check: float,
    snapshot_dt: float,
    dt: float,
    *,
    fail_fraction: float = 0.3,
) -> tuple[np.ndarray, int]:
    """Rollouts `(n_traj, n_t, dim)` from each first snapshot to `t_end`, and `N_fail` (module
    doc) judged at `t_check`."""
    pred = rollout(field, h[:, 0], t_end, dt, n_save=h.shape[1])[1]
    i = round(t_check / snapshot_dt)
    with np.errstate(invalid="ignore", over="ignore"):
        err = np.linalg.norm(pred[:, i] - h[:, i], axis=-1)
        scale = np.linalg.norm(h, axis=-1).max(axis=1)
        fail = ~np.isfinite(err) | (err > fail_fraction * scale)
    return pred, int(np.sum(fail))


@dataclass(frozen=True)
class Forecast:
    """`err_short = e(short)`, `err_long = e(long)`, `n_fail` at `long`, and the long rollouts."""

    err_short: float
    err_long: float
    n_fail: int
    rollouts: np.ndarray


def forecast(
    field: VectorField,
    h: Float[np.ndarray, "n_traj n_t dim"],
    *,
    t_end: float,
    snapshot_dt: float,
    dt: float,
    short: float = 1.0,
    long: float | None = None,
) -> Forecast:
    """The paper's three numbers for `field` on `h`: `e(short)`, `e(long)` and `N_fail` at
    `long` (default `t_end - short`, the last horizon with one start per trajectory)."""
    long = t_end - short if long is None else long
    pred, n_fail = long_rollouts(field, h, t_end, long, snapshot_dt, dt)
    return Forecast(
        err_short=horizon_error(field, h, short, snapshot_dt, dt),
        err_long=horizon_error(field, h, long, snapshot_dt, dt),
        n_fail=n_fail,
        rollouts=pred,
    )

"""Forecast errors of a learned field against recorded trajectories (Yu, Tian, E, Li 2021).

The Rayleigh–Bénard comparison of Yu, Tian, E, Li (Phys. Rev. Fluids 6, 114402, 2021,
section V) scores a reduced model `dh/dt = f(h)` on recorded trajectories `h` (snapshots every
`snapshot_dt`) by

- the error at horizon `T`, from every snapshot `t_k` of trajectory `i` that has one `T`
  later, as their `test_ode_RBC.py` computes it: the root mean square over the starts of
  `|h_pred(t_k + T) - h_i(t_k + T)|`, divided by the trajectory's root-mean-square norm
  `(mean_t |h_i(t)|^2)^{1/2}`, averaged over trajectories (blow-ups count as `inf`);
- `N_fail`: the number of rollouts from each trajectory's first snapshot whose error at
  `t_check` exceeds `fail_fraction` (0.3) times the trajectory's maximal amplitude
  `max_t |h(t)|`, or that blow up.

Rollouts are fixed-step RK4 (`analysis.rollout`) with step `dt` (the authors': RK3). `score`
gives one table row per model: the three numbers over all trajectories (the paper scores all
100, 80 of them training) and over the test trajectories alone, with the fraction of long
rollouts that stay within `4 max |h|` of the data (`bounded`). `score_seeds` scores every
seed of each model and takes the median over seeds of each number.
"""

from dataclasses import dataclass

import numpy as np
from jaxtyping import Float

from .analysis import VectorField, bounded_fraction, rollout


def horizon_errors(
    field: VectorField,
    h: Float[np.ndarray, "n_traj n_t dim"],
    horizon: float,
    snapshot_dt: float,
    dt: float,
) -> Float[np.ndarray, "n_traj n_starts"]:
    """The error `|h_pred(t + T) - h(t + T)|` at `T = horizon` (a whole number of snapshot
    intervals) from every snapshot of every trajectory that has one `T` later (`inf` for
    blow-ups)."""
    lag = round(horizon / snapshot_dt)
    if lag >= h.shape[1]:
        raise ValueError(f"horizon {horizon} exceeds the trajectories' length")
    starts = h[:, : h.shape[1] - lag].reshape(-1, h.shape[2])
    target = h[:, lag:].reshape(-1, h.shape[2])
    pred = rollout(field, starts, horizon, dt, n_save=2)[1][:, -1]
    with np.errstate(invalid="ignore", over="ignore"):
        err = np.linalg.norm(pred - target, axis=1)
    return np.where(np.isfinite(err), err, np.inf).reshape(h.shape[0], -1)


def _trajectory_errors(err: np.ndarray, h: np.ndarray) -> np.ndarray:
    """Per trajectory: RMS over the starts of `err`, over the RMS norm of `h` (module doc)."""
    with np.errstate(over="ignore"):
        rms_err = np.sqrt(np.mean(err.astype(np.float64) ** 2, axis=1))
    return rms_err / np.sqrt(np.mean(np.sum(h.astype(np.float64) ** 2, axis=-1), axis=1))


def horizon_error(
    field: VectorField,
    h: Float[np.ndarray, "n_traj n_t dim"],
    horizon: float,
    snapshot_dt: float,
    dt: float,
) -> float:
    """`e(T)` of the module doc for `T = horizon`, from `horizon_errors`."""
    return float(np.mean(_trajectory_errors(horizon_errors(field, h, horizon, snapshot_dt, dt), h)))


def _failed(pred: np.ndarray, h: np.ndarray, i: int, fail_fraction: float) -> np.ndarray:
    """Per trajectory: the rollout `pred` misses `h` at snapshot `i` by more than
    `fail_fraction` times the trajectory's maximal amplitude, or is not finite."""
    with np.errstate(invalid="ignore", over="ignore"):
        err = np.linalg.norm(pred[:, i] - h[:, i], axis=-1)
        scale = np.linalg.norm(h, axis=-1).max(axis=1)
        return ~np.isfinite(err) | (err > fail_fraction * scale)


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
    return pred, int(np.sum(_failed(pred, h, round(t_check / snapshot_dt), fail_fraction)))


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
    return _forecasts(field, h, [slice(None)], t_end, snapshot_dt, dt, short, long)[0]


def _forecasts(field, h, subsets, t_end, snapshot_dt, dt, short, long) -> list[Forecast]:
    """`forecast` over each set of trajectories `h[s]`, `s` in `subsets`, from one set of
    rollouts of all of them."""
    long = t_end - short if long is None else long
    pred = rollout(field, h[:, 0], t_end, dt, n_save=h.shape[1])[1]
    failed = _failed(pred, h, round(long / snapshot_dt), 0.3)
    e_short, e_long = (_trajectory_errors(horizon_errors(field, h, t, snapshot_dt, dt), h)
                       for t in (short, long))  # fmt: skip
    return [
        Forecast(float(np.mean(e_short[s])), float(np.mean(e_long[s])), int(np.sum(failed[s])),
                 pred[s])
        for s in subsets
    ]  # fmt: skip


def score(
    models: dict,
    h: Float[np.ndarray, "n_traj n_t dim"],
    test: np.ndarray,
    *,
    t_end: float,
    snapshot_dt: float,
    dt: float,
    long: float | None = None,
    n_params: dict | None = None,
) -> tuple[list[dict], dict]:
    """Rows `{model, m, err_T1, err_T99, N_fail, bounded, *_test, n_traj, n_test, params}` (the
    module doc's numbers for every `models[name]` on all of `h` and on `h[test]`) and the long
    rollouts of each model from every trajectory's first snapshot."""
    rows, rollouts = [], {}
    bound = 4.0 * float(np.max(np.linalg.norm(h, axis=-1)))
    for name, field in models.items():
        f, ft = _forecasts(field, h, [slice(None), test], t_end, snapshot_dt, dt, 1.0, long)
        rollouts[name] = f.rollouts
        rows.append(dict(
            model=name, m=h.shape[-1], err_T1=f.err_short, err_T99=f.err_long, N_fail=f.n_fail,
            bounded=bounded_fraction(f.rollouts, bound), err_T1_test=ft.err_short,
            err_T99_test=ft.err_long, N_fail_test=ft.n_fail, n_traj=h.shape[0],
            n_test=ft.rollouts.shape[0], params=(n_params or {}).get(name, 0)))  # fmt: skip
    return rows, rollouts


NUMBERS = ("err_T1", "err_T99", "N_fail", "bounded", "err_T1_test", "err_T99_test", "N_fail_test")


def score_seeds(members: dict[str, list], h, test, **kw) -> tuple[list[dict], list[dict], dict]:
    """`score` of every seed `members[name][i]` (rows with a `seed` column), then one row per
    model with the median over its seeds of each number (`seeds` = their count), and the
    long rollouts of each model's first seed. `kw` as for `score`."""
    per_seed, rollouts = [], {}
    n_params = kw.pop("n_params", None) or {}
    for name, models in members.items():
        for i, model in enumerate(models):
            rows, preds = score({name: model}, h, test, n_params=n_params, **kw)
            per_seed.append(rows[0] | {"seed": i})
            rollouts.setdefault(name, preds[name])
    medians = []
    for name in members:
        rows = [r for r in per_seed if r["model"] == name]
        medians.append({k: v for k, v in rows[0].items() if k not in NUMBERS + ("seed",)}
                       | {k: float(np.median([r[k] for r in rows])) for k in NUMBERS}
                       | {"seeds": len(rows)})  # fmt: skip
    return per_seed, medians, rollouts

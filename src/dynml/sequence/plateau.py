"""Plateaus and escape times of training curves (Li, Han, E, Li 2021, curse of memory in
optimisation).

Training a linear RNN on `ρ = ρ̄ + ρ_0(t - 1/ω)` the loss first fits `ρ̄`, then sits on a
plateau near `∫ρ_0²` before it learns the delayed part; theory predicts
`log(escape time) ≈ a + c/ω` as `ω → 0`. The escape time of a curve is read from its own
plateau (the end of its longest plateau), never from a fixed level; curves that diverge or
never escape are counted, not dropped.
"""

from collections import deque
from dataclasses import dataclass

import numpy as np
from jaxtyping import ArrayLike, Float


def hitting_time(losses: Float[np.ndarray, " steps"], level: float) -> float:
    """First step at which the loss is below `level` (`inf` if it never is)."""
    below = np.flatnonzero(np.asarray(losses) < level)
    return float(below[0]) if below.size else float("inf")


def longest_plateau(
    losses: Float[np.ndarray, " steps"],
    rtol: float = 0.05,
    min_drop: float = 1.2,
    min_ratio: float = 2.0,
    log_time: bool = False,
    steps: ArrayLike | None = None,
) -> tuple[int, int]:
    """`(start, end)` of the longest stretch `[start, end)` whose loss stays within a factor
    `1 + rtol` (max/min) and that training escapes: `loss[end]` is below the stretch and the
    loss later falls below its minimum by at least `min_drop`. A plateau must also last in
    log-time, `end ≥ min_ratio · (start + 1)`, and at least 3 steps (a short stretch of a
    steep descent is not a plateau). `(0, 0)` if there is none.

    "Longest" counts steps, `end - start`, or with `log_time=True` decades of the log-step
    axis, `log(end / (start + 1))`: a plateau from step 0 to 30 then outranks a slow stretch
    from 300 to 1,500 (the axis on which training curves are read; a run's first plateau,
    however short in steps, is not beaten by a later, slower refinement).

    `steps`: the (increasing) step number of each loss sample, e.g. `log_spaced_steps`; the
    criteria and the result are in steps. Default `0, 1, …`.

    Found in one pass with two monotone deques (sliding max and min of `log loss`); a
    non-finite value ends every stretch.
    """
    loss = np.asarray(losses, dtype=float)
    n = len(loss)
    at = np.arange(n) if steps is None else np.asarray(steps, dtype=np.int64)
    if at.shape != loss.shape or np.any(np.diff(at) <= 0):
        raise ValueError(f"steps must increase and match the {n} losses, got shape {at.shape}")
    if n < 2:
        return (0, 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        log = np.where(np.isfinite(loss) & (loss > 0), np.log(loss), np.nan)
    future_min = np.fmin.accumulate(np.where(np.isnan(log), np.inf, log)[::-1])[::-1]
    band, drop = np.log1p(rtol), np.log(min_drop)
    best, best_len, left = (0, 0), 0.0, 0
    hi, lo = deque(), deque()  # indices with decreasing / increasing log loss
    for r in range(n):
        if np.isnan(log[r]):
            hi.clear(), lo.clear()
            left = r + 1
            continue
        while hi and log[hi[-1]] <= log[r]:
            hi.pop()
        hi.append(r)
        while lo and log[lo[-1]] >= log[r]:
            lo.pop()
        lo.append(r)
        while log[hi[0]] - log[lo[0]] > band:
            left += 1
            while hi[0] < left:
                hi.popleft()
            while lo[0] < left:
                lo.popleft()
        end = r + 1
        if end >= n:
            break
        a, b = int(at[left]), int(at[end])
        long_enough = b - a >= 3 and b >= min_ratio * (a + 1)
        length = np.log(b / (a + 1)) if log_time else b - a
        if long_enough and length > best_len:
            low = log[lo[0]]
            exits_down = not np.isnan(log[end]) and log[end] < low
            if exits_down and future_min[end] < low - drop:
                best, best_len = (a, b), length
    return best


def log_spaced_steps(n: int, points: int = 4000) -> np.ndarray:
    """About `points` distinct steps in `[0, n)`, every step up to `points / 10`, then spaced
    evenly in `log(step)` (relative spacing ≈ `log(n) / points`): the samples at which a
    plateau search on the log-step axis (`longest_plateau(..., steps=...)`) needs the loss."""
    if n < 1 or points < 2:
        raise ValueError(f"need n >= 1 and points >= 2, got {n}, {points}")
    dense = points // 10
    if n <= max(dense, points):
        return np.arange(n)
    sparse = np.geomspace(max(1, dense), n - 1, points).astype(np.int64)
    return np.unique(np.concatenate([np.arange(dense), sparse, [n - 1]]))


def escape_time(losses: Float[np.ndarray, " steps"], **kwargs) -> float:
    """The end of the longest plateau (`longest_plateau`); `nan` if the curve diverged (any
    non-finite loss), `inf` if it has no escaped plateau within the run."""
    loss = np.asarray(losses, dtype=float)
    if not np.all(np.isfinite(loss)):
        return float("nan")
    start, end = longest_plateau(loss, **kwargs)
    return float(end) if end > start else float("inf")


def fit_log_line(
    x: Float[ArrayLike, " n"], y: Float[ArrayLike, " n"]
) -> tuple[float, float, float]:
    """Least squares `log y ≈ a + b x`: returns `(slope b, intercept a, R²)`."""
    x, logy = np.asarray(x, float), np.log(np.asarray(y, float))
    b, a = np.polyfit(x, logy, 1)
    resid = logy - (a + b * x)
    total = np.sum((logy - logy.mean()) ** 2)
    r2 = 1.0 - np.sum(resid**2) / total if total > 0 else float("nan")
    return float(b), float(a), float(r2)


@dataclass(frozen=True)
class EscapeFits:
    """Both fits of escape times `T` against `x = 1/ω`, and what went into them.

    `exp_*`: `log T ≈ a + c x` (exponential in `1/ω`, the theory); `pow_*`:
    `log T ≈ a + p log x` (a power law). Counts: `n_runs`, `n_diverged` (non-finite loss),
    `n_not_escaped` (no escape within the budget); the fits use the median over seeds of each
    `x` whose runs all escaped (`n_points` of them).
    """

    exp_slope: float
    exp_intercept: float
    exp_r2: float
    pow_exponent: float
    pow_intercept: float
    pow_r2: float
    n_points: int
    n_runs: int
    n_diverged: int
    n_not_escaped: int


def fit_escape_times(
    inv_omega: Float[np.ndarray, " n_omega"], times: Float[np.ndarray, "n_omega seeds"]
) -> EscapeFits:
    """Fit `log(median escape time)` against `1/ω` and against `log(1/ω)` (see `EscapeFits`).

    A diverged run (`nan`) or one that never escaped (`inf`) removes its `1/ω` from the fit
    and is counted; nothing is dropped silently.
    """
    x, times = np.asarray(inv_omega, float), np.asarray(times, float)
    if times.ndim != 2 or times.shape[0] != len(x):
        raise ValueError(f"times must have shape ({len(x)}, seeds), got {times.shape}")
    ok = np.all(np.isfinite(times) & (times > 0), axis=1)
    n_diverged = int(np.isnan(times).sum())
    n_not_escaped = int(np.isinf(times).sum())
    nan = float("nan")
    if ok.sum() < 3:
        return EscapeFits(
            nan, nan, nan, nan, nan, nan, int(ok.sum()), times.size, n_diverged, n_not_escaped
        )
    med = np.median(times[ok], axis=1)
    c, a, r2 = fit_log_line(x[ok], med)
    p, b, r2p = fit_log_line(np.log(x[ok]), med)
    return EscapeFits(c, a, r2, p, b, r2p, int(ok.sum()), times.size, n_diverged, n_not_escaped)

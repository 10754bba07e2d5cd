"""Plateaus in training curves (Li, Han, E, Li 2021, "curse of memory" in optimisation).

Training a linear RNN on `ρ = ρ̄ + ρ_0(t - 1/ω)` the loss first fits `ρ̄`, then sits on a
plateau near `∫ρ_0²` before it learns the delayed part; theory predicts
`log(plateau time) ≈ c/ω` as `ω → 0`.
"""

import numpy as np


def hitting_time(losses, level: float) -> float:
    """First step at which the loss is below `level` (`inf` if it never is)."""
    below = np.flatnonzero(np.asarray(losses) < level)
    return float(below[0]) if below.size else float("inf")


def longest_plateau(
    losses, rtol: float = 0.1, min_drop: float = 2.0, min_fraction: float = 0.05
) -> tuple[int, int]:
    """`(start, end)` of the longest stretch where the loss stays within `rtol` of its value
    at `start`, lasts at least `min_fraction` of the run, and after which the loss falls by
    at least a factor `min_drop`; `(0, 0)` if there is none.

    A plateau is a long stretch of almost constant loss that training escapes later.
    """
    loss = np.asarray(losses, dtype=float)
    best = (0, 0)
    start = 0
    shortest = max(2, int(min_fraction * len(loss)))
    future_min = np.minimum.accumulate(loss[::-1])[::-1]
    while start < len(loss):
        ref = loss[start]
        off = np.flatnonzero(np.abs(loss[start:] - ref) > rtol * ref)
        end = start + (off[0] if off.size else len(loss) - start)
        long_enough = end - start >= max(shortest, best[1] - best[0] + 1)
        if long_enough and end < len(loss) and future_min[end] < ref / min_drop:
            best = (start, end)
        start = max(end, start + 1)
    return best


def fit_log_line(x, y) -> tuple[float, float, float]:
    """Least squares `log y ≈ a + b x`: returns `(slope b, intercept a, R²)`."""
    x, logy = np.asarray(x, float), np.log(np.asarray(y, float))
    b, a = np.polyfit(x, logy, 1)
    resid = logy - (a + b * x)
    total = np.sum((logy - logy.mean()) ** 2)
    r2 = 1.0 - np.sum(resid**2) / total if total > 0 else float("nan")
    return float(b), float(a), float(r2)

"""How well a learned vector field reproduces a known one (Yu, Tian, E, Li 2021, Sec. III).

`assess(model, truth, ...)` gathers, for one learned field, the numbers the OnsagerNet paper
compares models by:

- the test one-step loss `mean_pairs sum_i ((Heun_dt(h1) - h2)_i / dt)^2`;
- the rollout error `e(t) = mean_starts |h_model(t) - h_true(t)|` and the prediction horizon
  (first `t` with `e(t) > 1`);
- the fraction of long rollouts that stay in `|h| <= bound`, and the total-variation distance
  of their long-time coordinate histograms to the true ones;
- the fixed points (Newton from many starts) matched to the exact ones, with stability.
"""

from dataclasses import dataclass

import equinox as eqx
import numpy as np

from .analysis import (
    bounded_fraction,
    compare_fixed_points,
    histogram_distance,
    prediction_horizon,
    rollout,
    rollout_error,
)
from .training import Pairs, heun_loss


@dataclass(frozen=True)
class Reference:
    """The true field's side of the comparison, computed once for many models.

    `true_tail`: second half of the true long rollouts from `box_starts` (flattened states);
    `limits`: their per-coordinate range (histogram bins).
    """

    truth: eqx.Module
    diag_starts: np.ndarray
    box_starts: np.ndarray
    fp_starts: np.ndarray
    exact_fixed_points: np.ndarray
    fp_scale: float
    t_rollout: float
    t_bounded: float
    dt: float
    bound: float
    true_tail: np.ndarray
    limits: np.ndarray
    true_portrait: np.ndarray

    @classmethod
    def build(cls, truth, *, diag_starts, box_starts, fp_starts, exact_fixed_points, fp_scale,
              t_rollout, t_bounded, dt, bound) -> "Reference":  # fmt: skip
        """Roll the true field out from `box_starts` to `t_bounded` (200 saved intervals)."""
        _, hs = rollout(truth, box_starts, t_bounded, dt, n_save=201)
        tail = hs[:, 100:].reshape(-1, hs.shape[-1])
        limits = np.stack([tail.min(0), tail.max(0)], 1)
        return cls(truth, np.asarray(diag_starts), np.asarray(box_starts), np.asarray(fp_starts),
                   np.asarray(exact_fixed_points), float(fp_scale), t_rollout, t_bounded, dt,
                   bound, tail, limits, hs[:4, 100:])  # fmt: skip


@dataclass(frozen=True)
class Assessment:
    """One model's numbers (module doc); `error` is `e(t)` on `ts`, `portrait` 4 long rollouts."""

    test_loss: float
    ts: np.ndarray
    error: np.ndarray
    horizon: float
    bounded: float
    hist_distance: float
    fp_rel_error: float
    fp_same_stability: bool
    portrait: np.ndarray


def assess(model: eqx.Module, ref: Reference, test: Pairs) -> Assessment:
    """Every number of the module doc for `model` against `ref`, with `test` pairs."""
    n_save = int(round(ref.t_rollout / 0.05)) + 1
    ts, err = rollout_error(model, ref.truth, ref.diag_starts, ref.t_rollout, ref.dt, n_save=n_save)
    _, hl = rollout(model, ref.box_starts, ref.t_bounded, ref.dt, n_save=201)
    tail = hl[:, 100:].reshape(-1, hl.shape[-1])
    match = compare_fixed_points(
        model, ref.truth, ref.exact_fixed_points, ref.fp_starts, scale=ref.fp_scale
    )
    return Assessment(
        test_loss=float(heun_loss(model, test)),
        ts=ts,
        error=err,
        horizon=prediction_horizon(ts, err, 1.0),
        bounded=bounded_fraction(hl, ref.bound),
        hist_distance=histogram_distance(tail, ref.true_tail, limits=ref.limits),
        fp_rel_error=match.relative_error,
        fp_same_stability=bool(np.all(match.same_stability)),
        portrait=hl[:4, 100:],
    )

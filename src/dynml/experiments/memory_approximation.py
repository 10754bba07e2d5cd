"""Approximation of memory by linear RNNs: error against width (Li, Han, E, Li, ICLR 2021).

For each target kernel the best width-`m` linear RNN is estimated twice, and the smaller
white-noise error kept: (1) the least-squares exponential sum with log-spaced rates, (2) that
model trained further (all of `W`, `U`, `c`, Adam, `core.fit`). With exponentially decaying
memory the error falls fast with `m` (the theory gives `C/m^α` for any `α` the smoothness
allows); with power-law memory `(1 + t)^{-(1+ω)}` it falls slowly: the curse of memory.
"""

from dataclasses import dataclass

import jax
import numpy as np

from ..core import plot
from ..core.experiment import experiment
from ..core.runs import Run
from ..sequence import best_rnn_kernels, l1_relative_error, relative_error
from ..systems import memory as M


def decay_fits(widths, errors) -> dict:
    """Slopes and R² of `log err` against `m` (exponential decay) and against `log m` (algebraic)."""
    m, log_e = np.asarray(widths, float), np.log(np.asarray(errors))

    def fit(x):
        b, a = np.polyfit(x, log_e, 1)
        r = log_e - (a + b * x)
        return float(b), float(1 - r @ r / np.sum((log_e - log_e.mean()) ** 2))

    (exp_rate, exp_r2), (alg_order, alg_r2) = fit(m), fit(np.log(m))
    return dict(exp_rate=-exp_rate, exp_r2=exp_r2, alg_order=-alg_order, alg_r2=alg_r2)


@experiment(
    "memory-approximation",
    paper="Li, Han, E, Li, ICLR 2021 (curse of memory, approximation)",
    summary="error of the best width-m linear RNN: fast decay for exponential memory, slow for power laws",
)
@dataclass(frozen=True)
class Config:
    kernels: tuple[str, ...] = ("exprational", "airy", "power-0.5", "power-1", "power-2")
    widths: tuple[int, ...] = (1, 2, 4, 8, 16, 32)
    dt: float = 0.1
    lengths: tuple[int, ...] = (250, 2000, 8000)
    steps: int = 600
    learning_rate: float = 1e-3
    seed: int = 0

    @classmethod
    def quick(cls) -> "Config":
        return cls(
            kernels=("exprational", "power-0.5"), widths=(2, 4, 8), lengths=(250, 2000), steps=150
        )


def run(cfg: Config, run: Run) -> None:
    if min(cfg.widths) < 1 or min(cfg.lengths) < 2:
        raise ValueError(f"widths must be >= 1 and lengths >= 2, got {cfg.widths}, {cfg.lengths}")
    key = jax.random.PRNGKey(cfg.seed)
    errors = {}  # length -> (2 norms, kernel, width)
    for n in cfg.lengths:
        targets = np.stack([M.sample_kernel(M.kernel_by_name(k), n, cfg.dt) for k in cfg.kernels])
        per_width = []
        for m in cfg.widths:
            k_m = jax.random.fold_in(key, m)
            fitted = best_rnn_kernels(
                targets, cfg.dt, m, steps=cfg.steps, learning_rate=cfg.learning_rate, key=k_m
            )
            per_width.append([relative_error(fitted, targets), l1_relative_error(fitted, targets)])
        errors[n] = np.moveaxis(np.array(per_width), 0, -1)
    rows = [
        dict(
            kernel=k,
            horizon=n * cfg.dt,
            norm=norm,
            **{f"m={m}": float(e) for m, e in zip(cfg.widths, errors[n][j, i], strict=True)},
        )
        for i, k in enumerate(cfg.kernels)
        for n in cfg.lengths
        for j, norm in enumerate(("L2", "L1"))
    ]
    run.table(
        "relative_error",
        rows,
        caption="relative error of the best width-m linear RNN found, on [0, horizon]; L2 = white-noise loss, L1 = bounded-input operator norm",
    )
    n_max = cfg.lengths[-1]
    fits = []
    for i, k in enumerate(cfg.kernels):
        f = decay_fits(cfg.widths, np.maximum(errors[n_max][0, i], 1e-12))
        fits.append(dict(kernel=k, **f))
        run.metric(
            f"alg_order_{k}",
            f["alg_order"],
            note=f"-d log(L2 err)/d log m at horizon {n_max * cfg.dt:g}",
        )
        growth = errors[n_max][1, i] / errors[cfg.lengths[0]][1, i]
        run.metric(
            f"horizon_growth_{k}",
            float(np.median(growth)),
            note=f"median over m of L1 err(T={n_max * cfg.dt:g}) / L1 err(T={cfg.lengths[0] * cfg.dt:g})",
        )
    run.table(
        "decay_fits",
        fits,
        caption=f"horizon {n_max * cfg.dt:g}: exp_rate = -d log err/dm, alg_order = -d log err/d log m (L2 error)",
    )

    fig, axes = plot.figure(3, size=4.0)
    for i, k in enumerate(cfg.kernels):
        axes[0].loglog(cfg.widths, errors[n_max][0, i], "o-", label=k)
        axes[1].loglog(
            [n * cfg.dt for n in cfg.lengths],
            [np.median(errors[n][1, i]) for n in cfg.lengths],
            "o-",
            label=k,
        )
    axes[0].set(
        xlabel="width m",
        ylabel="relative L2 error",
        title=f"best width-m linear RNN, T={n_max * cfg.dt:g}",
    )
    axes[1].set(
        xlabel="horizon T", ylabel="median over m of L1 error", title="error against horizon"
    )
    t = np.arange(n_max) * cfg.dt
    for k in cfg.kernels:
        axes[2].plot(t, M.kernel_by_name(k)(t), label=k)
    axes[2].set(xlim=(0, 30), xlabel="t", ylabel="ρ(t)", title="target kernels")
    for ax in axes:
        ax.legend(fontsize=7)
    run.figure(
        "error_vs_width", fig, caption="error against width, against horizon, and the kernels"
    )

    power = [i for i, k in enumerate(cfg.kernels) if k.startswith("power-")]
    other = [i for i in range(len(cfg.kernels)) if i not in power]
    growth = lambda idx: (
        float(np.median(errors[n_max][1, idx] / errors[cfg.lengths[0]][1, idx]))
        if idx
        else float("nan")
    )
    run.metric(
        "horizon_growth_power_law",
        growth(power),
        paper="grows (curse of memory)",
        note="median L1-error growth from the shortest to the longest horizon, power-law kernels",
    )
    run.metric(
        "horizon_growth_exponential",
        growth(other),
        paper="bounded",
        note="same for exponentially decaying kernels",
    )
    run.note(
        "The paper proves rates, not numbers: C(α)γd/(β m^α) for exponentially decaying memory and, "
        "for algebraic decay, no such rate (the width grows exponentially in the accuracy on [0, ∞)). "
        "On a finite horizon T a power law is well approximated by exponentials with geometrically "
        "spaced rates down to 1/T, so its error at a fixed width is small; what the curse predicts is "
        "that this error grows as the horizon grows, while an exponentially decaying kernel does not "
        "need slower rates. The 'best' model is the better (in the white-noise loss) of a "
        "least-squares exponential sum with log-spaced rates in [1/T, 2/dt] and its Adam-trained "
        "refinement: an upper bound on the true best error, and float32 floors errors near 1e-6."
    )

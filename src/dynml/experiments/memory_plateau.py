"""Plateaus in training linear RNNs on memory with a delay (Li, Han, E, Li 2021/2022).

Target kernel `ρ(t) = e^{-t} + ρ_0(t - 1/ω)`, `ρ_0` a Gaussian bump. With white-noise inputs
the loss is `∫|ρ̂ - ρ|² dt`, so the linear RNN is trained on the kernel directly. The model
starts with memory `e^{-t}`; its overlap with the bump, hence the gradient that would teach
it the delay, is of order `e^{-1/ω}`, and theory predicts `log(plateau time) ≈ a + c/ω`.
The plateau time is the first step at which the loss is below `level` times the bump's
energy `∫ρ_0²` (i.e. more than that share of the delayed memory has been learned).
All `ω` and seeds train at once as one vmapped ensemble. Repeated with Adam, and with a tanh
RNN on a Lorenz 96 target delayed by `1/ω`.
"""

from dataclasses import dataclass

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

from ..core import plot
from ..core.experiment import experiment
from ..core.runs import Run
from ..core.train import fit
from ..sequence import (
    RNN,
    LinearRNN,
    fit_kernels,
    fit_log_line,
    hitting_time,
    longest_plateau,
    stack,
)
from ..systems import memory as M

_DELAYS = (3.0, 3.5, 4.0, 4.5, 5.0, 5.5, 6.0, 6.5)


@experiment(
    "memory-plateau",
    paper="Li, Han, E, Li, ICLR 2021 / JMLR 2022 (curse of memory in optimisation)",
    summary="plateau time of linear-RNN training grows like exp(c/ω) for a bump delayed by 1/ω",
)
@dataclass(frozen=True)
class Config:
    omegas: tuple[float, ...] = tuple(1.0 / d for d in _DELAYS)
    seeds: int = 3
    width: int = 8
    dt: float = 0.1
    bump_width: float = 0.5
    level: float = 0.5
    gd_learning_rate: float = 0.1
    gd_steps: int = 8000
    adam_learning_rate: float = 0.01
    adam_steps: int = 3000
    l96_omegas: tuple[float, ...] = (4.0, 2.0, 1.25, 1.0, 0.8, 2.0 / 3.0)
    l96_seeds: int = 2
    l96_width: int = 32
    l96_dt: float = 0.05
    l96_length: int = 80
    l96_samples: int = 256
    l96_batch: int = 32
    l96_steps: int = 3000
    l96_learning_rate: float = 1e-3
    l96_level: float = 0.5
    seed: int = 0

    @classmethod
    def quick(cls) -> "Config":
        return cls(
            omegas=tuple(1.0 / d for d in (3.0, 3.5, 4.0, 4.5)),
            seeds=2,
            gd_steps=2000,
            adam_steps=400,
            l96_omegas=(4.0, 1.0),
            l96_seeds=1,
            l96_width=16,
            l96_length=50,
            l96_samples=64,
            l96_steps=300,
        )


def _targets(cfg: Config) -> tuple[np.ndarray, float]:
    """Sampled target kernels (one row per ω) and the bump energy `∫ρ_0²`."""
    delays = 1.0 / np.asarray(cfg.omegas)
    length = int(np.ceil((delays.max() + 4 * cfg.bump_width + 1.0) / cfg.dt))
    rho0 = M.bump(cfg.bump_width)
    rows = [
        M.sample_kernel(M.kernel_sum(M.exp_sum([1.0]), M.delayed(rho0, d)), length, cfg.dt)
        for d in delays
    ]
    grid = np.arange(-length, length) * cfg.dt
    energy = cfg.dt * float(np.sum(rho0(grid) ** 2))
    return np.stack(rows), energy


def _linear_sweep(cfg: Config, optimizer, steps: int, key) -> np.ndarray:
    """Per-step losses `(steps, n_ω, seeds)` of the vmapped linear-RNN ensemble."""
    targets, _ = _targets(cfg)
    keys = jax.random.split(key, cfg.seeds)
    members = [
        LinearRNN(
            cfg.width, 1, 1, cfg.dt, key=k, rates=jnp.ones(cfg.width), noise=0.0, readout_scale=0.1
        )
        for _ in cfg.omegas
        for k in keys
    ]
    result = fit_kernels(
        stack(members),
        np.repeat(targets, cfg.seeds, axis=0),
        cfg.dt,
        steps=steps,
        key=key,
        optimizer=optimizer,
        log_every=max(1, steps // 4),
        desc="plateau",
    )
    losses = np.full((steps, len(members)), np.nan)
    aux = np.asarray(result.history["aux"])
    losses[: len(aux)] = aux
    return losses.reshape(steps, len(cfg.omegas), cfg.seeds)


def _l96_sweep(cfg: Config, key) -> np.ndarray:
    """Per-step losses `(steps, n_ω, seeds)` of tanh RNNs learning `x_1(t - 1/ω)` from `x_0`."""
    lags = np.round(1.0 / np.asarray(cfg.l96_omegas) / cfg.l96_dt).astype(int)
    k_data, k_model, k_fit = jax.random.split(key, 3)
    burn = int(lags.max())
    x, y = M.lorenz96_data(k_data, cfg.l96_samples, cfg.l96_length + burn, dt=cfg.l96_dt)
    x = x[:, burn:]
    targets = jnp.stack([y[:, burn - lag : burn - lag + cfg.l96_length, 0] for lag in lags], -1)
    members = [
        RNN(cfg.l96_width, 1, 1, key=k)
        for _ in lags
        for k in jax.random.split(k_model, cfg.l96_seeds)
    ]
    column = jnp.repeat(jnp.arange(len(lags)), cfg.l96_seeds)
    start = burn  # the first outputs cannot know the delayed target: leave them out

    def member_loss(model, j, batch):
        xb, yb = batch
        pred = jax.vmap(model)(xb)[:, start:, 0]
        return jnp.mean((pred - yb[:, start:, j]) ** 2)

    def loss_fn(models, batch):
        per = eqx.filter_vmap(member_loss, in_axes=(eqx.if_array(0), 0, None))(
            models, column, batch
        )
        return jnp.sum(per), per

    result = fit(
        stack(members),
        loss_fn,
        (x, targets),
        steps=cfg.l96_steps,
        key=k_fit,
        learning_rate=cfg.l96_learning_rate,
        batch_size=cfg.l96_batch,
        log_every=max(1, cfg.l96_steps // 4),
        has_aux=True,
        progress=False,
        desc="l96 plateau",
    )
    losses = np.full((cfg.l96_steps, len(members)), np.nan)
    aux = np.asarray(result.history["aux"])
    losses[: len(aux)] = aux
    return losses.reshape(cfg.l96_steps, len(lags), cfg.l96_seeds)


def _smooth(curve: np.ndarray, window: int) -> np.ndarray:
    """Running mean (mini-batch noise would trigger the level early)."""
    kernel = np.ones(window) / window
    return np.convolve(curve, kernel, mode="valid")


def _times(losses: np.ndarray, level: float, window: int = 1) -> np.ndarray:
    """Hitting times `(n_ω, seeds)` of `level` by each (smoothed) loss curve."""
    _, n_w, n_s = losses.shape
    return np.array(
        [
            [hitting_time(_smooth(losses[:, i, s], window), level) for s in range(n_s)]
            for i in range(n_w)
        ]
    )


def _line(inv_omega, times) -> tuple[float, float, float, int]:
    """Fit of `log(median time over seeds)` against `1/ω` over the ω whose runs all escaped."""
    med = np.median(times, axis=1)
    ok = np.isfinite(med) & (med > 0)
    if ok.sum() < 3:
        return float("nan"), float("nan"), float("nan"), int(ok.sum())
    slope, intercept, r2 = fit_log_line(np.asarray(inv_omega)[ok], med[ok])
    return slope, intercept, r2, int(ok.sum())


def run(cfg: Config, run: Run) -> None:
    if len(cfg.omegas) < 2 or min(cfg.omegas) <= 0:
        raise ValueError(f"omegas must hold at least two positive values, got {cfg.omegas}")
    key = jax.random.PRNGKey(cfg.seed)
    k_gd, k_adam, k_l96 = jax.random.split(key, 3)
    inv = 1.0 / np.asarray(cfg.omegas)
    _, energy = _targets(cfg)
    level = cfg.level * energy
    sweeps = {
        "GD": _linear_sweep(cfg, optax.sgd(cfg.gd_learning_rate), cfg.gd_steps, k_gd),
        "Adam": _linear_sweep(cfg, optax.adam(cfg.adam_learning_rate), cfg.adam_steps, k_adam),
    }
    times = {name: _times(losses, level) for name, losses in sweeps.items()}
    l96 = _l96_sweep(cfg, k_l96)
    l96_inv = 1.0 / np.asarray(cfg.l96_omegas)
    times["L96 RNN"] = _times(l96, cfg.l96_level, window=max(1, cfg.l96_steps // 100))

    lines = {}
    for name, x in (("GD", inv), ("Adam", inv), ("L96 RNN", l96_inv)):
        slope, intercept, r2, n_fit = _line(x, times[name])
        lines[name] = (slope, intercept)
        tag = name.lower().replace(" ", "_")
        run.metric(
            f"{tag}_slope",
            slope,
            paper="straight line, slope c > 0" if name == "GD" else None,
            note=f"fitted d log(plateau time) / d(1/ω) over {n_fit} ω values (median over seeds)",
        )
        run.metric(f"{tag}_r2", r2, note="R² of the straight-line fit of log(plateau time) vs 1/ω")
        run.metric(
            f"{tag}_escaped",
            float(np.mean(np.isfinite(times[name]))),
            note="fraction of runs whose loss fell below the level within the step budget",
        )

    plateaus = {
        name: np.array(
            [
                [np.diff(longest_plateau(c[:, i, s]))[0] for s in range(c.shape[2])]
                for i in range(c.shape[1])
            ]
        )
        for name, c in (("GD", sweeps["GD"]), ("Adam", sweeps["Adam"]), ("L96 RNN", l96))
    }
    rows = []
    for name, x in (("GD", inv), ("Adam", inv), ("L96 RNN", l96_inv)):
        for i, d in enumerate(x):
            rows.append(
                dict(
                    run=name,
                    inv_omega=float(d),
                    median_plateau_time=float(np.median(times[name][i])),
                    min_time=float(np.min(times[name][i])),
                    max_time=float(np.max(times[name][i])),
                    longest_plateau_steps=float(np.median(plateaus[name][i])),
                )
            )
    run.table(
        "plateau_times",
        rows,
        caption=(
            f"plateau time = first step with loss < {cfg.level} × bump energy ({level:.3g}) for the "
            f"linear RNN, < {cfg.l96_level} (target variance 1) for the L96 RNN; inf = not within the "
            "budget. longest_plateau_steps: longest stretch with the loss within 10% before a 2× drop."
        ),
    )
    run.metric(
        "gd_detected_plateaus",
        float(np.mean(plateaus["GD"] > 0)),
        note="fraction of GD runs where a plateau (≥5% of the run, then a 2× drop) is detected",
    )
    run.metric(
        "l96_detected_plateaus",
        float(np.mean(plateaus["L96 RNN"] > 0)),
        note="same for the tanh RNN on the delayed Lorenz 96 target",
    )

    fig, axes = plot.figure(3, size=4.2)
    for ax, (name, losses, x) in zip(
        axes,
        (("GD", sweeps["GD"], inv), ("Adam", sweeps["Adam"], inv), ("L96 RNN", l96, l96_inv)),
        strict=True,
    ):
        colors = plot.plt.cm.viridis(np.linspace(0, 1, len(x)))
        for i, d in enumerate(x):
            ax.plot(losses[:, i, 0], color=colors[i], lw=0.8, label=f"1/ω={d:.2g}")
        if name != "L96 RNN":
            ax.axhline(level, color="k", ls=":", lw=0.8)
        ax.set_yscale("log")
        ax.set_xlabel("step")
        ax.set_ylabel("loss")
        ax.set_title(name)
        ax.legend(fontsize=6)
    run.figure("loss_curves", fig, caption="training loss for each 1/ω (seed 0); dotted: the level")

    fig, ax = plot.figure(1, size=4.5)
    for name, x, marker in (("GD", inv, "o"), ("Adam", inv, "s"), ("L96 RNN", l96_inv, "^")):
        med = np.median(times[name], axis=1)
        ok = np.isfinite(med)
        ax.plot(x[ok], med[ok], marker, label=name)
        slope, intercept = lines[name]
        if np.isfinite(slope):
            ax.plot(x, np.exp(intercept + slope * x), "--", lw=0.8)
    ax.set_yscale("log")
    ax.set_xlabel("1/ω")
    ax.set_ylabel("plateau time (steps)")
    ax.legend(fontsize=8)
    run.figure(
        "plateau_time", fig, caption="median plateau time against 1/ω, with the fitted exp(a + c/ω)"
    )

    gd_slope = lines["GD"][0]
    run.note(
        f"Gradient descent: log(plateau time) against 1/ω has slope {gd_slope:.3g} "
        f"(R² {run.metrics['gd_r2']:.3g}); the theory predicts a straight line with positive "
        "slope as ω → 0. Adam rescales the exponentially small gradient, so its slope is "
        f"{lines['Adam'][0]:.3g}: plateaus are much shorter and depend weakly on the delay. "
        "The papers report the trend (figures), not a slope value, so only the sign and the "
        "straightness are compared. Quick runs use few ω and steps; runs that never reach "
        "the level within the budget are left out of the fit (see *_escaped)."
    )

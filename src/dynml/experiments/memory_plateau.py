"""Plateaus in training linear RNNs on memory with a delay (Li, Han, E, Li 2021; JMLR 2022).

Target `ρ(t) = e^{-t} + ρ_0(t - 1/ω)` (`ρ_0` a Gaussian bump), white-noise loss `∫|ρ̂ - ρ|² dt`.
Model: the diagonal linear RNN `ρ̂ = Σ_i c_i e^{-λ_i t}`, width 2, from `λ = (1, 1)`,
`c = (1, 0.1)`: it fits `e^{-t}` at once, then sits on a plateau at the bump's energy, since the
gradient that moves a rate towards `ω` is of order `e^{-1/ω}`: `log(escape time) ≈ a + c/ω`.
Escape time = end of each curve's own longest plateau on the log-step axis (`sequence.escape_time`,
`log_time=True`); diverged and never-escaped runs are counted; both fits (against `1/ω` and
`log(1/ω)`) are reported. All `ω` and seeds train as one vmapped ensemble; repeated with Adam
and with tanh RNNs on Lorenz 96.
"""

from dataclasses import asdict, dataclass

import jax
import jax.numpy as jnp
import numpy as np
import optax

from ..core import plot
from ..core.claims import AtLeast, Claim, LessThan
from ..core.experiment import experiment
from ..core.runs import Run
from ..sequence import (
    RNN,
    DiagonalLinearRNN,
    escape_time,
    fit_escape_times,
    log_spaced_steps,
    stack,
    train_ensemble,
    white_noise_loss,
)
from ..systems import memory as M

_SOURCE = "Li, Han, E, Li, JMLR 2022, §5 (plateau time ~ exp(c/ω))"


@experiment(
    "memory-plateau",
    paper="Li, Han, E, Li, ICLR 2021 / JMLR 2022 (curse of memory in optimisation)",
    summary="escape time of linear-RNN training grows like exp(c/ω) for a bump delayed by 1/ω",
    claims=[
        Claim(
            "GD: log(escape time) is a straight line in 1/ω (R² ≥ 0.95)",
            "gd_exp_r2",
            AtLeast(0.95),
            paper="log T ≈ a + c/ω",
            source=_SOURCE,
        ),
        Claim(
            "GD: the exponential-in-1/ω fit beats the power-law fit",
            ("gd_pow_r2", "gd_exp_r2"),
            LessThan(1.0, strict=True),
            paper="exponential, not algebraic, growth",
            source=_SOURCE,
        ),
    ],
)
@dataclass(frozen=True)
class Config:
    # 1/ω over a 5x range. Below 1.8 a later refinement plateau outlasts the memory plateau
    # (which is a few steps long there); at 9 the escape takes ~3e5 GD steps (lr 0.005).
    inv_omegas: tuple[float, ...] = tuple(np.round(np.geomspace(1.8, 9.0, 10), 3))
    seeds: int = 3
    width: int = 2
    dt: float = 0.1
    bump_width: float = 0.5
    rtol: float = 0.05  # plateau: loss within a factor 1 + rtol
    min_drop: float = 1.2  # and escaped: the loss later falls by this factor below it
    plateau_points: int = 4000  # log-spaced loss samples searched for the plateau
    gd_learning_rate: float = 0.005  # resolves the few-step escapes at 1/ω = 1.8
    gd_steps: int = 800_000
    adam_learning_rate: float = 0.01
    adam_steps: int = 20_000
    l96_inv_omegas: tuple[float, ...] = (0.25, 0.5, 0.75, 1.0, 1.25, 1.5)
    l96_seeds: int = 2
    l96_width: int = 32
    l96_dt: float = 0.05
    l96_length: int = 80
    l96_samples: int = 256
    l96_batch: int = 32
    l96_steps: int = 3000
    l96_learning_rate: float = 1e-3
    seed: int = 0

    @classmethod
    def quick(cls) -> "Config":
        return cls(
            seeds=2,
            gd_steps=450_000,
            adam_steps=4000,
            l96_inv_omegas=(0.25, 1.0),
            l96_seeds=1,
            l96_width=16,
            l96_length=50,
            l96_samples=64,
            l96_steps=300,
        )


def _targets(cfg: Config) -> np.ndarray:
    length = int(np.ceil((max(cfg.inv_omegas) + 5 * cfg.bump_width + 1.0) / cfg.dt))
    rho0 = M.bump(cfg.bump_width)
    kernels = [M.kernel_sum(M.exp_sum([1.0]), M.delayed(rho0, d)) for d in cfg.inv_omegas]
    return np.stack([M.sample_kernel(k, length, cfg.dt) for k in kernels])


def _linear_sweep(cfg: Config, optimizer, steps: int, key):
    """Training curves `(steps, n_ω, seeds)` of the vmapped diagonal linear RNNs."""
    targets = _targets(cfg)
    length = targets.shape[1]
    keys = jax.random.split(key, cfg.seeds)
    members = []
    for _ in cfg.inv_omegas:
        for k in keys:
            ka, kl = jax.random.split(k)
            c = jnp.zeros(cfg.width).at[0].set(1.0).at[1:].set(0.1)
            c = c * (1 + 0.1 * jax.random.normal(ka, (cfg.width,)))
            lam = 1.0 + 0.01 * jax.random.normal(kl, (cfg.width,))
            members.append(DiagonalLinearRNN(lam, c, cfg.dt))
    loss = lambda m, rho: white_noise_loss(m.sampled_kernel(length)[:, 0, 0], rho, cfg.dt)
    rho = jnp.asarray(np.repeat(targets, cfg.seeds, axis=0))
    res = train_ensemble(stack(members), loss, rho, optimizer, steps)
    shape = (len(cfg.inv_omegas), cfg.seeds)
    return res.losses.reshape(steps, *shape), res.diverged.reshape(shape)


def _l96_sweep(cfg: Config, key):
    """Curves `(steps, n_ω, seeds)` of tanh RNNs learning `x_1(t - 1/ω)` from `x_0`."""
    lags = np.round(np.asarray(cfg.l96_inv_omegas) / cfg.l96_dt).astype(int)
    k_data, k_model, k_fit = jax.random.split(key, 3)
    burn = int(lags.max())
    x, y = M.lorenz96_data(k_data, cfg.l96_samples, cfg.l96_length + burn, dt=cfg.l96_dt)
    x = x[:, burn:]
    ys = jnp.stack([y[:, burn - lag : burn - lag + cfg.l96_length, 0] for lag in lags], -1)
    keys = jax.random.split(k_model, cfg.l96_seeds)
    members = [RNN(cfg.l96_width, 1, 1, key=k) for _ in lags for k in keys]
    column = jnp.repeat(jnp.arange(len(lags)), cfg.l96_seeds)

    def loss(model, j, batch):  # the first `burn` outputs cannot know the delayed target
        xb, yb = batch
        pred = jax.vmap(model)(xb)[:, burn:, 0]
        return jnp.mean((pred - yb[:, burn:, j]) ** 2)

    opt = optax.chain(optax.clip_by_global_norm(1.0), optax.adam(cfg.l96_learning_rate))
    res = train_ensemble(
        stack(members), loss, column, opt, cfg.l96_steps,
        data=(x, ys), batch_size=cfg.l96_batch, key=k_fit,
    )  # fmt: skip
    shape = (len(lags), cfg.l96_seeds)
    return res.losses.reshape(cfg.l96_steps, *shape), res.diverged.reshape(shape)


def _escape(curve: np.ndarray, window: int, cfg: Config) -> float:
    """End of the longest plateau in log-time of the curve smoothed over `window` steps (the
    mini-batch noise of L96), searched on `cfg.plateau_points` log-spaced samples."""
    smooth = np.convolve(curve, np.ones(window) / window, mode="valid") if window > 1 else curve
    at = log_spaced_steps(len(smooth), cfg.plateau_points)
    t = escape_time(smooth[at], rtol=cfg.rtol, min_drop=cfg.min_drop, log_time=True, steps=at)
    return t + (window - 1) // 2


def run(cfg: Config, run: Run) -> None:
    if len(cfg.inv_omegas) < 3 or min(cfg.inv_omegas) <= 0:
        raise ValueError(
            f"inv_omegas must hold at least three positive values, got {cfg.inv_omegas}"
        )
    k_gd, k_adam, k_l96 = jax.random.split(jax.random.PRNGKey(cfg.seed), 3)
    sweeps = {
        "GD": (_linear_sweep(cfg, optax.sgd(cfg.gd_learning_rate), cfg.gd_steps, k_gd), cfg.inv_omegas, 1),
        "Adam": (_linear_sweep(cfg, optax.adam(cfg.adam_learning_rate), cfg.adam_steps, k_adam), cfg.inv_omegas, 1),
        "L96 RNN": (_l96_sweep(cfg, k_l96), cfg.l96_inv_omegas, max(1, cfg.l96_steps // 50)),
    }  # fmt: skip
    rows, times = [], {}
    for name, ((losses, diverged), x, window) in sweeps.items():
        t = np.array(
            [[_escape(losses[:, i, s], window, cfg) for s in range(losses.shape[2])] for i in range(losses.shape[1])]
        )  # fmt: skip
        times[name] = t
        fits = fit_escape_times(np.asarray(x), t)
        tag = name.lower().replace(" ", "_").replace("l96_rnn", "l96")
        for key, value in asdict(fits).items():
            run.metric(f"{tag}_{key}", value)
        run.metric(
            f"{tag}_diverged_runs", int(diverged.sum()), note="runs whose loss turned non-finite"
        )
        rows += [
            dict(run=name, inv_omega=float(d), escape_times=" ".join(f"{v:.0f}" for v in t[i]),
                 diverged=int(diverged[i].sum()))
            for i, d in enumerate(x)
        ]  # fmt: skip
    gd = sweeps["GD"][0][0]
    rises = np.diff(gd, axis=0) > 1e-6 * np.abs(gd[:-1])
    run.metric(
        "gd_rising_steps",
        float(np.nanmean(rises)),
        note="share of GD steps where the loss rose (stability)",
    )
    run.table(
        "escape_times",
        rows,
        caption=f"escape time = end of the longest plateau (loss within ×{1 + cfg.rtol:g}, then "
        f"falls {cfg.min_drop:g}× below it); inf = never escaped, nan = diverged",
    )

    fig, axes = plot.figure(3, size=4.2)
    for ax, (name, ((losses, _), x, _)) in zip(axes, sweeps.items(), strict=True):
        colors = plot.plt.cm.viridis(np.linspace(0, 1, len(x)))
        at = log_spaced_steps(len(losses), cfg.plateau_points)  # the log-step axis the search uses
        for i, d in enumerate(x):
            ax.plot(at + 1, losses[at, i, 0], color=colors[i], lw=0.8, label=f"1/ω={d:.3g}")
            if np.isfinite(times[name][i, 0]):
                ax.plot(times[name][i, 0] + 1, losses[int(times[name][i, 0]), i, 0], "k|", ms=10)
        ax.set(xscale="log", yscale="log", xlabel="step + 1", ylabel="loss", title=name)
        ax.legend(fontsize=6)
    run.figure(
        "loss_curves", fig, caption="training loss for each 1/ω (seed 0), escape times marked"
    )

    fig, axes = plot.figure(2, size=4.5)
    x = np.asarray(cfg.inv_omegas)
    med = np.median(times["GD"], axis=1)
    for ax, xs, label in ((axes[0], x, "1/ω"), (axes[1], np.log(x), "log(1/ω)")):
        ax.plot(xs, times["GD"], "k.", ms=3)
        ax.plot(xs, med, "o", label="GD median")
        ax.plot(xs, np.median(times["Adam"], axis=1), "s", label="Adam median")
        ax.set(yscale="log", xlabel=label, ylabel="escape time (steps)")
    m = run.metrics
    if np.isfinite(m["gd_exp_slope"]):
        axes[0].plot(
            x,
            np.exp(m["gd_exp_intercept"] + m["gd_exp_slope"] * x),
            "--",
            label=f"exp fit R²={m['gd_exp_r2']:.3f}",
        )
        axes[1].plot(
            np.log(x),
            np.exp(m["gd_pow_intercept"] + m["gd_pow_exponent"] * np.log(x)),
            "--",
            label=f"power fit R²={m['gd_pow_r2']:.3f}",
        )
    [ax.legend(fontsize=7) for ax in axes]
    run.figure("escape_time", fig, caption="escape time against 1/ω (left) and log(1/ω) (right), both fits")  # fmt: skip
    run.note(
        f"GD (lr {cfg.gd_learning_rate:g}): log T vs 1/ω slope {m['gd_exp_slope']:.3g}, R² {m['gd_exp_r2']:.3g}; "
        f"vs log(1/ω) exponent {m['gd_pow_exponent']:.3g}, R² {m['gd_pow_r2']:.3g}; {m['gd_n_points']} of "
        f"{len(x)} values fitted, {m['gd_n_not_escaped']} runs not escaped, {m['gd_n_diverged']} diverged."
    )

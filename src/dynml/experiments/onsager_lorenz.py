"""OnsagerNet on Lorenz '63 against MLP-ODE, a dissipative Hamiltonian net and SINDy.

Yu, Tian, E, Li, Phys. Rev. Fluids 6, 114402 (2021), Sec. III: 100 trajectories from
`[-25, 25]^2 x [-5, 30]`, `T = 3`, 100 pairs `(h(t), h(t + 1e-3))` each, 80/20 split by
trajectory, one-step Heun loss; OnsagerNet 1 x 20 (356 parameters) vs MLP-ODE 2 x 16 (387).
All seeds of one model train together (an ensemble, `identify.training`).
"""

from dataclasses import dataclass

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from ..core import plot
from ..core.experiment import experiment
from ..core.nn import count_params
from ..core.runs import Run
from ..identify import (
    MLPODE,
    DissipativeHamiltonianNet,
    OnsagerNet,
    SINDy,
    as_pairs,
    bounded_fraction,
    ensemble,
    find_fixed_points,
    heun_loss,
    histogram_distance,
    match_fixed_points,
    member,
    rollout,
    train_vector_field,
)
from ..systems.lorenz import fixed_points, lorenz63, simulate

LOW, HIGH = np.array([-25.0, -25.0, -5.0]), np.array([25.0, 25.0, 30.0])
NETWORKS = {
    "OnsagerNet": lambda k: OnsagerNet(3, 20, depth=1, alpha=0.1, beta=0.1, key=k),
    "MLP-ODE": lambda k: MLPODE(3, 16, depth=2, key=k),
    "Hamiltonian": lambda k: DissipativeHamiltonianNet(3, 12, depth=1, key=k),
}


@experiment(
    "onsager-lorenz",
    paper="Yu, Tian, E, Li, Phys. Rev. Fluids 6, 114402 (2021)",
    summary="OnsagerNet vs MLP-ODE, dissipative Hamiltonian net and SINDy on Lorenz '63",
)
@dataclass(frozen=True)
class Config:
    rs: tuple[float, ...] = (16.0, 28.0)
    n_traj: int = 100
    t_final: float = 3.0
    pairs_per_traj: int = 100
    dt: float = 1e-3
    epochs: int = 300
    batch_size: int = 200
    learning_rate: float = 0.0128
    n_seeds: int = 3
    models: tuple[str, ...] = ("OnsagerNet", "MLP-ODE", "Hamiltonian", "SINDy")
    t_rollout: float = 25.0
    n_bounded: int = 500
    t_bounded: float = 100.0
    dt_rollout: float = 0.01
    n_fp_starts: int = 300
    seed: int = 0

    @classmethod
    def quick(cls) -> "Config":
        return cls(
            rs=(28.0,),
            n_traj=20,
            epochs=15,
            n_seeds=2,
            t_rollout=5.0,
            n_bounded=50,
            t_bounded=20.0,
            n_fp_starts=100,
        )


def _data(cfg: Config, r: float):
    rng = np.random.default_rng(cfg.seed)
    x0 = rng.uniform(LOW, HIGH, size=(cfg.n_traj, 3))
    ts = np.arange(0.0, cfg.t_final + cfg.dt / 2, cfg.dt)
    traj = simulate(x0, ts, r=r)
    train, test = traj.split(0.8, seed=cfg.seed)
    idx = np.linspace(0, len(ts) - 2, cfg.pairs_per_traj).astype(int)

    def pairs(t):
        return as_pairs(t.x[:, idx].reshape(-1, 3), t.x[:, idx + 1].reshape(-1, 3), cfg.dt)

    return pairs(train), pairs(test), float(np.abs(traj.x).max())


def _fit_models(cfg: Config, train, r: float) -> dict[str, list]:
    """Every model's fitted members (one per seed); SINDy is deterministic (one member)."""
    fitted = {}
    for i, name in enumerate(cfg.models):
        if name == "SINDy":
            x0, x1, dt = (np.asarray(a) for a in train)
            fitted[name] = [SINDy.from_pairs(x0, x1, dt)]
            continue
        if name not in NETWORKS:
            raise ValueError(f"unknown model {name!r}; choose from {[*NETWORKS, 'SINDy']}")
        key = jax.random.fold_in(jax.random.PRNGKey(cfg.seed), 1000 * i + int(r))
        models = ensemble(NETWORKS[name], jax.random.split(key, cfg.n_seeds))
        res = train_vector_field(
            models,
            train,
            epochs=cfg.epochs,
            batch_size=cfg.batch_size,
            learning_rate=cfg.learning_rate,
            key=key,
            n_members=cfg.n_seeds,
            desc=f"{name} r={r:g}",
        )
        fitted[name] = [member(res.model, k) for k in range(cfg.n_seeds)]
    return fitted


class _TrueLorenz(eqx.Module):
    """The exact Lorenz '63 field at `r` as a module (so `rollout` compiles it once)."""

    r: float = eqx.field(static=True)

    def __call__(self, h):
        return lorenz63(0.0, h, (10.0, self.r, 8.0 / 3.0))


def _spread(values) -> tuple[float, float]:
    v = np.asarray(values, np.float64)
    return float(np.mean(v)), float(np.std(v))


def _evaluate(cfg: Config, r: float, fitted, test, scale: float, run: Run):
    truth = _TrueLorenz(r)
    diag = np.linspace(-10, 10, 12)
    h_diag = np.stack([diag, diag, np.zeros(12)], 1)
    n_save = int(cfg.t_rollout / 0.05) + 1
    ts, true_diag = rollout(truth, h_diag, cfg.t_rollout, cfg.dt_rollout, n_save=n_save)
    rng = np.random.default_rng(cfg.seed + 1)
    h_box = rng.uniform(LOW, HIGH, size=(cfg.n_bounded, 3))
    _, true_long = rollout(truth, h_box, cfg.t_bounded, cfg.dt_rollout, n_save=201)
    true_tail = true_long[:, 100:].reshape(-1, 3)
    limits = np.stack([true_tail.min(0), true_tail.max(0)], 1)
    starts = rng.uniform(LOW, HIGH, size=(cfg.n_fp_starts, 3))
    exact_fp = fixed_points(r=r)
    exact_unstable = find_fixed_points(truth, exact_fp).n_unstable
    rows, curves, portraits = [], {}, {}
    for name, members in fitted.items():
        per = {
            k: [] for k in ("mse", "horizon", "err_mean", "bounded", "hist", "fp_err", "fp_stab")
        }
        errs = []
        for model in members:
            per["mse"].append(float(heun_loss(model, test)))
            _, hd = rollout(model, h_diag, cfg.t_rollout, cfg.dt_rollout, n_save=n_save)
            err = np.linalg.norm(np.nan_to_num(hd - true_diag, nan=1e6, posinf=1e6), axis=-1)
            err = np.minimum(err, 1e6).mean(axis=0)
            errs.append(err)
            per["err_mean"].append(float(err.mean()))
            over = np.nonzero(err > 1.0)[0]
            per["horizon"].append(float(ts[over[0]]) if len(over) else float(ts[-1]))
            _, hl = rollout(model, h_box, cfg.t_bounded, cfg.dt_rollout, n_save=201)
            per["bounded"].append(bounded_fraction(hl, 4 * scale))
            per["hist"].append(
                histogram_distance(hl[:, 100:].reshape(-1, 3), true_tail, limits=limits)
            )
            found = find_fixed_points(model, starts)
            dist = match_fixed_points(found, exact_fp)
            per["fp_err"].append(float(dist.max()))
            nearest = [
                int(np.argmin(np.linalg.norm(found.points - e, axis=1)))
                if len(found.points)
                else -1
                for e in exact_fp
            ]
            same = [
                n >= 0 and d < 1.0 and found.n_unstable[n] == u
                for n, d, u in zip(nearest, dist, exact_unstable, strict=True)
            ]
            per["fp_stab"].append(float(np.mean(same)))
            portraits.setdefault(name, hl[:4, 100:])
        curves[name] = np.mean(errs, axis=0)
        row = {"r": r, "model": name, "params": count_params(members[0]), "seeds": len(members)}
        for k, v in per.items():
            row[k], row[k + "_sd"] = _spread(v)
        row["accuracy"] = -np.log10(row["mse"])
        rows.append(row)
        tag = f"r{r:g}_{name}"
        run.metric(
            f"{tag}_accuracy", row["accuracy"], note="-log10 test one-step MSE, mean over seeds"
        )
        run.metric(f"{tag}_bounded_fraction", row["bounded"])
        run.metric(f"{tag}_hist_distance", row["hist"])
        run.metric(f"{tag}_fixed_point_error", row["fp_err"], paper="0 (exact: origin and C+-)")
    return rows, ts, curves, portraits, true_long[:4, 100:]


def _energy_slices(fitted, r: float, run: Run):
    if "OnsagerNet" not in fitted:
        return
    model = fitted["OnsagerNet"][0]
    xs = np.linspace(-25, 25, 81)
    zs = np.linspace(-5, 50, 81)
    fig, axes = plot.figure(2, size=4.0)
    for ax, y in zip(axes, (0.0, float(np.sqrt(8 / 3 * (r - 1)))), strict=True):
        grid = jnp.array([[x, y, z] for z in zs for x in xs])
        v = np.asarray(jax.vmap(model.V)(grid)).reshape(len(zs), len(xs))
        plot.contour_map(ax, xs, zs, np.log10(v), title=f"log10 V on y = {y:.2f}")
        c = fixed_points(r=r)
        ax.plot(c[:, 0], c[:, 2], "r*", ms=8)
        ax.set_xlabel("x")
        ax.set_ylabel("z")
    run.figure(
        f"energy_r{r:g}",
        fig,
        caption=f"Learned OnsagerNet potential, r = {r:g}, on "
        "two slices (red stars: exact fixed points).",
    )


def run(cfg: Config, run: Run) -> None:
    all_rows = []
    for r in cfg.rs:
        train, test, scale = _data(cfg, r)
        fitted = _fit_models(cfg, train, r)
        rows, ts, curves, portraits, true_portrait = _evaluate(cfg, r, fitted, test, scale, run)
        all_rows += rows
        fig, ax = plot.figure(1, size=5.0)
        plot.curves(
            ax,
            ts,
            curves,
            logy=True,
            xlabel="t",
            ylabel="mean |h - h_true|",
            title=f"rollout error from 12 diagonal points, r = {r:g}",
        )
        run.figure(
            f"rollout_error_r{r:g}",
            fig,
            caption="Mean over the 12 initial points and "
            "the seeds of the distance to the true trajectory.",
        )
        fig, axes = plot.figure(len(portraits) + 1, size=3.2)
        plot.phase_portrait(axes[0], true_portrait, dims=(0, 2), title="true")
        for ax, (name, traj) in zip(axes[1:], portraits.items(), strict=True):
            plot.phase_portrait(ax, np.nan_to_num(traj), dims=(0, 2), title=name)
        run.figure(
            f"phase_portraits_r{r:g}",
            fig,
            caption="Long-time rollouts (second half "
            "of [0, t_bounded]) from the same 4 initial points, x-z plane.",
        )
        _energy_slices(fitted, r, run)
    keys = [
        "r",
        "model",
        "params",
        "seeds",
        "accuracy",
        "mse",
        "mse_sd",
        "horizon",
        "horizon_sd",
        "err_mean",
        "bounded",
        "bounded_sd",
        "hist",
        "hist_sd",
        "fp_err",
        "fp_err_sd",
        "fp_stab",
    ]
    run.table(
        "lorenz",
        [{k: row[k] for k in keys} for row in all_rows],
        caption=(
            "mean (and sd over seeds): accuracy = -log10 test one-step MSE; horizon = first time "
            "the mean rollout error from the 12 diagonal points exceeds 1; err_mean = time-mean of "
            "that error to t_rollout; bounded = fraction of random rollouts to t_bounded with "
            "|h| <= 4 max|data|; hist = mean total-variation distance of the coordinate histograms "
            "of the second half of those rollouts to the true ones; fp_err = largest distance "
            "from an exact fixed point to the nearest found one; fp_stab = fraction of exact "
            "fixed points matched (< 1) with the same number of unstable eigenvalues."
        ),
    )
    run.note(
        f"Protocol: {cfg.n_traj} trajectories, T = {cfg.t_final}, {cfg.pairs_per_traj} pairs "
        f"each (dt = {cfg.dt}), 80/20 split by trajectory, {cfg.epochs} epochs (paper: 600), "
        f"{cfg.n_seeds} seeds trained together. Boundedness uses {cfg.n_bounded} initial "
        f"points to T = {cfg.t_bounded:g} (the issue asks 1,000 points to T = 1,000; that is "
        "~100x more rollout work than fits the 2-core budget; --set n_bounded=1000 "
        "t_bounded=1000 runs it)."
    )
    run.note(
        "SINDy (degree-2 library, STLSQ threshold 0.5) is fitted on the same pairs through "
        "secant slopes; Lorenz '63 is exactly quadratic, so on clean data SINDy recovers the "
        "true equations and is the strongest baseline by far: it is deterministic, so its "
        "seed spread is 0. OnsagerNet's advantages are guaranteed dissipation structure, "
        "inspectable M, W, V, and robustness when the true field is not in a small library "
        "(reduced coordinates, noisy data). The dissipative Hamiltonian net has no forcing, "
        "so dH/dt <= 0 forces every trajectory to a fixed point: it cannot hold the chaotic "
        "attractor, which shows in its histogram distance."
    )
    run.note(
        "The paper reports its accuracies in figures, not in numbers we hold (REFERENCES "
        "section 5 gives the protocol and parameter counts only), so our table stands beside "
        "the paper's qualitative claims: OnsagerNet matches or beats MLP-ODE in accuracy, "
        "stays bounded, and reproduces the fixed points and their stability."
    )

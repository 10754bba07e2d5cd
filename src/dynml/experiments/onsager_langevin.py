"""OnsagerNet on damped Langevin dynamics against MLP-ODE and a dissipative Hamiltonian net.

Yu, Tian, E, Li, Phys. Rev. Fluids 6, 114402 (2021), Sec. IV, Fig. 2, at the authors' protocol
(their `Langevin/test_ode_Langevin.py`, `paper_fig2.sh`, `test_ode_error.py`): `x' = v`,
`v' = -gamma(x, v) v - U'(x)`, pendulum `U = kappa/c^2 (1 - cos cx)`, `c = pi/2`, damping
`gamma (x^2 + v^2)`, kappa = 4, gamma = 3; 100 trajectories from `[-1, 1]^2`, `T = 5`, 100
pairs `(h(t), h(t + 1e-3))` each, the first 80 for training; one-step Heun loss (summed over
components); batch 200, AdamW-AMSGrad lr 0.0256, plateau patience 25, 600 epochs; one hidden
layer: OnsagerNet 1 x 12 without forcing, `alpha = beta = 0` (their `ons_min_d = pot_beta = 0`), MLP-ODE
2 x 9 with the skip connection, the Hamiltonian net 1 x 17; ReQUr (`-f 0`, Fig. 2b). Forecast
error as in Fig. 2b: 12 starts on the boundary of `[-1, 1]^2`, `T = 25`.
"""

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from ..core import plot
from ..core.claims import Claim, LessThan
from ..core.experiment import experiment
from ..core.nn import count_params
from ..core.runs import Run
from ..identify import (
    MLPODE,
    DissipativeHamiltonianNet,
    OnsagerNet,
    aligned_energy_error,
    as_pairs,
    heun_loss,
    member,
    path_relative_error,
    rollout,
    train_vector_field,
)
from ..systems.langevin import energy, simulate

ENERGY = {"OnsagerNet": "V", "Hamiltonian": "H"}
SRC = "Yu, Tian, E, Li 2021, Sec. IV, Fig. 2"


def _claim(text, metric, paper):
    return Claim(text, (f"OnsagerNet_{metric}", f"MLP-ODE_{metric}"), LessThan(1.0),
                 paper=paper, source=SRC)  # fmt: skip


@experiment(
    "onsager-langevin",
    paper="Yu, Tian, E, Li, Phys. Rev. Fluids 6, 114402 (2021)",
    summary="OnsagerNet vs MLP-ODE and a dissipative Hamiltonian net on damped Langevin",
    claims=[
        _claim(
            "OnsagerNet's median forecast error (12 boundary starts, T = 25) ≤ MLP-ODE's",
            "forecast_rel_error",
            "OnsagerNet's prediction error below MLP-ODE's (Fig. 2b)",
        ),
        _claim(
            "OnsagerNet's median rollout error (test starts, T = 5) ≤ MLP-ODE's",
            "rollout_rel_error",
            "OnsagerNet more accurate (Fig. 2)",
        ),
        _claim(
            "OnsagerNet's median test one-step loss ≤ MLP-ODE's",
            "test_mse",
            "OnsagerNet more accurate (Fig. 2a)",
        ),
    ],  # fmt: skip
)
@dataclass(frozen=True)
class Config:
    potential: str = "pendulum"
    damping: str = "nonlinear"
    kappa: float = 4.0
    gamma: float = 3.0
    n_traj: int = 100
    t_final: float = 5.0
    pairs_per_traj: int = 100
    dt: float = 1e-3
    epochs: int = 600
    patience: int = 25
    batch_size: int = 200
    learning_rate: float = 0.0256
    activation: str = "requr"
    widths: tuple[int, int, int] = (12, 9, 17)  # OnsagerNet, MLP-ODE, Hamiltonian (Fig. 2)
    alpha: float = 0.0  # their ons_min_d = 0
    beta: float = 0.0  # their pot_beta = 0
    t_forecast: float = 25.0
    n_seeds: int = 3
    models: tuple[str, ...] = ("OnsagerNet", "MLP-ODE", "Hamiltonian")
    seed: int = 0

    @classmethod
    def quick(cls) -> "Config":
        """150 epochs, patience 10, the two models the claims compare."""
        return cls(epochs=150, patience=10, models=("OnsagerNet", "MLP-ODE"))


def _networks(cfg: Config) -> dict:
    act, (w_ons, w_mlp, w_ham) = cfg.activation, cfg.widths
    nets = {
        "OnsagerNet": lambda k: OnsagerNet(
            2, w_ons, alpha=cfg.alpha, beta=cfg.beta, forcing="none", activation=act, key=k
        ),
        "MLP-ODE": lambda k: MLPODE(2, w_mlp, depth=2, activation=act, key=k),
        "Hamiltonian": lambda k: DissipativeHamiltonianNet(2, w_ham, depth=1, key=k),
    }
    return {name: nets[name] for name in cfg.models}


def _boundary_starts() -> np.ndarray:
    """The 12 forecast starts of the authors' `get_test_initV`: 3 on each side of `[-1, 1]^2`."""
    inner, ones = np.linspace(-1, 1, 5)[1:4], np.ones(3)
    x = np.concatenate([inner, inner, -ones, ones])
    return np.stack([x, np.concatenate([-ones, ones, inner, inner])], 1).astype(np.float32)


def _data(cfg: Config):
    rng = np.random.default_rng(cfg.seed)
    ts = np.arange(0.0, cfg.t_final + cfg.dt / 2, cfg.dt)
    traj = simulate(rng.uniform(-1, 1, size=(cfg.n_traj, 2)), ts, cfg.potential, cfg.damping,
                    cfg.kappa, cfg.gamma)  # fmt: skip
    idx = np.linspace(0, len(ts) - 2, cfg.pairs_per_traj).astype(int)
    n_train = int(0.8 * cfg.n_traj)  # the first 80 %, as the authors split

    def pairs(sl):
        return as_pairs(traj.x[sl, idx].reshape(-1, 2), traj.x[sl, idx + 1].reshape(-1, 2), cfg.dt)

    return pairs(slice(0, n_train)), pairs(slice(n_train, None)), traj.x[n_train:]


def run(cfg: Config, run: Run) -> None:
    train_pairs, test_pairs, test_x = _data(cfg)
    t_out = np.linspace(0, cfg.t_final, 101)
    true_test = test_x[:, np.round(t_out / cfg.dt).astype(int)]
    starts, n_fc = _boundary_starts(), 101
    sim = simulate(starts, np.linspace(0, cfg.t_forecast, n_fc), cfg.potential, cfg.damping,
                   cfg.kappa, cfg.gamma)  # fmt: skip
    xs = np.linspace(-1, 1, 41)
    grid = np.array([[x, v] for v in xs for x in xs], np.float32)

    def exact(y):
        return energy(y, cfg.potential, cfg.kappa)

    rows, energies, along = [], {}, {}
    for i, (name, build) in enumerate(_networks(cfg).items()):
        res = train_vector_field(
            build,
            train_pairs,
            epochs=cfg.epochs,
            batch_size=cfg.batch_size,
            learning_rate=cfg.learning_rate,
            plateau_patience=cfg.patience,
            key=jax.random.fold_in(jax.random.PRNGKey(cfg.seed), i),
            seeds=cfg.n_seeds,
            desc=name,
        )
        per = {"mse": [], "rollout": [], "forecast": [], "potential": []}
        for k in range(cfg.n_seeds):
            model = member(res.model, k)
            per["mse"].append(float(heun_loss(model, test_pairs)))
            _, hs = rollout(model, test_x[:, 0], cfg.t_final, 0.01, n_save=len(t_out))
            rel = np.linalg.norm(hs - true_test, axis=(1, 2)) / np.linalg.norm(
                true_test, axis=(1, 2)
            )
            per["rollout"].append(float(np.mean(rel)))
            _, fc = rollout(model, starts, cfg.t_forecast, 0.01, n_save=n_fc)
            per["forecast"].append(path_relative_error(fc, sim.x))
            if name in ENERGY:
                err, aligned = aligned_energy_error(getattr(model, ENERGY[name]), exact, grid)
                per["potential"].append(err)
                if k == 0:
                    values = np.asarray(jax.vmap(aligned)(grid))
                    energies[name] = (values - values.min()).reshape(len(xs), len(xs))
                    along[name] = np.asarray(jax.vmap(jax.vmap(aligned))(jnp.asarray(hs[:3])))
        row = {"model": name, "params": count_params(member(res.model, 0))}
        for key, v in per.items():
            if v:
                row[key] = ", ".join(f"{x:.3g}" for x in v)
                row[key + "_median"] = float(np.median(v))
        rows.append(row)
        run.metric(f"{name}_test_mse", row["mse_median"], note="median over seeds, sum units")
        run.metric(f"{name}_rollout_rel_error", row["rollout_median"], note="median over seeds")
        run.metric(f"{name}_forecast_rel_error", row["forecast_median"],
                   note="12 boundary starts, T = t_forecast, RMS over paths; median over seeds")  # fmt: skip
        if "potential_median" in row:
            run.metric(
                f"{name}_potential_rel_l2",
                row["potential_median"],
                paper="small (figure)",
                note="after scaling to the exact Hessian at the minimum; median over seeds",
            )
    run.table(
        "langevin",
        rows,
        caption=(
            f"{cfg.potential} potential, {cfg.damping} damping; per seed and median over "
            f"{cfg.n_seeds} seeds: mse = test one-step Heun loss (sum over components); "
            "rollout = mean relative L2 error of rollouts to T from the 20 test starts; "
            f"forecast = RMS over the 12 boundary starts of the relative L2 error to "
            f"T = {cfg.t_forecast:g} (Fig. 2b); potential = relative L2 error of the aligned "
            "learned energy against v^2/2 + U(x) on [-1, 1]^2."
        ),
    )
    _figures(cfg, xs, grid, exact, energies, along, t_out, true_test, run)
    run.note(
        f"Protocol: {cfg.n_traj} trajectories, {cfg.epochs} epochs (authors: 600), lr "
        f"{cfg.learning_rate}, patience {cfg.patience}, {cfg.activation}, widths {cfg.widths}, "
        f"OnsagerNet alpha = {cfg.alpha}, beta = {cfg.beta} (authors: 0 and 0; with no "
        "forcing V is non-increasing for any beta >= 0, beta > 0 makes its sublevel sets bounded). "
        "Alignment: the learned energy is shifted by its minimum and scaled by the scalar c "
        "that best matches its Hessian at the minimum to the exact Hessian (least squares). "
        "The paper shows the potentials in figures; we hold no numbers of theirs to compare."
    )


def _figures(cfg, xs, grid, exact, energies, along, t_out, true_test, run: Run) -> None:
    e_true = np.asarray(jax.vmap(exact)(grid)).reshape(len(xs), len(xs))
    fig, axes = plot.figure(len(energies) + 1, size=3.6)
    plot.contour_map(axes[0], xs, xs, e_true - e_true.min(), title="exact v^2/2 + U(x)")
    for ax, (name, values) in zip(axes[1:], energies.items(), strict=True):
        plot.contour_map(ax, xs, xs, values, title=f"{name} (aligned)")
    for ax in axes:
        ax.set_xlabel("x")
        ax.set_ylabel("v")
    run.figure("potential", fig, caption="Exact energy and the aligned learned energies.")
    fig, ax = plot.figure(1, size=5.0)
    series = {"exact E on true paths": np.asarray(exact(true_test[:3]))}
    series |= {f"{n} on its rollouts": v for n, v in along.items()}
    for label, y in series.items():
        lines = ax.plot(t_out, y.T, label=label)
        for ln in lines[1:]:
            ln.set_label(None)
            ln.set_color(lines[0].get_color())
    ax.set_xlabel("t")
    ax.set_ylabel("energy")
    ax.set_yscale("log")
    ax.legend(fontsize=8)
    run.figure(
        "energy_along_trajectories",
        fig,
        caption="Energy along three test trajectories: exact E on the truth, aligned learned "
        "energy on each model's rollout.",
    )

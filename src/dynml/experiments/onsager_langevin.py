"""OnsagerNet on damped Langevin dynamics: can the learned potential be read off?

Yu, Tian, E, Li, Phys. Rev. Fluids 6, 114402 (2021), Sec. IV: `x' = v`,
`v' = -gamma(x, v) v - U'(x)`, kappa = 4, gamma = 3, 100 trajectories from `[-1, 1]^2`,
`T = 5`; OnsagerNet against MLP-ODE and a dissipative Hamiltonian net. The learned potential
is compared with the exact energy `E = v^2 / 2 + U(x)` after alignment at the minimum.
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
    ensemble,
    heun_loss,
    member,
    rollout,
    train_vector_field,
)
from ..systems.langevin import energy, simulate

NETWORKS = {
    "OnsagerNet": lambda k: OnsagerNet(2, 32, depth=1, forcing="none", key=k),
    "MLP-ODE": lambda k: MLPODE(2, 16, depth=2, key=k),
    "Hamiltonian": lambda k: DissipativeHamiltonianNet(2, 16, depth=1, key=k),
}
ENERGY = {"OnsagerNet": "V", "Hamiltonian": "H"}


@experiment(
    "onsager-langevin",
    paper="Yu, Tian, E, Li, Phys. Rev. Fluids 6, 114402 (2021)",
    summary="OnsagerNet vs MLP-ODE and a dissipative Hamiltonian net on damped Langevin",
    claims=[
        Claim(
            "OnsagerNet's rollouts no worse than the MLP-ODE's",
            ("OnsagerNet_rollout_rel_error", "MLP-ODE_rollout_rel_error"),
            LessThan(1.0),
            paper="OnsagerNet more accurate (Langevin figures)",
            source="Yu, Tian, E, Li 2021, Langevin section",
        ),
        Claim(
            "OnsagerNet's one-step error no worse than the MLP-ODE's",
            ("OnsagerNet_test_mse", "MLP-ODE_test_mse"),
            LessThan(1.0),
            paper="OnsagerNet more accurate",
            source="Yu, Tian, E, Li 2021, Langevin section",
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
    epochs: int = 300
    batch_size: int = 200
    learning_rate: float = 0.0128
    n_seeds: int = 3
    seed: int = 0

    @classmethod
    def quick(cls) -> "Config":
        return cls(n_traj=30, epochs=30, n_seeds=2)


def _energy_fn(name: str, model):
    return getattr(model, ENERGY[name])


def run(cfg: Config, run: Run) -> None:
    rng = np.random.default_rng(cfg.seed)
    y0 = rng.uniform(-1, 1, size=(cfg.n_traj, 2))
    ts = np.arange(0.0, cfg.t_final + cfg.dt / 2, cfg.dt)
    traj = simulate(y0, ts, cfg.potential, cfg.damping, cfg.kappa, cfg.gamma)
    train, test = traj.split(0.8, seed=cfg.seed)
    idx = np.linspace(0, len(ts) - 2, cfg.pairs_per_traj).astype(int)

    def pairs(t):
        return as_pairs(t.x[:, idx].reshape(-1, 2), t.x[:, idx + 1].reshape(-1, 2), cfg.dt)

    train_pairs, test_pairs = pairs(train), pairs(test)
    t_out = np.linspace(0, cfg.t_final, 101)
    true_test = test.x[:, np.round(t_out / cfg.dt).astype(int)]
    xs = np.linspace(-1, 1, 41)
    grid = np.array([[x, v] for v in xs for x in xs], np.float32)

    def exact(y):
        return energy(y, cfg.potential, cfg.kappa)

    rows, energies, along = [], {}, {}
    for i, name in enumerate(NETWORKS):
        key = jax.random.fold_in(jax.random.PRNGKey(cfg.seed), i)
        res = train_vector_field(
            ensemble(NETWORKS[name], jax.random.split(key, cfg.n_seeds)),
            train_pairs,
            epochs=cfg.epochs,
            batch_size=cfg.batch_size,
            learning_rate=cfg.learning_rate,
            key=key,
            n_members=cfg.n_seeds,
            desc=name,
        )
        per = {"mse": [], "rollout": [], "potential": []}
        for k in range(cfg.n_seeds):
            model = member(res.model, k)
            per["mse"].append(float(heun_loss(model, test_pairs)))
            _, hs = rollout(model, test.x[:, 0], cfg.t_final, 0.01, n_save=len(t_out))
            rel = np.linalg.norm(hs - true_test, axis=(1, 2)) / np.linalg.norm(
                true_test, axis=(1, 2)
            )
            per["rollout"].append(float(np.mean(rel)))
            if name in ENERGY:
                err, aligned = aligned_energy_error(_energy_fn(name, model), exact, grid)
                per["potential"].append(err)
                if k == 0:
                    values = np.asarray(jax.vmap(aligned)(grid))
                    energies[name] = (values - values.min()).reshape(len(xs), len(xs))
                    along[name] = np.asarray(jax.vmap(jax.vmap(aligned))(jnp.asarray(hs[:3])))
        row = {"model": name, "params": count_params(member(res.model, 0))}
        for k, v in per.items():
            if v:
                row[k], row[k + "_sd"] = float(np.mean(v)), float(np.std(v))
        rows.append(row)
        run.metric(f"{name}_test_mse", row["mse"])
        run.metric(f"{name}_rollout_rel_error", row["rollout"])
        if "potential" in row:
            run.metric(
                f"{name}_potential_rel_l2",
                row["potential"],
                paper="small (figure)",
                note="after scaling to the exact Hessian at the minimum",
            )
    run.table(
        "langevin",
        rows,
        caption=(
            f"{cfg.potential} potential, {cfg.damping} damping; mean and sd over {cfg.n_seeds} "
            "seeds: mse = test one-step MSE; rollout = mean relative L2 error of rollouts to "
            "T from the test initial points; potential = relative L2 error of the aligned learned "
            "energy against v^2/2 + U(x) on [-1, 1]^2."
        ),
    )
    e_true = np.asarray(jax.vmap(exact)(grid)).reshape(len(xs), len(xs))
    e_true = e_true - e_true.min()
    fig, axes = plot.figure(len(energies) + 1, size=3.6)
    plot.contour_map(axes[0], xs, xs, e_true, title="exact v^2/2 + U(x)")
    for ax, (name, values) in zip(axes[1:], energies.items(), strict=True):
        plot.contour_map(ax, xs, xs, values, title=f"{name} (aligned)")
    for ax in axes:
        ax.set_xlabel("x")
        ax.set_ylabel("v")
    run.figure("potential", fig, caption="Exact energy and the aligned learned energies.")
    fig, ax = plot.figure(1, size=5.0)
    e_along = np.asarray(exact(true_test[:3]))
    series = {"exact E on true paths": (t_out, e_along.T)}
    series |= {f"{n} on its rollouts": (t_out, v.T) for n, v in along.items()}
    for label, (t, y) in series.items():
        lines = ax.plot(t, y, label=label)
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
        caption="Energy along three test "
        "trajectories: exact E on the truth, aligned learned energy on each model's "
        "rollout.",
    )
    run.note(
        "Alignment: the learned energy is shifted by its minimum and scaled by the scalar c "
        "that best matches its Hessian at the minimum to the exact Hessian (least squares); "
        "our reading of 'match the Hessian at the minimum'. OnsagerNet uses no forcing here "
        "(the system has none), so its V is a Lyapunov function by construction. The paper "
        "shows the potentials in figures; we hold no numbers of theirs to compare."
    )

"""`flow-1d`: one-dimensional flow maps are increasing, so `G = {id}` cannot fit `1 - x`.

In dimension 1 trajectories of an ODE cannot cross, so `phi_T` is increasing and the best
increasing L2 fit of `1 - x` on `[0, 1]` is the constant `1/2`: the mean squared error cannot
fall below `Var(1 - x) = 1/12`. Augmenting to dimension 2 (embed `x -> (x, 0)`, read out the
first coordinate) removes the obstruction: a rotation by `pi` about `(1/2, 0)` maps
`(x, 0)` to `(1 - x, 0)`.
"""

from dataclasses import dataclass

import jax
import numpy as np
import optax

from ..core import fit, plot
from ..core.claims import AtMost, Claim, IsTrue, Within
from ..core.experiment import experiment
from ..core.runs import Run
from ..flows import FlowModel, mean_squared_error, predict

MONOTONE_FLOOR = 1.0 / 12.0  # best increasing L2 fit of 1 - x on U[0, 1] is the constant 1/2


@experiment(
    "flow-1d",
    paper="Li, Lin, Shen 2019 (arXiv 1912.10382), 1-D obstruction",
    summary="A 1-D flow cannot fit a decreasing map; augmenting to 2-D can",
    claims=[
        Claim(
            "a 1-D flow map fits 1 - x no better than the monotone floor 1/12 (within 5 %)",
            "mse_dim1",
            Within(1.0 / 12.0, rel=0.05),
            paper="MSE >= 1/12 = 0.0833 (flow maps in 1-D are increasing)",
            source="Li, Lin, Shen 2019 (arXiv 1912.10382); seed lecture, 1-D obstruction",
        ),
        Claim(
            "the 1-D flow map is increasing",
            "dim1_fit_increasing",
            IsTrue(),
            paper="trajectories cannot cross in 1-D",
            source="Li, Lin, Shen 2019 (arXiv 1912.10382)",
        ),
        Claim(
            "augmenting to 2-D removes the obstruction (MSE <= 1e-3)",
            "mse_dim2_augmented",
            AtMost(1e-3),
            paper="-> 0 (universal approximation in d >= 2)",
            source="Li, Lin, Shen 2019 (arXiv 1912.10382); seed lecture",
        ),
    ],
)
@dataclass(frozen=True)
class Config:
    n_train: int = 256
    width: int = 32
    depth: int = 2
    horizon: float = 1.0
    n_steps: int = 20
    steps: int = 3000
    learning_rate: float = 1e-2
    seed: int = 0

    @classmethod
    def quick(cls) -> "Config":
        return cls(n_train=128, steps=1000, n_steps=10)


def _train(cfg: Config, augment: int, x, y):
    key = jax.random.PRNGKey(cfg.seed)
    model = FlowModel(
        1,
        1,
        augment=augment,
        width=cfg.width,
        depth=cfg.depth,
        horizon=cfg.horizon,
        n_steps=cfg.n_steps,
        readout="identity",
        key=key,
    )
    result = fit(
        model,
        mean_squared_error,
        (x, y),
        steps=cfg.steps,
        key=key,
        learning_rate=optax.cosine_decay_schedule(cfg.learning_rate, cfg.steps),
        desc=f"flow-1d d={1 + augment}",
    )
    return result.model, result.diverged


def run(cfg: Config, run: Run) -> None:
    x = np.linspace(0.0, 1.0, cfg.n_train, dtype=np.float32)[:, None]
    y = 1.0 - x
    trained = {d: _train(cfg, d - 1, x, y) for d in (1, 2)}
    models = {d: m for d, (m, _) in trained.items()}
    run.metric("diverged", any(bad for _, bad in trained.values()))
    x_test = np.linspace(0.0, 1.0, 1001, dtype=np.float32)[:, None]
    fits = {d: np.asarray(predict(m, x_test))[:, 0] for d, m in models.items()}
    mse = {d: float(np.mean((f - (1.0 - x_test[:, 0])) ** 2)) for d, f in fits.items()}
    run.metric(
        "mse_dim1",
        mse[1],
        paper=f">= {MONOTONE_FLOOR:.4f} (theory: 1/12)",
        note="no increasing map does better",
    )
    run.metric("mse_dim2_augmented", mse[2], paper="-> 0 (universal approximation, d >= 2)")
    run.metric(
        "dim1_fit_increasing",
        bool(np.all(np.diff(fits[1]) >= -1e-6)),
        paper="True (flow maps in 1-D are increasing)",
    )
    run.note(
        "The floor 1/12 is the variance of 1 - x under the uniform law: the best increasing "
        "(isotonic) L2 approximation of a decreasing function is its mean. The 1-D error "
        "measured above sits on that floor; augmentation removes it."
    )
    fig, axes = plot.figure(2)
    t = x_test[:, 0]
    for ax, d in zip(axes, (1, 2), strict=True):
        ax.plot(t, 1.0 - t, "k--", label="target 1 - x")
        ax.plot(t, fits[d], "tab:red", label=f"flow map, d = {d}")
        ax.set_title(f"d = {d}: MSE {mse[d]:.2e}")
        ax.legend()
    run.figure("fits", fig, "Fits of 1 - x by a 1-D flow (increasing) and an augmented 2-D flow.")

    x_few = np.linspace(0.0, 1.0, 15, dtype=np.float32)[:, None]
    fig, axes = plot.figure(2)
    paths1 = np.asarray(models[1].transport(x_few, n_save=50))
    ts = np.linspace(0.0, cfg.horizon, 50)
    axes[0].plot(ts, paths1[:, :, 0].T)
    axes[0].set(xlabel="t", ylabel="x(t)", title="d = 1: trajectories never cross")
    plot.phase_portrait(
        axes[1],
        np.asarray(models[2].transport(x_few, n_save=50)),
        title="d = 2: paths go around each other",
    )
    run.figure("trajectories", fig, "Trajectories of the learned flows.")

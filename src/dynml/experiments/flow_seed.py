"""`flow-seed`: the lecture's flow-map classifier (continuous-time ResNet on a 2-D problem).

Points `z` in `[-L, L]^2` are labelled by `1{x_{T,1} > 0}` where `x` follows the lecture's
ODE from `z`; a continuous-time ResNet (neural vector field, flow map by RK4, affine readout)
learns the labels, and its flow carries the two classes apart until a line separates them.
"""

from dataclasses import dataclass

import jax
import numpy as np
import optax

from ..core import count_params, fit, plot
from ..core.claims import AtLeast, Claim
from ..core.experiment import experiment
from ..core.runs import Run
from ..flows import FlowModel, binary_cross_entropy, predict
from ..systems.seed_flow import labels


@experiment(
    "flow-seed",
    paper="Li, Lin, Shen 2019 (arXiv 1912.10382); seed lecture, flow-map example",
    summary="Continuous-time ResNet classifier on the lecture's flow-labelled plane",
    claims=[
        Claim(
            "the flow-map classifier reaches 98 % test accuracy",
            "test_accuracy",
            AtLeast(0.98),
            paper=">= 98 % (target)",
            source="seed lecture, flow-map example (Li, Lin, Shen 2019); issue target",
        ),
        Claim(
            "a linear classifier on the raw inputs is clearly worse (>= 5 points below)",
            "accuracy_gain_over_linear",
            AtLeast(0.05),
            paper="not linearly separable: the flow makes the classes separable",
            source="seed lecture, flow-map example (Li, Lin, Shen 2019)",
        ),
    ],
)
@dataclass(frozen=True)
class Config:
    label_time: float = 4.0  # T of the lecture's ODE used for the labels (not given: chosen)
    box: float = 1.3  # inputs uniform in [-box, box]^2; points whose flow escapes are dropped
    n_train: int = 4000
    n_test: int = 2000
    augment: int = 2  # zero coordinates appended: the flow has room to pull classes apart
    width: int = 32
    depth: int = 2
    horizon: float = 1.0
    n_steps: int = 10
    steps: int = 6000
    batch_size: int = 256
    learning_rate: float = 5e-3
    seed: int = 0

    @classmethod
    def quick(cls) -> "Config":
        return cls(n_train=2000, n_test=1000, steps=3000)


def _data(cfg: Config):
    """Uniform points in the box with a defined label (their flow stays bounded up to T)."""
    rng = np.random.default_rng(cfg.seed)
    n = cfg.n_train + cfg.n_test
    z = rng.uniform(-cfg.box, cfg.box, (2 * n, 2)).astype(np.float32)
    y, defined = labels(z, cfg.label_time)
    z, y = z[defined][:n], y[defined][:n].astype(np.float32)
    if len(z) < n:
        raise ValueError(f"too few points with a defined label in the box (box={cfg.box})")
    return (
        (z[: cfg.n_train], y[: cfg.n_train]),
        (z[cfg.n_train :], y[cfg.n_train :]),
        defined.mean(),
    )


def _accuracy(model: FlowModel, z, y) -> float:
    return float(np.mean((np.asarray(predict(model, z)[:, 0]) > 0) == (y > 0.5)))


def run(cfg: Config, run: Run) -> None:
    (z_tr, y_tr), (z_te, y_te), frac_defined = _data(cfg)
    key = jax.random.PRNGKey(cfg.seed)
    model = FlowModel(
        2,
        1,
        augment=cfg.augment,
        width=cfg.width,
        depth=cfg.depth,
        horizon=cfg.horizon,
        n_steps=cfg.n_steps,
        key=key,
    )
    result = fit(
        model,
        binary_cross_entropy,
        (z_tr, y_tr),
        steps=cfg.steps,
        key=key,
        batch_size=cfg.batch_size,
        learning_rate=optax.cosine_decay_schedule(cfg.learning_rate, cfg.steps),
        desc="flow-seed",
        checkpoint_dir=run.checkpoint_dir,
        checkpoint_every=cfg.steps // 4,
    )
    model = result.model
    test_accuracy = _accuracy(model, z_te, y_te)
    linear_accuracy = _best_linear_accuracy(z_te, y_te)
    run.metric("diverged", result.diverged)
    run.metric("test_accuracy", test_accuracy, paper=">= 0.98 (target)")
    run.metric("train_accuracy", _accuracy(model, z_tr, y_tr))
    run.metric("n_params", count_params(model))
    run.metric("label_time_T", cfg.label_time, note="chosen: the lecture does not state T")
    run.metric("final_train_loss", result.history["loss"][-1])
    run.metric(
        "fraction_of_box_labelled",
        float(frac_defined),
        note="the rest escapes to infinity before T (label undefined, dropped)",
    )
    run.metric(
        "linearly_separable_at_input",
        linear_accuracy,
        note="best linear classifier on the raw test inputs (logistic regression fit on them)",
    )
    run.metric("accuracy_gain_over_linear", test_accuracy - linear_accuracy)
    run.note(
        "The lecture shows this example qualitatively; the target accuracy of 98 % is the "
        "issue's. The ResNet depth is the number of RK4 steps of the learned flow "
        f"({cfg.n_steps} steps over [0, {cfg.horizon}]), with augmentation {cfg.augment}."
    )
    _figures(cfg, run, model, z_tr, y_tr, result.history["loss"])


def _best_linear_accuracy(z, y) -> float:
    from sklearn.linear_model import LogisticRegression

    return float(LogisticRegression().fit(z, y).score(z, y))


def _figures(cfg: Config, run: Run, model: FlowModel, z, y, losses) -> None:
    colors = np.where(y > 0.5, "tab:red", "tab:blue")
    fig, ax = plot.figure()
    ax.scatter(z[:, 0], z[:, 1], c=colors, s=3)
    ax.set_title(f"labels 1{{x_T,1 > 0}}, T = {cfg.label_time}")
    run.figure("data", fig, "Training points coloured by the lecture's label.")

    g = np.linspace(-cfg.box, cfg.box, 150, dtype=np.float32)
    grid = np.stack(np.meshgrid(g, g), -1).reshape(-1, 2)
    true_labels, defined = labels(grid, cfg.label_time)
    true = np.where(defined, true_labels, np.nan).reshape(len(g), len(g))
    learned = np.asarray(predict(model, grid)[:, 0]).reshape(len(g), len(g))
    fig, ax = plot.figure()
    ax.contourf(g, g, true, levels=[-0.5, 0.5, 1.5], colors=["#c6dbef", "#fcbba1"])
    ax.contour(g, g, true, levels=[0.5], colors="k", linestyles="--")
    ax.contour(g, g, learned, levels=[0.0], colors="tab:green", linewidths=2)
    ax.set_title("true boundary (dashed), learned (green);\nwhite: flow escapes before T")
    run.figure("decision_boundary", fig, "Learned decision boundary over the true one.")

    n_show = 4
    xs = np.asarray(model.transport(z[:1000], n_save=n_show))
    fig, axes = plot.figure(n_show, size=3.2)
    for k, ax in enumerate(axes):
        ax.scatter(xs[:, k, 0], xs[:, k, 1], c=colors[:1000], s=3)
        ax.set_title(f"t = {k * cfg.horizon / (n_show - 1):.2f}")
    if model.readout is not None and xs.shape[-1] == 2:
        w, b = np.asarray(model.readout.weight[0]), float(model.readout.bias[0])
        lim = axes[-1].get_xlim()
        xx = np.linspace(*lim, 2)
        if abs(w[1]) > 1e-8:
            axes[-1].plot(xx, -(w[0] * xx + b) / w[1], "k-", lw=1.5)
        axes[-1].set_xlim(lim)
    run.figure(
        "transport",
        fig,
        "Points carried by the learned flow; at the end a line "
        "(the affine readout) separates the classes.",
    )

    fig, ax = plot.figure()
    plot.curves(
        ax,
        np.arange(len(losses)),
        {"train loss": np.asarray(losses)},
        logy=True,
        xlabel="step",
        ylabel="cross-entropy",
    )
    run.figure("loss", fig, "Training loss.")

"""Amata against PGD-K adversarial training and natural training: PGD-20 robust accuracy against
training compute (gradient evaluations) on one residual CNN (Ye, Li, Zhou, Zhu, AAAI 2021).
"""

from dataclasses import dataclass, field

import jax
import jax.numpy as jnp
import optax

from ..control import attacks, closed_loop, pmp
from ..core.claims import AtLeast, Between, Claim
from ..core.domains import Domain
from ..core.experiment import experiment
from ..core.plot import figure
from ..core.runs import Run
from ..sgd.amata import AmataSchedule, adversarial_train, natural_schedule, pgd_schedule
from ..systems.datasets import classification_data


def apply(layers, x):
    return pmp.forward(layers, x)[-1]


@experiment(
    "amata",
    paper="Ye, Li, Zhou, Zhu, AAAI 2021 (Amata: annealing mechanism for adversarial training)",
    summary="Amata vs PGD-K and natural training: PGD-20 robust accuracy against gradient evaluations",
    claims=[
        Claim(
            "Amata within 1 point of PGD-K's PGD-20 robust accuracy",
            "amata_minus_pgd_robust_accuracy",
            AtLeast(-0.01),
            paper="similar or better robustness than PGD-K training",
            source="Ye et al. 2021, abstract and Table 1",
        ),
        Claim(
            "at 1/3 to 1/2 of PGD-K's compute",
            "amata_over_pgd_compute",
            Between(1 / 3, 1 / 2),
            paper="1/3 to 1/2 of the computational cost",
            source="Ye et al. 2021, abstract",
        ),
    ],
)
@dataclass(frozen=True)
class Config:
    channels: int = 8
    blocks: int = 2
    train_steps: int = 1200
    batch_size: int = 128
    lr: float = 3e-3
    eps: float = field(default=0.1, metadata={"domain": Domain(positive=True, high=1.0)})
    pgd_k: int = 10
    amata_k_start: int = 1
    amata_power: float = field(default=2.0, metadata={"domain": Domain(positive=True)})
    path: float = field(default=2.5, metadata={"domain": Domain(positive=True)})
    eval_steps: int = 20
    mnist_path: str = ""
    seed: int = 0

    @classmethod
    def quick(cls) -> "Config":
        return cls(train_steps=300, batch_size=64, pgd_k=8)


def run(cfg: Config, run: Run) -> None:
    (xtr, ytr), (xte, yte) = classification_data(cfg.mnist_path, seed=cfg.seed)
    xtr, ytr, xte, yte = (jnp.asarray(a) for a in (xtr, ytr, xte, yte))
    k_net, k_fit, k_att = jax.random.split(jax.random.key(cfg.seed), 3)
    net0 = closed_loop.residual_cnn(xtr.shape[-1], cfg.channels, cfg.blocks, key=k_net)
    amata = AmataSchedule(cfg.amata_k_start, cfg.pgd_k, cfg.amata_power, cfg.path)
    pgd = pgd_schedule(cfg.pgd_k, cfg.path)
    # PGD-K trained for as many gradient evaluations as Amata uses: the matched-compute baseline
    matched_steps = max(1, round(amata.gradient_evaluations(cfg.train_steps) / (cfg.pgd_k + 1)))
    methods = {
        "natural": (natural_schedule(), cfg.train_steps),
        f"PGD-{cfg.pgd_k}": (pgd, cfg.train_steps),
        f"PGD-{cfg.pgd_k} (Amata's compute)": (pgd, matched_steps),
        "Amata": (amata, cfg.train_steps),
    }
    evaluate = jax.jit(
        lambda net, x, y: (
            attacks.pgd(
                lambda z: apply(net, z), x, y, cfg.eps, cfg.eps / 4, cfg.eval_steps, k_att
            ).x
        )
    )
    rows = []
    for name, (schedule, steps) in methods.items():
        res = adversarial_train(
            net0,
            apply,
            (xtr, ytr),
            schedule,
            eps=cfg.eps,
            steps=steps,
            key=k_fit,
            optimizer=optax.adam(cfg.lr),
            batch_size=cfg.batch_size,
        )
        net = res.model
        model = lambda z, net=net: apply(net, z)  # noqa: E731
        robust = float(jnp.mean(attacks.predict(model, evaluate(net, xte, yte)) == yte))
        rows.append(
            dict(
                method=name,
                training_steps=steps,
                gradient_evaluations=res.history["gradient_evaluations"],
                cpu_seconds=res.history["cpu_seconds"],
                clean_accuracy=float(jnp.mean(attacks.predict(model, xte) == yte)),
                robust_accuracy=robust,
                final_inner_steps=res.history["inner_steps"][-1],
            )
        )
    run.table(
        "methods",
        rows,
        caption=(
            f"PGD-{cfg.eval_steps} (step ε/4, random start) robust test accuracy at ε = {cfg.eps}; "
            "gradient evaluations = Σ (inner PGD steps + 1); CPU seconds of the training loop "
            "without compilation (inflated on a loaded machine)"
        ),
    )
    by = {r["method"]: r for r in rows}
    p, a = by[f"PGD-{cfg.pgd_k}"], by["Amata"]
    matched = by[f"PGD-{cfg.pgd_k} (Amata's compute)"]
    for key, r in (("natural", by["natural"]), ("pgd", p), ("pgd_matched", matched), ("amata", a)):
        run.metric(f"{key}_robust_accuracy", r["robust_accuracy"])
        run.metric(f"{key}_clean_accuracy", r["clean_accuracy"])
        run.metric(f"{key}_gradient_evaluations", r["gradient_evaluations"])
    run.metric("amata_minus_pgd_robust_accuracy", a["robust_accuracy"] - p["robust_accuracy"])
    run.metric(
        "amata_minus_pgd_matched_robust_accuracy",
        a["robust_accuracy"] - matched["robust_accuracy"],
        note="against PGD-K trained for Amata's gradient evaluations",
    )
    run.metric(
        "amata_over_pgd_compute",
        a["gradient_evaluations"] / p["gradient_evaluations"],
        paper="1/3 to 1/2",
    )
    run.metric("amata_over_pgd_cpu_seconds", a["cpu_seconds"] / p["cpu_seconds"])

    fig, (ax, bx) = figure(ncols=2, size=4.0)
    for i, r in enumerate(rows):
        ax.scatter(
            r["gradient_evaluations"], r["robust_accuracy"], color=f"C{i}", label=r["method"]
        )
        ax.scatter(r["gradient_evaluations"], r["clean_accuracy"], color=f"C{i}", marker="x")
    ax.set(xscale="log", xlabel="training gradient evaluations", ylabel="test accuracy")
    ax.set_title(f"robust (dots, PGD-{cfg.eval_steps}) and clean (×)", fontsize=9)
    ax.legend(fontsize=7)
    frac = jnp.arange(cfg.train_steps)
    bx.plot(frac, amata.steps(cfg.train_steps), label="Amata K(s)")
    bx.plot(frac, pgd.steps(cfg.train_steps), label=f"PGD-{cfg.pgd_k}")
    bx.plot(frac, amata.step_sizes(cfg.train_steps) * cfg.pgd_k, "--", label="Amata α/ε × K₁")
    bx.set(xlabel="training step s", ylabel="inner PGD steps")
    bx.legend(fontsize=7)
    run.figure("robust_vs_compute", fig, caption="robust accuracy against compute; the schedule")
    data = "MNIST (local file)" if cfg.mnist_path else "scikit-learn 8×8 digits"
    run.note(
        f"{data}; the residual CNN of closed-loop-defence ({cfg.blocks} residual conv blocks of "
        f"{cfg.channels} channels), Adam {cfg.lr}, batch {cfg.batch_size}, {cfg.train_steps} steps "
        f"for every method (and PGD-{cfg.pgd_k} for {matched_steps} steps, Amata's compute). "
        f"Amata's schedule (ours: the paper's is not public): K(s) = round({cfg.amata_k_start} + "
        f"({cfg.pgd_k} − {cfg.amata_k_start})(s/S)^{cfg.amata_power}), α = min(1, "
        f"{cfg.path}/K) ε, so it ends as PGD-{cfg.pgd_k} training. The paper trains on MNIST "
        "and CIFAR-10 with larger networks and ε = 0.3 and 8/255; its compute is wall time."
    )

"""A seconds-scale experiment for testing the CLI, the index, resume and the gallery.

Least squares `y = a x + b` fitted by `fit` with checkpoints; `fail=True` raises inside the
run after a number is recorded; `learning_rate` large makes training diverge.
"""

from dataclasses import dataclass

import equinox as eqx
import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt

from dynml.core import fit
from dynml.core.claims import AtMost, Claim, IsTrue
from dynml.core.experiment import experiment

TRUE_SLOPE, TRUE_OFFSET = 2.0, -1.0


class Line(eqx.Module):
    a: jax.Array
    b: jax.Array

    def __call__(self, x):
        return self.a * x + self.b


@experiment(
    "toy-line",
    paper="a test fixture (least squares has a unique minimiser)",
    summary="fit a line by Adam; tests only",
    claims=[
        Claim(
            "slope recovered to 5 %",
            "slope_rel_error",
            AtMost(0.05),
            paper="0",
            source="-",
            quick=AtMost(0.2),
        ),  # fmt: skip
        Claim("training converged", "converged", IsTrue(), paper="True", source="-"),
    ],
)
@dataclass(frozen=True)
class Config:
    steps: int = 400
    learning_rate: float = 0.05
    checkpoint_every: int = 100
    n_train: int = 64
    fail: bool = False
    seed: int = 0

    @classmethod
    def quick(cls) -> "Config":
        return cls(steps=200)


def run(cfg: Config, run) -> None:
    key = jax.random.PRNGKey(cfg.seed)
    x = jax.random.normal(key, (cfg.n_train,))
    y = TRUE_SLOPE * x + TRUE_OFFSET + 0.01 * jax.random.normal(jax.random.fold_in(key, 1), x.shape)
    model = Line(jnp.zeros(()), jnp.zeros(()))
    result = fit(
        model,
        lambda m, d: jnp.mean((m(d[0]) - d[1]) ** 2),
        (x, y),
        steps=cfg.steps,
        key=key,
        learning_rate=cfg.learning_rate,
        log_every=cfg.checkpoint_every,
        checkpoint_dir=run.checkpoint_dir,
        checkpoint_every=cfg.checkpoint_every,
        progress=False,
    )
    a = float(result.model.a)
    run.metric("slope", a, paper=TRUE_SLOPE)
    run.metric("slope_rel_error", abs(a - TRUE_SLOPE) / TRUE_SLOPE)
    run.metric("final_loss", float(result.history["loss"][-1]))
    if cfg.fail:
        raise RuntimeError("asked to fail")
    run.metric("converged", bool(abs(a - TRUE_SLOPE) < 0.1))
    fig, ax = plt.subplots(layout="constrained")
    ax.plot(result.history["loss"])
    ax.set(xlabel="step", ylabel="loss", yscale="log")
    run.figure("loss", fig, "training loss")

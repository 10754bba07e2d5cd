"""Neural committor of the smooth Müller potential at kT = 10 against a grid reference.

Li, Lin & Ren (J. Chem. Phys. 151, 054112, 2019): A, B discs of radius 0.1 around the two
deep minima; the published finite-element reference gives `ν_AB ≈ 4.93e-3` and a reactive
probability `≈ 2.37e-4`. We train the built-in-BC network on samples from two reweighted
schemes and report its errors against our finite-volume grid committor.
"""

import functools
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from ..core import plot
from ..core.experiment import experiment
from ..core.runs import Run
from ..rare.committor import NeuralCommittor, committor_rate
from ..rare.reference import grid_committor
from ..rare.study import (
    SamplingSettings,
    error_rows,
    evaluation_regions,
    grid_rate,
    network_on_grid,
    reweighted_samples,
    train_committor,
)
from ..systems import mueller as M

PAPER_RATE = 4.93e-3
PAPER_REACTIVE = 2.37e-4


@experiment(
    "committor-mueller",
    paper="Li, Lin, Ren, J. Chem. Phys. 151, 054112 (2019)",
    summary="neural committor of the Müller potential (kT=10) vs a grid solver; rate ν_AB",
)
@dataclass(frozen=True)
class Config:
    grid: int = 401
    refinement: tuple[int, ...] = (101, 201, 401)
    schemes: tuple[str, ...] = ("temperature", "metadynamics")
    kt_sample: float = 30.0
    n_chains: int = 100
    n_samples: int = 300
    thin: int = 100
    burn_in: int = 2000
    dt: float = 1e-4
    meta_deposits: int = 200
    meta_stride: int = 200
    meta_height: float = 5.0
    meta_width: float = 0.1
    width: int = 32
    depth: int = 3
    indicator_width: float = 0.05
    steps: int = 6000
    learning_rate: float = 1e-2
    batch_size: int = 1000
    warm_start: float = 0.5
    energy_cut: float = 130.0
    seed: int = 0

    @classmethod
    def quick(cls) -> "Config":
        return cls(
            grid=151,
            refinement=(51, 101),
            schemes=("temperature",),
            n_chains=40,
            n_samples=100,
            steps=300,
            batch_size=256,
        )


def _sampling(cfg: Config) -> SamplingSettings:
    return SamplingSettings(
        n_chains=cfg.n_chains,
        n_samples=cfg.n_samples,
        thin=cfg.thin,
        burn_in=cfg.burn_in,
        dt=cfg.dt,
        beta_sample=1 / cfg.kt_sample,
        meta_deposits=cfg.meta_deposits,
        meta_stride=cfg.meta_stride,
        meta_height=cfg.meta_height,
        meta_width=cfg.meta_width,
    )


def run(cfg: Config, run: Run) -> None:
    beta = 1 / M.KT
    in_a = functools.partial(M.in_disc, center=M.CENTER_A)
    in_b = functools.partial(M.in_disc, center=M.CENTER_B)
    refs = {
        n: grid_committor(M.mueller, in_a, in_b, beta=beta, domain=M.DOMAIN, n=n)
        for n in cfg.refinement
    }
    ref = refs.get(cfg.grid) or grid_committor(
        M.mueller, in_a, in_b, beta=beta, domain=M.DOMAIN, n=cfg.grid
    )
    run.table(
        "grid_refinement",
        [
            dict(
                n=n,
                h=float(r.xs[1] - r.xs[0]),
                rate=r.rate,
                reactive_probability=r.reactive_probability,
            )
            for n, r in refs.items()
        ],
        caption="Grid committor under refinement (finite volumes on the Boltzmann-weighted Dirichlet form).",
    )
    run.metric("reference_rate", ref.rate, paper=PAPER_RATE, note=f"grid {cfg.grid}x{cfg.grid}")
    run.metric("reference_reactive_probability", ref.reactive_probability, paper=PAPER_REACTIVE)

    gx, gy = np.meshgrid(ref.xs, ref.ys)
    points = jnp.asarray(np.stack([gx, gy], -1).reshape(-1, 2), jnp.float32)
    regions = evaluation_regions(ref, cfg.energy_cut)
    starts = jnp.array([M.CENTER_A, M.CENTER_B])
    key = jax.random.PRNGKey(cfg.seed)
    rows, learned = [], {}
    for scheme in cfg.schemes:
        k_sample, k_init, k_fit, key = jax.random.split(key, 4)
        x, w = reweighted_samples(
            M.mueller,
            starts,
            M.DOMAIN,
            scheme=scheme,
            beta=beta,
            settings=_sampling(cfg),
            key=k_sample,
        )
        model = NeuralCommittor(
            2,
            M.CENTER_A,
            M.CENTER_B,
            M.RADIUS,
            key=k_init,
            width=cfg.width,
            depth=cfg.depth,
            indicator_width=cfg.indicator_width,
        )
        result = train_committor(
            model,
            x,
            w,
            steps=cfg.steps,
            learning_rate=cfg.learning_rate,
            batch_size=cfg.batch_size,
            key=k_fit,
            warm_start=cfg.warm_start,
        )
        q = network_on_grid(result.model, points, ref.q.shape)
        rate_samples = float(committor_rate(result.model, x, w, beta=beta))
        rate_grid = grid_rate(result.model, ref, points)
        ess = float(w.sum() ** 2 / (w**2).sum())
        for row in error_rows(q, ref.q, regions):
            rows.append(dict(scheme=scheme, **row))
            run.metric(f"{scheme}_rel_l2_{row['region']}", row["rel_l2"], note="issue target < 2 %")
        run.metric(
            f"{scheme}_rate_samples",
            rate_samples,
            paper=PAPER_RATE,
            note="reweighted sample mean of |∇q|²/β",
        )
        run.metric(
            f"{scheme}_rate_grid",
            rate_grid,
            paper=PAPER_RATE,
            note="network |∇q|² by quadrature on the grid",
        )
        run.metric(f"{scheme}_effective_sample_size", ess, note=f"of {x.shape[0]} samples")
        learned[scheme] = (q, x, result.history["loss"])
    run.table(
        "errors",
        rows,
        caption=f"Network committor vs grid reference on grid nodes outside A ∪ B: cut = V − V_min < {cfg.energy_cut:g}, transition = cut ∩ |q − 0.5| < 0.2, transition_box = |q − 0.5| < 0.2 anywhere.",
    )
    _figures(run, ref, learned)
    run.note(
        f"The grid rate converges to {ref.rate:.4e} (table grid_refinement); the published FEM value "
        f"is 4.93e-3, {100 * (ref.rate / PAPER_RATE - 1):+.1f}% from ours. Enlarging the box changes "
        "our rate in the fifth digit only, so we attribute the difference to the published mesh."
    )


def _figures(run: Run, ref, learned) -> None:
    fig, axes = plot.figure(1 + len(learned), 1, size=4.2)
    axes = np.atleast_1d(axes)
    vclip = np.minimum(ref.potential, ref.potential.min() + 200)
    for ax, (name, q) in zip(
        axes,
        [("grid reference", ref.q)] + [(f"network ({s})", v[0]) for s, v in learned.items()],
        strict=True,
    ):
        ax.contour(ref.xs, ref.ys, vclip, levels=25, colors="0.7", linewidths=0.5)
        cs = ax.contour(ref.xs, ref.ys, q, levels=np.linspace(0.1, 0.9, 9), cmap="coolwarm")
        ax.clabel(cs, fontsize=6)
        ax.set_title(name)
    run.figure(
        "committor_contours", fig, caption="Committor level sets 0.1..0.9 over the potential."
    )
    fig, axes = plot.figure(len(learned), 1, size=4.2)
    for ax, (name, (q, x, _)) in zip(np.atleast_1d(axes), learned.items(), strict=True):
        plot.contour_map(
            ax,
            ref.xs,
            ref.ys,
            np.abs(q - ref.q),
            levels=20,
            cmap="magma",
            title=f"|q_net − q_ref| ({name})",
        )
        sub = np.asarray(x)[:: max(1, len(x) // 2000)]
        ax.scatter(sub[:, 0], sub[:, 1], s=0.3, c="c", alpha=0.3)
    run.figure(
        "error_map",
        fig,
        caption="Absolute error of the network committor, with a subsample of training points.",
    )
    fig, ax = plot.figure(1)
    plot.curves(
        ax,
        None,
        {s: (np.arange(len(v[2])), v[2]) for s, v in learned.items()},
        logy=True,
        xlabel="step",
        ylabel="loss",
    )
    run.figure("loss", fig, caption="Variational loss during training.")

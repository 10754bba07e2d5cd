"""Neural committor of the rugged 10-D Müller extension against the 2-D rugged grid reference.

Li, Lin & Ren (J. Chem. Phys. 151, 054112, 2019): rugged Müller (γ = 9, k = 5) in `(x₁, x₂)`
plus `Σ_{i≥3} xᵢ²/(2σ²)`, σ = 0.05, kT = 10. The extra coordinates are decoupled, so the
committor is the 2-D committor of the rugged potential; the network sees all ten.
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

DIM = 10


@experiment(
    "committor-mueller-10d",
    paper="Li, Lin, Ren, J. Chem. Phys. 151, 054112 (2019)",
    summary="neural committor of the rugged 10-D Müller extension vs the 2-D grid reference",
)
@dataclass(frozen=True)
class Config:
    grid: int = 401
    schemes: tuple[str, ...] = ("temperature", "metadynamics")
    kt_sample: float = 30.0
    n_chains: int = 100
    n_samples: int = 300
    thin: int = 100
    burn_in: int = 2000
    dt: float = 5e-5
    meta_deposits: int = 200
    meta_stride: int = 200
    meta_height: float = 5.0
    meta_width: float = 0.1
    width: int = 64
    depth: int = 3
    indicator_width: float = 0.05
    steps: int = 6000
    learning_rate: float = 5e-3
    batch_size: int = 1000
    warm_start: float = 0.5
    energy_cut: float = 130.0
    seed: int = 0

    @classmethod
    def quick(cls) -> "Config":
        return cls(
            grid=201,
            schemes=("temperature",),
            n_chains=20,
            n_samples=100,
            thin=50,
            burn_in=500,
            steps=200,
            batch_size=256,
        )


def run(cfg: Config, run: Run) -> None:
    beta = 1 / M.KT
    in_a = functools.partial(M.in_disc, center=M.CENTER_A)
    in_b = functools.partial(M.in_disc, center=M.CENTER_B)
    ref = grid_committor(M.rugged_mueller, in_a, in_b, beta=beta, domain=M.DOMAIN, n=cfg.grid)
    run.metric("reference_rate", ref.rate, note=f"rugged 2-D potential, grid {cfg.grid}x{cfg.grid}")
    gx, gy = np.meshgrid(ref.xs, ref.ys)
    key = jax.random.PRNGKey(cfg.seed)
    k_extra, key = jax.random.split(key)
    # Evaluation points: grid nodes in (x1, x2), extra coordinates from their Boltzmann law N(0, σ²/β).
    extra = jax.random.normal(k_extra, (gx.size, DIM - 2)) * M.SIGMA_10D / np.sqrt(beta)
    points = jnp.concatenate(
        [jnp.asarray(np.stack([gx, gy], -1).reshape(-1, 2), jnp.float32), extra], -1
    )
    regions = evaluation_regions(ref, cfg.energy_cut)
    starts = jnp.zeros((2, DIM)).at[:, :2].set(jnp.array([M.CENTER_A, M.CENTER_B]))
    settings = SamplingSettings(
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
    rows, maps = [], {}
    for scheme in cfg.schemes:
        k_sample, k_init, k_fit, key = jax.random.split(key, 4)
        x, w = reweighted_samples(
            M.mueller_10d,
            starts,
            M.DOMAIN,
            scheme=scheme,
            beta=beta,
            settings=settings,
            key=k_sample,
        )
        model = NeuralCommittor(
            DIM,
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
        for row in error_rows(q, ref.q, regions):
            rows.append(dict(scheme=scheme, **row))
            run.metric(f"{scheme}_rel_l2_{row['region']}", row["rel_l2"], note="issue target < 2 %")
        run.metric(
            f"{scheme}_rate_samples",
            float(committor_rate(result.model, x, w, beta=beta)),
            paper=ref.rate,
            note="reweighted samples; paper column: our grid rate",
        )
        run.metric(
            f"{scheme}_rate_grid",
            grid_rate(result.model, ref, points),
            paper=ref.rate,
            note="quadrature on the grid; paper column: our grid rate",
        )
        run.metric(
            f"{scheme}_effective_sample_size",
            float(w.sum() ** 2 / (w**2).sum()),
            note=f"of {x.shape[0]} samples",
        )
        maps[scheme] = q
    run.table(
        "errors",
        rows,
        caption=f"10-D network (grid nodes, Boltzmann extra coordinates) vs the 2-D rugged grid committor; cut = V − V_min < {cfg.energy_cut:g}, transition = cut ∩ |q − 0.5| < 0.2.",
    )
    fig, axes = plot.figure(1 + len(maps), 1, size=4.2)
    for ax, (name, q) in zip(
        np.atleast_1d(axes), [("grid reference", ref.q)] + list(maps.items()), strict=True
    ):
        ax.contour(
            ref.xs,
            ref.ys,
            np.minimum(ref.potential, ref.potential.min() + 200),
            levels=25,
            colors="0.75",
            linewidths=0.4,
        )
        cs = ax.contour(ref.xs, ref.ys, q, levels=np.linspace(0.1, 0.9, 9), cmap="coolwarm")
        ax.clabel(cs, fontsize=6)
        ax.set_title(name)
    run.figure("committor_contours", fig, caption="Committor level sets over the rugged potential.")
    fig, axes = plot.figure(len(maps), 1, size=4.2)
    for ax, (name, q) in zip(np.atleast_1d(axes), maps.items(), strict=True):
        plot.contour_map(
            ax,
            ref.xs,
            ref.ys,
            np.abs(q - ref.q),
            levels=20,
            cmap="magma",
            title=f"|q_net − q_ref| ({name})",
        )
    run.figure("error_map", fig, caption="Absolute error of the 10-D network on the (x1, x2) grid.")

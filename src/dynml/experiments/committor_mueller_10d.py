"""Neural committor of the rugged 10-D Müller extension against the 2-D rugged grid reference.

Li, Lin & Ren (J. Chem. Phys. 151, 054112, 2019): rugged Müller (γ = 9, k = 5) in `(x₁, x₂)`
plus `Σ_{i≥3} xᵢ²/(2σ²)`, σ = 0.05, kT = 10. The extra coordinates are decoupled, so the
committor is the 2-D committor of the rugged potential and the rate is its rate; the network
sees all ten coordinates. Errors are measured on the slice `x₃ = … = x₁₀ = 0`; the network's
rate is its Dirichlet form by quadrature on the grid with the extra coordinates drawn from
their exact law `N(0, σ²/β)`. The raised-temperature scheme heats only the rugged Müller
part (the collective variables `x₁, x₂`), so the eight stiff coordinates do not dilute
the weights.
"""

from dataclasses import dataclass

import jax
import numpy as np

from ..core.claims import AtLeast, AtMost, Claim
from ..core.experiment import experiment
from ..core.runs import Run
from ..rare.committor_fit import committor
from ..rare.plots import committor_figures
from ..rare.reference import grid_committor
from ..rare.regions import disc, membership
from ..rare.study import CommittorStudy, compare_with_grid, in_box, lift
from ..systems import mueller as M

DIM = 10
BAND = "issue 16 band on Li, Lin, Ren 2019"


@experiment(
    "committor-mueller-10d",
    paper="Li, Lin, Ren, J. Chem. Phys. 151, 054112 (2019)",
    summary="neural committor of the rugged 10-D Müller extension vs the 2-D grid reference",
    claims=[
        Claim(
            "10-D network rate within 10 % of the 2-D grid rate, every scheme",
            "rate_rel_error",
            AtMost(0.10),
            paper="grid 4.60e-3",
            source=BAND,
            quick=AtMost(0.30),
        ),
        Claim(
            "transition-region relative L2 error on the slice x₃..₁₀ = 0 ≤ 3 %, every scheme",
            "rel_l2_transition",
            AtMost(0.03),
            paper="network vs grid reference",
            source=BAND + " (quick: the 2-D quick band)",
            quick=AtMost(0.10),
        ),
        Claim(
            "effective sample size of the reweighted 10-D samples ≥ 1000, every scheme",
            "ess",
            AtLeast(1000),
            paper="enough samples to weigh",
            source=BAND,
        ),
    ],
)
@dataclass(frozen=True)
class Config(CommittorStudy):
    grid: int = 401
    n_chains: int = 300
    dt: float = 5e-5
    width: int = 64
    learning_rate: float = 5e-3
    seed: int = 0

    @classmethod
    def quick(cls) -> "Config":
        return cls(
            grid=201,
            schemes=("temperature",),
            n_chains=100,
            n_samples=100,
            dt=1e-4,
            width=32,
            learning_rate=1e-2,
            steps=2000,
        )


def run(cfg: Config, run: Run) -> None:
    beta = 1 / M.KT
    region_a, region_b = disc(M.CENTER_A, M.RADIUS), disc(M.CENTER_B, M.RADIUS)
    ref = grid_committor(
        M.rugged_mueller,
        membership(region_a),
        membership(region_b),
        beta=beta,
        domain=M.DOMAIN,
        n=cfg.grid,
    )
    run.metric("reference_rate", ref.rate, note=f"rugged 2-D potential, grid {cfg.grid}²")
    gx, gy = np.meshgrid(ref.xs, ref.ys)
    nodes = np.stack([gx, gy], -1).reshape(-1, 2).astype(np.float32)
    key, k_extra = jax.random.split(jax.random.PRNGKey(cfg.seed))
    extra = jax.random.normal(k_extra, (len(nodes), DIM - 2)) * M.SIGMA_10D / np.sqrt(beta)
    slice_points, rate_points = lift(nodes, DIM), lift(nodes, DIM, extra)
    starts = lift(np.array([M.CENTER_A, M.CENTER_B], np.float32), DIM)
    rows, learned, per_scheme = [], {}, {}
    for scheme in cfg.schemes:
        key, k_fit = jax.random.split(key)
        fit = committor(
            M.mueller_10d,
            region_a,
            region_b,
            beta,
            starts=starts,
            key=k_fit,
            sampling=cfg.sampling(scheme),
            training=cfg.training(),
            keep=in_box(M.DOMAIN),
            heated=M.rugged_mueller,
        )
        out = compare_with_grid(
            fit, ref, slice_points=slice_points, rate_points=rate_points, energy_cut=cfg.energy_cut
        )
        rows += [dict(scheme=scheme, **r) for r in out["rows"]]
        for name, value in out["metrics"].items():
            run.metric(f"{scheme}_{name}", value)
        per_scheme[scheme] = out["metrics"]
        learned[scheme] = (out["q"], fit.x, fit.history)
    for name in ("rate_rel_error", "rel_l2_transition", "rate", "ess"):
        run.metric(
            name,
            [per_scheme[s][name] for s in cfg.schemes],
            paper=ref.rate if name == "rate" else None,
            note=f"per scheme {cfg.schemes}; paper column of the rate: our 2-D grid rate",
        )
    run.table(
        "errors",
        rows,
        caption=f"10-D network on the slice x₃..₁₀ = 0 vs the 2-D rugged grid committor; cut = "
        f"V − V_min < {cfg.energy_cut:g}, transition = cut ∩ |q_ref − ½| < 0.4 (headline).",
    )
    for name, fig, caption in committor_figures(ref, learned):
        run.figure(name, fig, caption=caption)

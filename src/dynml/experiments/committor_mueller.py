"""Neural committor of the smooth Müller potential at kT = 10 against a grid reference.

Li, Lin & Ren (J. Chem. Phys. 151, 054112, 2019): A, B discs of radius 0.1 around the two
deep minima; the published finite-element reference gives `ν_AB ≈ 4.93e-3` and a reactive
probability `≈ 2.37e-4`. We train the built-in-BC network on samples from two reweighted
schemes and report, against our finite-volume grid committor, the relative L2 error on the
transition region (`|q − ½| < 0.4` within the energy cut) and the rate from the network's
Dirichlet form.
"""

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from ..core.claims import AtMost, Claim, Within
from ..core.experiment import experiment
from ..core.runs import Run
from ..rare.committor_fit import committor
from ..rare.plots import committor_figures
from ..rare.reference import grid_committor
from ..rare.regions import disc, membership
from ..rare.study import CommittorStudy, compare_with_grid, in_box
from ..systems import mueller as M

PAPER_RATE = 4.93e-3
PAPER_REACTIVE = 2.37e-4
SOURCE = "Li, Lin, Ren 2019 (FEM reference)"


@experiment(
    "committor-mueller",
    paper="Li, Lin, Ren, J. Chem. Phys. 151, 054112 (2019)",
    summary="neural committor of the Müller potential (kT=10) vs a grid solver; rate ν_AB",
    claims=[
        Claim(
            "grid committor rate reproduces the FEM rate",
            "reference_rate",
            Within(PAPER_RATE, rel=0.01),
            paper="4.93e-3",
            source=SOURCE,
        ),
        Claim(
            "grid reactive probability reproduces the FEM value",
            "reference_reactive_probability",
            Within(PAPER_REACTIVE, rel=0.01),
            paper="2.37e-4",
            source=SOURCE,
        ),
        Claim(
            "network rate (Dirichlet form) within 3 % of the grid rate, every scheme",
            "rate_rel_error",
            AtMost(0.03),
            paper="4.93e-3 (FEM)",
            source="issue 16 band on Li, Lin, Ren 2019",
            quick=AtMost(0.15),
        ),
        Claim(
            "relative L2 error on the transition region ≤ 3 %, every scheme",
            "rel_l2_transition",
            AtMost(0.03),
            paper="network vs FEM reference",
            source="issue 16 band on Li, Lin, Ren 2019",
            quick=AtMost(0.10),
        ),
    ],
)
@dataclass(frozen=True)
class Config(CommittorStudy):
    grid: int = 401
    refinement: tuple[int, ...] = (101, 201, 401)
    seed: int = 0

    @classmethod
    def quick(cls) -> "Config":
        return cls(
            grid=151,
            refinement=(51, 101, 151),
            schemes=("temperature",),
            n_samples=100,
            steps=2500,
        )


def run(cfg: Config, run: Run) -> None:
    beta = 1 / M.KT
    region_a, region_b = disc(M.CENTER_A, M.RADIUS), disc(M.CENTER_B, M.RADIUS)
    sizes = sorted(set(cfg.refinement) | {cfg.grid})
    refs = {
        n: grid_committor(
            M.mueller, membership(region_a), membership(region_b), beta=beta, domain=M.DOMAIN, n=n
        )
        for n in sizes
    }
    ref = refs[cfg.grid]
    run.table(
        "grid_refinement",
        [
            dict(n=n, h=float(r.xs[1] - r.xs[0]), rate=r.rate, reactive=r.reactive_probability)
            for n, r in refs.items()
        ],
        caption="Grid committor under refinement (finite volumes on the weighted Dirichlet form).",
    )
    run.metric("reference_rate", ref.rate, paper=PAPER_RATE, note=f"grid {cfg.grid}²")
    run.metric("reference_reactive_probability", ref.reactive_probability, paper=PAPER_REACTIVE)

    gx, gy = np.meshgrid(ref.xs, ref.ys)
    nodes = jnp.asarray(np.stack([gx, gy], -1).reshape(-1, 2), jnp.float32)
    key = jax.random.PRNGKey(cfg.seed)
    rows, learned, per_scheme = [], {}, {}
    for scheme in cfg.schemes:
        key, k_fit = jax.random.split(key)
        fit = committor(
            M.mueller,
            region_a,
            region_b,
            beta,
            starts=jnp.array([M.CENTER_A, M.CENTER_B]),
            key=k_fit,
            sampling=cfg.sampling(scheme),
            training=cfg.training(),
            keep=in_box(M.DOMAIN),
        )
        out = compare_with_grid(fit, ref, slice_points=nodes, energy_cut=cfg.energy_cut)
        rows += [dict(scheme=scheme, **r) for r in out["rows"]]
        for name, value in out["metrics"].items():
            run.metric(f"{scheme}_{name}", value)
        per_scheme[scheme] = out["metrics"]
        learned[scheme] = (out["q"], fit.x, fit.history)
    for name in ("rate_rel_error", "rel_l2_transition", "rate"):
        run.metric(
            name,
            [per_scheme[s][name] for s in cfg.schemes],
            paper=PAPER_RATE if name == "rate" else None,
            note=f"per scheme {cfg.schemes}; against the grid {cfg.grid}²",
        )
    run.table(
        "errors",
        rows,
        caption=f"Network committor vs grid reference on nodes outside A ∪ B: box = all, cut = "
        f"V − V_min < {cfg.energy_cut:g}, transition = cut ∩ |q_ref − ½| < 0.4 (headline).",
    )
    for name, fig, caption in committor_figures(ref, learned):
        run.figure(name, fig, caption=caption)
    run.note(
        f"The grid rate converges to {ref.rate:.4e} (table grid_refinement); the published FEM "
        f"value is 4.93e-3, {100 * (ref.rate / PAPER_RATE - 1):+.1f}% from ours. Enlarging the "
        "box changes our rate in the fifth digit only, so we attribute the difference to the "
        "published mesh. Network rates are the Dirichlet form of the network by quadrature "
        "on the grid; `*_rate_samples` is the reweighted sample estimate."
    )

"""A neural committor measured against a grid committor: the study the Müller experiments run.

`CommittorStudy` holds the sampling and training fields the committor experiments share
(flat, so `dynml run ... --set steps=...` reaches each; an experiment's Config inherits it
and overrides defaults). `compare_with_grid` measures a `CommittorFit` against a
`GridCommittor` (Li, Lin & Ren, J. Chem. Phys. 151, 054112, 2019):

- relative L2, RMSE and MAE of `q` on grid nodes outside A ∪ B in three regions: `box` (every
  node), `cut` (`V − V_min < cut`) and `transition` (`cut` ∩ `|q_ref − ½| < 0.4`), the
  headline: it is where `q` varies and where the rate is made;
- the rate from the network's Dirichlet form by quadrature on the grid,
  `ν_θ = β⁻¹ Σ e^{−βV}|∇q_θ|² / Σ e^{−βV}`, and its relative error against the grid rate.
"""

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Bool, Float

from .committor import committor_rate, committor_values
from .committor_fit import CommittorFit, SamplingSettings, TrainingSettings
from .reference import GridCommittor

TRANSITION_HALF_WIDTH = 0.4


@dataclass(frozen=True)
class CommittorStudy:
    """Sampling, network and training fields of a committor experiment (`kt_sample` = 1/β′)."""

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
    collar: float = 0.05
    steps: int = 6000
    learning_rate: float = 1e-2
    batch_size: int = 1000
    warm_start: float = 0.5
    energy_cut: float = 130.0

    def sampling(self, scheme: str) -> SamplingSettings:
        """The `SamplingSettings` of `scheme` from these fields."""
        return SamplingSettings(
            scheme=scheme,
            n_chains=self.n_chains,
            n_samples=self.n_samples,
            thin=self.thin,
            burn_in=self.burn_in,
            dt=self.dt,
            beta_sample=1 / self.kt_sample,
            meta_deposits=self.meta_deposits,
            meta_stride=self.meta_stride,
            meta_height=self.meta_height,
            meta_width=self.meta_width,
        )

    def training(self) -> TrainingSettings:
        """The `TrainingSettings` from these fields."""
        return TrainingSettings(
            width=self.width,
            depth=self.depth,
            collar=self.collar,
            steps=self.steps,
            learning_rate=self.learning_rate,
            batch_size=self.batch_size,
            warm_start=self.warm_start,
        )


def in_box(domain):
    """`x (n, dim) -> bool (n,)`: the first two coordinates lie in `((x0, x1), (y0, y1))`."""
    (x_lo, x_hi), (y_lo, y_hi) = domain

    def keep(x):
        x = np.asarray(x)
        return (x[:, 0] >= x_lo) & (x[:, 0] <= x_hi) & (x[:, 1] >= y_lo) & (x[:, 1] <= y_hi)

    return keep


def evaluation_regions(
    reference: GridCommittor, energy_cut: float
) -> dict[str, Bool[np.ndarray, " *grid"]]:
    """Boolean masks of grid nodes outside A ∪ B: `box`, `cut`, `transition` (see module)."""
    free = ~(reference.in_a | reference.in_b)
    v = reference.potential
    low = free & (v - v.min() < energy_cut)
    middle = np.abs(reference.q - 0.5) < TRANSITION_HALF_WIDTH
    return {"box": free, "cut": low, "transition": low & middle}


def error_rows(
    q: Float[np.ndarray, " *grid"],
    q_ref: Float[np.ndarray, " *grid"],
    regions: dict[str, Bool[np.ndarray, " *grid"]],
) -> list[dict]:
    """RMSE, MAE and relative L2 `‖q − q_ref‖/‖q_ref‖` on each boolean region."""
    rows = []
    for name, mask in regions.items():
        d = q[mask] - q_ref[mask]
        rows.append(
            dict(
                region=name,
                points=int(mask.sum()),
                rmse=float(np.sqrt(np.mean(d**2))),
                mae=float(np.mean(np.abs(d))),
                rel_l2=float(np.linalg.norm(d) / np.linalg.norm(q_ref[mask])),
            )
        )
    return rows


def grid_rate(model, reference: GridCommittor, points: Float[Array, "n dim"]) -> float:
    """`ν_θ = β⁻¹ Σ e^{−βV}|∇q_θ|² / Σ e^{−βV}` over the reference grid nodes.

    `points` are the grid nodes in the order of `reference.q.ravel()`, lifted to the
    model's dimension (further coordinates drawn from their own law, if any).
    """
    v = reference.potential
    boltzmann = np.exp(-reference.beta * (v - v.min())).ravel()
    w = jnp.asarray(boltzmann / boltzmann.mean(), jnp.asarray(points).dtype)
    return float(committor_rate(model, points, w, beta=reference.beta))


def compare_with_grid(
    fit: CommittorFit,
    reference: GridCommittor,
    *,
    slice_points: Float[Array, "n dim"],
    rate_points: Float[Array, "n dim"] | None = None,
    energy_cut: float,
) -> dict:
    """Errors of `fit` against `reference` and the network's rate (see module).

    `slice_points`: the grid nodes (order of `reference.q.ravel()`) where `q` is compared;
    `rate_points`: the nodes for the Dirichlet-form quadrature (default `slice_points`).
    Returns `q` on the grid, the error `rows` and the scalar `metrics`.
    """
    q = np.asarray(
        jnp.concatenate([committor_values(fit.model, c) for c in jnp.array_split(slice_points, 8)])
    ).reshape(reference.q.shape)
    rows = error_rows(q, reference.q, evaluation_regions(reference, energy_cut))
    rate = grid_rate(fit.model, reference, slice_points if rate_points is None else rate_points)
    metrics = {f"rel_l2_{r['region']}": r["rel_l2"] for r in rows}
    metrics |= dict(
        rmse_transition=rows[-1]["rmse"],
        rate=rate,
        rate_rel_error=abs(rate / reference.rate - 1),
        rate_samples=fit.rate,
        rate_samples_stderr=fit.rate_stderr,
        ess=fit.ess,
        samples=int(fit.x.shape[0]),
    )
    return dict(q=q, rows=rows, metrics=metrics)


def lift(points2d: np.ndarray, dim: int, extra=None) -> jax.Array:
    """Grid nodes `(n, 2)` as `(n, dim)` states: further coordinates `extra (n, dim − 2)` or 0."""
    p = jnp.asarray(points2d)
    if dim == 2:
        return p
    tail = jnp.zeros((p.shape[0], dim - 2), p.dtype) if extra is None else jnp.asarray(extra)
    return jnp.concatenate([p, tail.astype(p.dtype)], -1)

"""Stochastic OnsagerNet on a 2-D SDE of known Onsager structure.

Learn `dX = -(M + W) grad V dt + sqrt(eps) sigma dW` (Yu, Tian, E, Li 2021; the stochastic
form of Chen, Yu, Li et al., the `onsagernet` package) from Euler–Maruyama pairs of the SDE
with `V = (x^2 - 1)^2 / 4 + y^2 / 2`, `M = I`, `W = 1/2 [[0, 1], [-1, 0]]`, `eps = 0.1` and
`sigma = sqrt(2) M^{1/2}`, by maximising the Euler–Maruyama likelihood, with and without the
fluctuation–dissipation form of the noise. Measured on the data's region: relative L2 error
of the drift and of the diffusion matrix `eps sigma sigma^T`, and the learned potential's
minima against `(+-1, 0)`.
"""

import functools
from dataclasses import dataclass, field

import jax
import jax.numpy as jnp
import numpy as np

from ..core import plot
from ..core.claims import AtMost, Claim
from ..core.domains import Domain
from ..core.experiment import experiment
from ..core.nn import count_params
from ..core.runs import Run
from ..identify import (
    MEANS,
    StochasticOnsagerNet,
    as_pairs,
    em_log_likelihood,
    potential_minima,
    relative_l2_error,
    sde_nll,
    train_vector_field,
)
from ..systems.langevin import onsager_covariance, onsager_drift, simulate_onsager_sde

VARIANTS = {"fd": True, "free": False}
SRC = "issue 13 item 4 (Yu et al. 2021 stochastic OnsagerNet)"
CLAIMS = [
    c
    for tag, label in (("fd", "fluctuation–dissipation"), ("free", "free noise"))
    for c in (
        Claim(f"drift relative L2 error ≤ 5 % ({label})", f"{tag}_drift_rel_error",
              AtMost(0.05), paper="≤ 5 %", source=SRC, quick=AtMost(0.10)),
        Claim(f"diffusion relative L2 error ≤ 10 % ({label})", f"{tag}_diffusion_rel_error",
              AtMost(0.10), paper="≤ 10 %", source=SRC),
        Claim(f"learned potential's minima at (±1, 0) ({label})", f"{tag}_minima_error",
              AtMost(0.05), paper="minima at ±1", source=SRC),
    )
]  # fmt: skip


@experiment(
    "onsager-sde",
    paper="Yu, Tian, E, Li, Phys. Rev. Fluids 6, 114402 (2021); stochastic OnsagerNet",
    summary="Stochastic OnsagerNet learns drift, diffusion and potential of a 2-D SDE",
    claims=CLAIMS,
)
@dataclass(frozen=True)
class Config:
    eps: float = 0.1
    n_paths: int = 1000
    t_final: float = 4.0
    dt_obs: float = 0.02
    dt_sim: float = 1e-3
    width: int = 16
    epochs: int = 200
    batch_size: int = 2000
    learning_rate: float = 0.01
    patience: int = 15
    variants: tuple[str, ...] = ("fd", "free")
    mean: str = field(default="heun", metadata={"domain": Domain(choices=MEANS)})
    seed: int = 0

    @classmethod
    def quick(cls) -> "Config":
        return cls(n_paths=400, epochs=40, patience=5)


def _data(cfg: Config):
    """Starts uniform in `[-2, 2] x [-1.5, 1.5]`; pairs `dt_obs` apart; 80/20 by path."""
    rng = np.random.default_rng(cfg.seed)
    y0 = rng.uniform([-2.0, -1.5], [2.0, 1.5], size=(cfg.n_paths, 2))
    ts = np.arange(0.0, cfg.t_final + cfg.dt_obs / 2, cfg.dt_obs)
    x = simulate_onsager_sde(y0, ts, jax.random.PRNGKey(cfg.seed), eps=cfg.eps, dt=cfg.dt_sim).x
    n_train = int(0.8 * cfg.n_paths)

    def pairs(sl):
        a, b = x[sl, :-1].reshape(-1, 2), x[sl, 1:].reshape(-1, 2)
        return as_pairs(a, b, cfg.dt_obs)

    return pairs(slice(0, n_train)), pairs(slice(n_train, None))


def _minima_error(model, region: np.ndarray) -> tuple[float, np.ndarray]:
    """Largest distance from `(+-1, 0)` to the nearest learned minimum (`inf` if none)."""
    starts = np.random.default_rng(1).uniform(region[0], region[1], size=(200, 2))
    found = potential_minima(model.onsager.V, starts)
    exact = np.array([[1.0, 0.0], [-1.0, 0.0]])
    if len(found) == 0:
        return float("inf"), found
    return float(np.linalg.norm(exact[:, None] - found[None], axis=-1).min(1).max()), found


def run(cfg: Config, run: Run) -> None:
    train, test = _data(cfg)
    points = np.asarray(test[0])
    region = np.stack([np.quantile(points, 0.01, 0), np.quantile(points, 0.99, 0)])
    true_cov = onsager_covariance(cfg.eps)
    rows, fitted = [], {}
    for i, tag in enumerate(cfg.variants):
        key = jax.random.fold_in(jax.random.PRNGKey(cfg.seed), i)

        def build(k, fd=VARIANTS[tag]):
            return StochasticOnsagerNet(
                2, cfg.width, fluctuation_dissipation=fd, eps=0.05, forcing="none", key=k
            )

        res = train_vector_field(
            build(key), train, loss=functools.partial(sde_nll, mean=cfg.mean), epochs=cfg.epochs, batch_size=cfg.batch_size,
            learning_rate=cfg.learning_rate, plateau_patience=cfg.patience,
            key=jax.random.fold_in(key, 1), desc=f"stochastic OnsagerNet ({tag})",
        )  # fmt: skip
        model = fitted[tag] = res.model
        drift_err = relative_l2_error(model.drift, onsager_drift, points)
        diff_err = relative_l2_error(model.covariance, lambda h: true_cov, points)
        min_err, found = _minima_error(model, region)
        nll = float(sde_nll(model, test, cfg.mean))
        true_nll = float(sde_nll_true(test, true_cov, cfg.mean))
        run.metric(f"{tag}_drift_rel_error", drift_err, note="relative L2 on test states")
        run.metric(f"{tag}_diffusion_rel_error", diff_err, note="eps sigma sigma^T, rel. L2")
        run.metric(f"{tag}_minima_error", min_err, paper="0 (minima at (+-1, 0))")
        run.metric(f"{tag}_eps", float(model.eps), note="learned eps (fd: of 2 eps (M + aI))")
        rows.append({
            "noise": tag, "params": count_params(model), "drift_rel_err": drift_err,
            "diffusion_rel_err": diff_err, "minima": "; ".join(
                f"({p[0]:.3f}, {p[1]:.3f})" for p in found[:4]), "minima_err": min_err,
            "test_nll": nll, "true_model_nll": true_nll,
        })  # fmt: skip
    run.table("sde", rows, caption=(
        "drift/diffusion_rel_err: relative L2 error over the test states of the drift and of "
        "the diffusion matrix eps sigma sigma^T; minima: the learned V's local minima; "
        "test_nll: Euler–Maruyama negative log-likelihood per pair of the test pairs, beside "
        "the true SDE's (the floor)."))  # fmt: skip
    _figures(fitted, region, run)
    run.note(
        f"Data: {cfg.n_paths} Euler–Maruyama paths (step {cfg.dt_sim}) to T = {cfg.t_final}, "
        f"observed every {cfg.dt_obs} (pairs), starts uniform in [-2, 2] x [-1.5, 1.5], "
        f"eps = {cfg.eps}; 80/20 split by path. fd: sigma = sqrt(2) (M + alpha I)^(1/2) with "
        "the eps div(M + W) drift correction; free: a learned constant lower-triangular "
        f"sigma. One-step mean: {cfg.mean} (heun removes the O(dt) drift bias of euler). "
        "The authors' JAX package `onsagernet` is not installed; it was not run."
    )


def sde_nll_true(test, cov, mean: str = "euler") -> float:
    """The true SDE's NLL on `test` with the `mean` one-step mean (a perfect model's score)."""
    return -float(em_log_likelihood(onsager_drift, lambda h: cov, *test, mean=mean))


def _figures(fitted, region, run: Run):
    xs = np.linspace(region[0, 0], region[1, 0], 61)
    ys = np.linspace(region[0, 1], region[1, 1], 41)
    grid = jnp.array([[x, y] for y in ys for x in xs])
    fig, axes = plot.figure(len(fitted) + 1, size=3.6)
    exact = 0.25 * (grid[:, 0] ** 2 - 1) ** 2 + 0.5 * grid[:, 1] ** 2
    plot.contour_map(axes[0], xs, ys, np.asarray(exact).reshape(41, 61), title="true V")
    for ax, (tag, model) in zip(axes[1:], fitted.items(), strict=True):
        v = np.asarray(jax.vmap(model.onsager.V)(grid)).reshape(41, 61)
        plot.contour_map(ax, xs, ys, v - v.min(), title=f"learned V - min ({tag})")
    run.figure("potential", fig, caption="True and learned potentials on the data's region.")

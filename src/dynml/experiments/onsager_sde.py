"""Stochastic OnsagerNet on a 2-D SDE of known Onsager structure.

Learn `dX = -(M + W) grad V dt + sqrt(eps) sigma dW` (Yu, Tian, E, Li 2021; the stochastic
form of Chen, Yu, Li et al., the `onsagernet` package) from Euler–Maruyama paths of the SDE
with `V = (x^2 - 1)^2 / 4 + y^2 / 2`, `M = I`, `W = 1/2 [[0, 1], [-1, 0]]`, `eps = 0.1` and
`sigma = sqrt(2) M^{1/2}`, by maximising the one-step Gaussian likelihood (Euler or Heun
mean), with and without the fluctuation–dissipation form of the noise; beside them the cubic
least-squares baseline (`fit_polynomial_sde`, the exact family of this drift, Euler and
Itô–Taylor targets). Data: long paths (the wells) and many short ones (the box). Measured on
the data's region: relative L2 error of the drift and of the diffusion matrix
`eps sigma sigma^T`, and the learned potential's minima against `(+-1, 0)`. Each net trains
`n_seeds` initialisations together (vmapped) and keeps the one with the lowest one-step
negative log-likelihood on validation paths held out of training (never the error against
the true drift); every member's errors are recorded beside the selected one's.
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
    fit_polynomial_sde,
    potential_minima,
    relative_l2_error,
    sde_nll,
    select_member,
    train_vector_field,
)
from ..identify.polynomial_sde import CORRECTIONS
from ..identify.stochastic import MOBILITY_INITS
from ..identify.training import SCHEDULES, member
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
    n_short: int = 16000
    t_short: float = 0.25
    dt_obs: float = 0.01
    dt_sim: float = 1e-3
    width: int = 16
    epochs: int = 20
    batch_size: int = 2000
    learning_rate: float = 0.03
    min_learning_rate: float = 3e-4
    schedule: str = field(default="cosine", metadata={"domain": Domain(choices=SCHEDULES)})
    patience: int = 15
    variants: tuple[str, ...] = ("fd", "free")
    mean: str = field(default="heun", metadata={"domain": Domain(choices=MEANS)})
    n_seeds: int = 3
    val_fraction: float = field(default=0.1, metadata={"domain": Domain(positive=True, high=0.5)})
    mobility_init: str = field(
        default="identity", metadata={"domain": Domain(choices=MOBILITY_INITS)}
    )
    seed: int = 0

    @classmethod
    def quick(cls) -> "Config":
        return cls(n_paths=200, n_short=3200, epochs=12, n_seeds=2)


def _data(cfg: Config):
    """`n_paths` paths to `t_final` and `n_short` to `t_short` (covering the box), starts
    uniform in `[-2, 2] x [-1.5, 1.5]`; pairs `dt_obs` apart; by path in each group, the
    first `0.8 - val_fraction` for training, the next `val_fraction` for validation (model
    selection), the last 20 % for testing. Returns train, validation and test pairs and the
    test states of the long paths alone."""
    rng = np.random.default_rng(cfg.seed)
    parts = {"train": [], "val": [], "test": []}
    long_test = None
    for i, (n, t) in enumerate(((cfg.n_paths, cfg.t_final), (cfg.n_short, cfg.t_short))):
        if n == 0:
            continue
        y0 = rng.uniform([-2.0, -1.5], [2.0, 1.5], size=(n, 2))
        ts = np.arange(0.0, t + cfg.dt_obs / 2, cfg.dt_obs)
        key = jax.random.fold_in(jax.random.PRNGKey(cfg.seed), i)
        x = simulate_onsager_sde(y0, ts, key, eps=cfg.eps, dt=cfg.dt_sim).x
        n_train, n_val = int(0.8 * n), int(cfg.val_fraction * n)
        cuts = {"train": slice(0, n_train - n_val), "val": slice(n_train - n_val, n_train)}
        for name, sl in (*cuts.items(), ("test", slice(n_train, None))):
            parts[name].append((x[sl, :-1].reshape(-1, 2), x[sl, 1:].reshape(-1, 2)))
        if i == 0:
            long_test = parts["test"][-1][0]

    def pairs(name):
        a, b = (np.concatenate([p[k] for p in parts[name]]) for k in (0, 1))
        return as_pairs(a, b, cfg.dt_obs)

    return pairs("train"), pairs("val"), pairs("test"), long_test


def _minima_error(model, region: np.ndarray) -> tuple[float, np.ndarray]:
    """Largest distance from `(+-1, 0)` to the nearest learned minimum (`inf` if none)."""
    starts = np.random.default_rng(1).uniform(region[0], region[1], size=(200, 2))
    found = potential_minima(model.onsager.V, starts)
    exact = np.array([[1.0, 0.0], [-1.0, 0.0]])
    if len(found) == 0:
        return float("inf"), found
    return float(np.linalg.norm(exact[:, None] - found[None], axis=-1).min(1).max()), found


def _errors(drift, cov, true_cov, points, wells, box) -> dict:
    """Drift rel. L2 on the test states (the claim), on the long paths' test states (mostly
    the wells) and on a uniform sample of the start box; diffusion rel. L2 on the test states."""
    drift_err = {
        k: relative_l2_error(drift, onsager_drift, p)
        for k, p in (("", points), ("_wells", wells), ("_box", box))
        if p is not None
    }
    return {**{f"drift_rel_error{k}": v for k, v in drift_err.items()},
            "diffusion_rel_error": relative_l2_error(cov, lambda h: true_cov, points)}  # fmt: skip


def _fit_variant(cfg: Config, i: int, tag: str, train, val):
    """`n_seeds` nets of variant `tag` trained together; the selected one (lowest validation
    NLL), its index, the members' validation NLLs and the stacked members."""
    key = jax.random.fold_in(jax.random.PRNGKey(cfg.seed), i)

    def build(k):
        return StochasticOnsagerNet(2, cfg.width, fluctuation_dissipation=VARIANTS[tag], eps=0.05,
                                    forcing="none", mobility_init=cfg.mobility_init, key=k)  # fmt: skip

    loss = functools.partial(sde_nll, mean=cfg.mean)
    res = train_vector_field(
        build, train, loss=loss, epochs=cfg.epochs, batch_size=cfg.batch_size, seeds=cfg.n_seeds,
        learning_rate=cfg.learning_rate, plateau_patience=cfg.patience, schedule=cfg.schedule,
        min_learning_rate=cfg.min_learning_rate, key=jax.random.fold_in(key, 1), desc=tag,
    )  # fmt: skip
    return *select_member(res.model, val, loss), res.model


def run(cfg: Config, run: Run) -> None:
    train, val, test, wells = _data(cfg)
    points = np.asarray(test[0])
    region = np.stack([np.quantile(points, 0.01, 0), np.quantile(points, 0.99, 0)])
    box = np.random.default_rng(cfg.seed + 1).uniform([-2.0, -1.5], [2.0, 1.5], size=(5000, 2))
    true_cov = onsager_covariance(cfg.eps)
    rows, seed_rows, fitted = [], [], {}
    for correction in CORRECTIONS:  # the least-squares baseline (exact cubic drift family)
        poly = fit_polynomial_sde(*train, degree=3, correction=correction)
        errs = _errors(poly.drift, poly.covariance, true_cov, points, wells, box)
        for name, value in errs.items():
            run.metric(f"poly_{correction}_{name}", value, note="cubic least squares")
        rows.append({"model": f"cubic LS ({correction})", "params": poly.field.coefficients.size
                     + 3, **errs, "test_nll": float(sde_nll(poly, test, "euler"))})  # fmt: skip
    for i, tag in enumerate(cfg.variants):
        model, chosen, nlls, models = _fit_variant(cfg, i, tag, train, val)
        for k in range(cfg.n_seeds):
            m = member(models, k)
            err, _ = _minima_error(m, region)
            seed_rows.append({"variant": tag, "member": k, "val_nll": nlls[k],
                              "val_nll_gap": nlls[k] - nlls.min(), "selected": k == chosen,
                              "drift_rel_error": relative_l2_error(m.drift, onsager_drift, points),
                              "minima_err": err})  # fmt: skip
        drifts = [r["drift_rel_error"] for r in seed_rows if r["variant"] == tag]
        run.metric(f"{tag}_selected_member", chosen, note="lowest validation NLL")
        run.metric(f"{tag}_drift_rel_error_worst_member", max(drifts), note="not selected on")
        fitted[tag] = model
        errs = _errors(model.drift, model.covariance, true_cov, points, wells, box)
        for name, value in errs.items():
            run.metric(f"{tag}_{name}", value, note="relative L2 (test states unless named)")
        min_err, found = _minima_error(model, region)
        run.metric(f"{tag}_minima_error", min_err, paper="0 (minima at (+-1, 0))")
        run.metric(f"{tag}_eps", float(model.eps), note="learned eps (fd: of 2 eps (M + aI))")
        rows.append({
            "model": f"OnsagerNet ({tag})", "params": count_params(model), **errs,
            "minima": "; ".join(f"({p[0]:.3f}, {p[1]:.3f})" for p in found[:4]),
            "minima_err": min_err, "test_nll": float(sde_nll(model, test, cfg.mean)),
        })  # fmt: skip
    rows.append({"model": "true SDE", "test_nll": sde_nll_true(test, true_cov, cfg.mean)})
    run.table("sde", rows, caption=(
        "drift_rel_error: relative L2 error of the drift over the test states (the claim), "
        "over the long paths' test states (_wells) and over 5000 uniform points of the start "
        "box (_box); diffusion_rel_error: of eps sigma sigma^T over the test states; minima: "
        "the learned V's local minima; test_nll: negative log-likelihood per test pair (the "
        "nets with their one-step mean, the cubic fits with Euler's; the true SDE's is the "
        "floor). The cubic least squares is the exact family of this drift: its error is the "
        "data's limit for a correctly specified 20-coefficient model."))  # fmt: skip
    run.table("members", seed_rows, caption=(
        "Every trained initialisation: validation NLL per pair (the selection criterion; "
        "val_nll_gap: above the lowest), "
        "drift relative L2 error on the test states and minima error; selected: the member "
        "reported above (lowest validation NLL)."))  # fmt: skip
    _figures(fitted, region, run)
    run.note(
        f"Data: {cfg.n_paths} Euler–Maruyama paths (step {cfg.dt_sim}) to T = {cfg.t_final} "
        f"and {cfg.n_short} to T = {cfg.t_short}, observed every {cfg.dt_obs} (pairs), starts "
        f"uniform in [-2, 2] x [-1.5, 1.5], eps = {cfg.eps}; 80/20 split by path. fd: sigma = "
        "sqrt(2) (M + alpha I)^(1/2) with the eps div(M + W) drift correction; free: a learned "
        f"constant lower-triangular sigma. {cfg.n_seeds} initialisations per net (M, W head "
        f"bias: {cfg.mobility_init}), the one with the lowest NLL on {cfg.val_fraction:g} of "
        "the paths (held out of training) kept. One-step mean: {cfg.mean} (heun removes the O(dt) "
        "drift bias of euler). Cubic LS: ito_taylor corrects the mean by (dt^2/2) L f. "
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

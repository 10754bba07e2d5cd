"""`onsager-rbc`: OnsagerNet on reduced coordinates of 2-D Rayleigh–Bénard convection.

Yu, Tian, E, Li, Phys. Rev. Fluids 6, 114402 (2021), section V (r = Ra/Ra_c = 28): PCA (m = 3,
5, 7) and PCA-ResNet coordinates; OnsagerNet, the authors' MLP-ODE and SINDy learn from pairs
`(h(t), h(t + pair_dt))` (`identify.comparison`, `seeds` per network), scored by T = 1 / T = 99
rollouts and N_fail (`identify.forecast`; claims read the median over seeds), with Lorenz '63
on the same data. Our data: `systems.rbc` (docs/rbc.md). `--set pca_data=FILE`: the authors'
PCA coordinates (`identify.pca_pairs`) with their protocol (`comparison.AUTHORS_RBC`).
"""

from dataclasses import dataclass, field
from pathlib import Path

import jax
import numpy as np

from ..core.claims import AtLeast, Between, Claim, LessThan
from ..core.data import Trajectories
from ..core.domains import BadInput, Domain
from ..core.experiment import experiment
from ..core.nn import count_params
from ..core.runs import Run
from ..identify import plots
from ..identify.analysis import find_fixed_points, stable_point_gap
from ..identify.autoencoded import fit_autoencoded
from ..identify.comparison import AUTHORS_RBC, Protocol, fit_comparison
from ..identify.forecast import NUMBERS, score, score_seeds
from ..identify.pca_pairs import PCAPairs, load_pca_pairs
from ..identify.reduce import relative_reconstruction_error
from ..identify.snapshots import reduce_snapshots
from ..systems.lorenz import Lorenz63
from ..systems.rbc import RBC, lorenz_coordinates_from_snapshots, lorenz_parameters, partners
from ..systems.rbc.dataset import study_data, study_rbc

PAPER_VARIANCE = (78.9, 9.33, 7.27, 2.10, 0.87, 0.45, 0.33)
_RBC_SOURCE = "Yu, Tian, E, Li 2021, RBC section (PCA spectrum; Table of T = 1 / T = 99 errors)"
_STARTS = ("lorenz", "conduction")  # systems.rbc.dataset.study_data
_CAPTION = ("T = 1 and T = 99 forecast errors (the authors' normalisation), N_fail and the "
            "fraction of bounded long rollouts (identify.forecast), over all trajectories (as "
            "the paper) and over the test ones (*_test); networks: the median over seeds.")  # fmt: skip
_TAGS = {"OnsagerNet": "onsagernet", "MLP-ODE": "mlp-ode", "SINDy": "sindy",
         "Lorenz '63 truncation": "lorenz", "OnsagerNet + PCA-ResNet": "onsagernet-ae"}  # fmt: skip

_CLAIMS = [
    Claim(f"PCA component {i + 1} explains {v} % of the variance (within 5 points)",
          f"pca_variance_{i + 1}_percent", Between(v - 5.0, v + 5.0), paper=f"{v} %",
          source=_RBC_SOURCE)
    for i, v in enumerate(PAPER_VARIANCE[:3])
] + [
    Claim(f"OnsagerNet's {what} no worse than {other}'s at m = {m} (all trajectories)",
          (f"{name}_onsagernet_m{m}", f"{name}_{tag}_m{m}"), LessThan(1.0), paper=paper,
          source=_RBC_SOURCE)
    for m in (3, 5, 7)
    for what, name, paper in (("T = 99 error", "err_T99", "OnsagerNet most accurate"),
                              ("N_fail", "N_fail", "fewest failed rollouts"))
    for other, tag in (("MLP-ODE", "mlp-ode"), ("SINDy", "sindy"))
] + [
    Claim(f"every OnsagerNet rollout bounded at m = {m}", f"bounded_onsagernet_m{m}",
          AtLeast(1.0), paper="OnsagerNet is stable by construction", source=_RBC_SOURCE)
    for m in (3, 5, 7)
]  # fmt: skip


@experiment(
    "onsager-rbc",
    paper="Yu, Tian, E, Li, Phys. Rev. Fluids 6, 114402 (2021), RBC section",
    summary="OnsagerNet vs MLP-ODE, SINDy, Lorenz '63 on PCA/autoencoder coordinates of 2-D RBC",
    claims=_CLAIMS,
)
@dataclass(frozen=True)
class Config:
    r: float = 28.0  # Ra / Ra_c
    pr: float = 10.0
    aspect: float = np.sqrt(2.0)  # half the period 2 sqrt 2 (mirror-symmetric rolls)
    modes_x: int = 32
    modes_z: int = 32
    dt: float = 2e-4  # time step, thermal diffusion times
    grid_x: int = 32  # snapshot grid (the paper's x2 downsampling)
    grid_z: int = 16
    n_traj: int = 100
    t_end: float = 99.0  # metric time units: 100 snapshots, as the authors' files
    snapshot_dt: float = 1.0  # metric time units between snapshots (the authors')
    pair_dt: float = 1e-3  # each snapshot's partner (the authors' pairs)
    pc1_std: float = 16.95  # std of PC1 (the authors': sqrt 287.19, their variance file)
    time_unit: float = 0.1  # Lorenz times per metric time unit
    starts: str = field(default="lorenz", metadata={"domain": Domain(choices=_STARTS)})
    amplitude: float = 0.1  # temperature noise added to the starts
    train_fraction: float = 0.8
    dims: tuple[int, ...] = (3, 5, 7)
    width_factor: int = 2  # OnsagerNet width width_factor * C(m + 2, 2) (the authors' rule)
    depth: int = 2
    epochs: int = 600
    batch_size: int = 200
    learning_rate: float = 0.0064
    seeds: int = 3  # of each network, trained together (the authors' nseed = 3)
    sindy_threshold: float = 0.005
    ae_dims: tuple[int, ...] = (3,)
    ae_widths: tuple[int, ...] = (128, 32)
    ae_epochs: int = 20
    ae_learning_rate: float = 1e-3
    rollout_dt: float = 0.01  # RK4 step of the rollouts (metric units)
    data: str = ""  # an HDF5 file written by an earlier run with the same physics
    pca_data: str = ""  # the authors' PCA pairs file (their protocol, module doc)
    seed: int = 0

    @classmethod
    def quick(cls) -> "Config":
        return cls(modes_x=16, modes_z=16, dt=4e-4, grid_x=16, grid_z=8, n_traj=10,
                   dims=(3,), width_factor=1, depth=1, epochs=20, learning_rate=0.0128,
                   ae_widths=(32, 8), ae_epochs=3, rollout_dt=0.02)  # fmt: skip


def _generate(cfg: Config, run: Run) -> tuple[RBC, Trajectories]:
    """Simulate (`systems.rbc.dataset`) or load the cached HDF5 (metric time units)."""
    rbc = study_rbc(cfg.r, cfg.pr, cfg.aspect, cfg.modes_x, cfg.modes_z, cfg.dt,
                    cfg.snapshot_dt, cfg.time_unit)  # fmt: skip
    path = Path(cfg.data) if cfg.data else run.folder / "rbc_data.h5"
    if path.is_file():
        run.note(f"Data loaded from {path} (not regenerated).")
        return rbc, Trajectories.load(path)
    data = study_data(rbc, cfg.seed, cfg.n_traj, cfg.t_end, cfg.snapshot_dt, cfg.time_unit,
                      starts=cfg.starts, amplitude=cfg.amplitude, pair_dt=cfg.pair_dt,
                      out_shape=(cfg.grid_x, cfg.grid_z))  # fmt: skip
    data.save(path)
    return rbc, data


def _record(run: Run, per_seed: list[dict], rows: list[dict]) -> None:
    run.table("errors", rows, caption=_CAPTION)
    run.table("errors_per_seed", per_seed, caption="The same numbers for every seed.")
    for r in rows:
        for name in NUMBERS:
            run.metric(f"{name}_{_TAGS[r['model']]}_m{r['m']}", r[name])


def _fixed_points(run: Run, field, h: np.ndarray, h_end: np.ndarray):
    fixed = find_fixed_points(field, h.reshape(-1, m := h.shape[-1]))
    run.table("fixed_points", fixed.rows(), caption=f"Fixed points of the learned OnsagerNet "
              f"(m = {m}) and their unstable directions.")  # fmt: skip
    run.metric("n_fixed_points", len(fixed.points))
    run.metric("n_stable_fixed_points", int(np.sum(fixed.n_unstable == 0)))
    run.metric("steady_state_to_stable_fixed_point_rel", stable_point_gap(fixed, h_end),
               note="mean distance of the trajectories' final states to the nearest stable "
               "learned fixed point, relative to their mean norm")  # fmt: skip
    return fixed


def _compare(cfg: Config, protocol: Protocol, data: PCAPairs, key) -> tuple:
    """Fit on the first `train_fraction` of the trajectories, score every seed on all."""
    n_train = round(cfg.train_fraction * data.n_traj)
    models = fit_comparison(*data.flat_pairs(slice(0, n_train)), protocol, key=key,
                            seeds=cfg.seeds)  # fmt: skip
    t_end = (data.h0.shape[1] - 1) * data.snapshot_dt
    per_seed, rows, preds = score_seeds(
        models, data.h0, np.arange(n_train, data.n_traj), t_end=t_end,
        snapshot_dt=data.snapshot_dt, dt=cfg.rollout_dt, long=t_end,
        n_params={k: count_params(v[0]) for k, v in models.items()})  # fmt: skip
    return per_seed, rows, preds, {k: v[0] for k, v in models.items()}, n_train


def _run_authors_data(cfg: Config, run: Run) -> None:
    """The comparison on the authors' PCA pairs, with their protocol (module doc)."""
    data = load_pca_pairs(cfg.pca_data)
    key = jax.random.PRNGKey(cfg.seed)
    per_seed, rows, preds, models, n_train = _compare(cfg, AUTHORS_RBC, data, key)
    run.note(f"Data: the authors' PCA file {cfg.pca_data} ({data.n_traj} x {data.h0.shape[1]} "
             f"pairs {data.dt_pair} apart, m = {data.h0.shape[2]}; the first {n_train} train); "
             f"their protocol {AUTHORS_RBC}, {cfg.seeds} seeds.")  # fmt: skip
    _record(run, per_seed, rows)
    fixed = _fixed_points(run, models["OnsagerNet"], (h := data.h0)[:n_train, ::10], h[:, -1])
    t = np.arange(h.shape[1]) * data.snapshot_dt
    for name, fig, caption in plots.reduced_model_figures(
            t, {"data": h} | preds, models["OnsagerNet"].V, fixed):  # fmt: skip
        run.figure(name, fig, caption)


def run(cfg: Config, run: Run) -> None:
    if cfg.pca_data:
        return _run_authors_data(cfg, run)
    rbc, data = _generate(cfg, run)
    if "pair_dt" not in data.attrs:
        raise BadInput(f"data: {cfg.data} holds no (snapshot, partner) pairs (older format)")
    (snaps, later), pair_dt = partners(data), float(data.attrs["pair_dt"])
    n_train = round(cfg.train_fraction * cfg.n_traj)  # the first 80 % train, as the authors
    test_index = np.arange(n_train, cfg.n_traj)
    n_pca = max(max(cfg.dims + cfg.ae_dims), cfg.ae_widths[0])
    red = reduce_snapshots(snaps.x, n_pca, n_report=len(PAPER_VARIANCE), pc1_std=cfg.pc1_std)
    ratio, h_all, h_later, x_test = red.ratio, red.h, red.encode(later.x), red.x[test_index]
    run.table("pca_variance", [dict(component=i + 1, ours_percent=o, paper_percent=p) for i, (
        o, p) in enumerate(zip(ratio, PAPER_VARIANCE, strict=True))], caption="Explained "
        "variance of the leading principal components (percent).")  # fmt: skip
    for i in (0, 1, 2):
        run.metric(f"pca_variance_{i + 1}_percent", ratio[i], paper=PAPER_VARIANCE[i])
    run.metric("pca_variance_first7_percent", float(ratio.sum()), paper=sum(PAPER_VARIANCE))
    key, per_seed, rows, models, preds = jax.random.PRNGKey(cfg.seed), [], [], {}, {}
    protocol = Protocol(cfg.width_factor, cfg.depth, cfg.epochs, cfg.batch_size,
                        cfg.learning_rate, cfg.sindy_threshold)  # fmt: skip
    for m in cfg.dims:
        key, sub = jax.random.split(key)
        pairs = PCAPairs(h_all[..., :m], h_later[..., :m], pair_dt, cfg.snapshot_dt)
        new_seed, new, preds[m], models[m], _ = _compare(cfg, protocol, pairs, sub)
        per_seed, rows = per_seed + new_seed, rows + new

    sigma, rho, beta = (lorenz_parameters(rbc)[k] for k in ("sigma", "r", "b"))
    xyz = lorenz_coordinates_from_snapshots(rbc, snaps.x, (cfg.grid_x, cfg.grid_z))
    lorenz = {"Lorenz '63 truncation": Lorenz63(sigma, rho, beta, time_unit=cfg.time_unit)}
    kw = dict(t_end=cfg.t_end, snapshot_dt=cfg.snapshot_dt, dt=cfg.rollout_dt)
    rows += (lorenz_scored := score(lorenz, xyz, test_index, **kw))[0]

    flat = lambda x: x[:n_train].reshape(-1, x.shape[-1])  # noqa: E731
    x_pairs = (flat(red.x), flat(red.scaled(later.x)), pair_dt)
    for m in cfg.ae_dims:
        key, sub = jax.random.split(key)
        fit = fit_autoencoded(red.pca, models[m]["OnsagerNet"], x_pairs, red.x,
                              (*cfg.ae_widths, m), epochs=cfg.ae_epochs, key=sub,
                              batch_size=cfg.batch_size,
                              learning_rate=cfg.ae_learning_rate)  # fmt: skip
        name = "OnsagerNet + PCA-ResNet"
        rows += score({name: fit.field}, fit.h, test_index, n_params={name: fit.n_params},
                      **kw)[0]  # fmt: skip
        run.metric(f"ae_reconstruction_rel_m{m}", relative_reconstruction_error(fit.ae, x_test))
        run.metric(f"pca_reconstruction_rel_m{m}",
                   relative_reconstruction_error(red.pca.leading(m), x_test))  # fmt: skip

    _record(run, per_seed, rows)
    m0 = cfg.dims[0]
    fixed = _fixed_points(run, models[m0]["OnsagerNet"], h_all[:n_train, ::10, :m0],
                          h_all[:, -1, :m0])  # fmt: skip
    run.metric("lorenz_params", f"sigma={sigma:.3g}, r={rho:.3g}, b={beta:.4g}")
    _notes(run, cfg, snaps.x.shape)
    theta = snaps.x[0].reshape(-1, 3, cfg.grid_x, cfg.grid_z)[:, 2]
    series = {"data": h_all[test_index, :, :m0]}
    series |= {n: p[test_index] for n, p in preds[m0].items()}
    lorenz = {"data projected on Lorenz modes": xyz[test_index], "Lorenz '63 from the same "
              "starts": lorenz_scored[1]["Lorenz '63 truncation"][test_index]}  # fmt: skip
    figures = plots.reduced_model_figures(
        snaps.t, series, models[m0]["OnsagerNet"].V, fixed, frames=theta, ratio=ratio,
        extent=(0, cfg.aspect, 0, 1), times=[0.0, 5.0, 20.0, cfg.t_end],
        paper_ratio=PAPER_VARIANCE, lorenz=lorenz)  # fmt: skip
    for figure in figures:
        run.figure(*figure)


def _notes(run: Run, cfg: Config, shape) -> None:
    run.note(f"Setting (ours; the paper's solver is not public): free-slip Boussinesq, r = {cfg.r},"
             f" Pr = {cfg.pr}, aspect {cfg.aspect:.4g}, {cfg.modes_x} x {cfg.modes_z} modes; "
             f"data {shape} from {cfg.starts} starts + noise {cfg.amplitude}; fields "
             f"RMS-scaled, PC1 std {cfg.pc1_std}; pairs {cfg.pair_dt} apart; time unit "
             f"{cfg.time_unit} Lorenz time, T = {cfg.t_end}. The paper's RBC error values are not "
             "in our references (no paper column).")  # fmt: skip

"""`onsager-rbc`: OnsagerNet on reduced coordinates of 2-D Rayleigh–Bénard convection.

Yu, Tian, E, Li, Phys. Rev. Fluids 6, 114402 (2021), section V (RBC at r = Ra/Ra_c = 28):
trajectories of the Boussinesq equations from random perturbations of the conduction state
are reduced by PCA (m = 3, 5, 7 coordinates) and by the near-isometric PCA-ResNet
autoencoder; OnsagerNet, an MLP-ODE and SINDy learn the reduced dynamics; errors of
rollouts from every snapshot at T = 1 and T = 99, and the number of failed trajectories,
are compared, with Lorenz '63 (the three-mode Galerkin truncation) on the same data.

Our choices (the authors' solver is not public): free-slip walls everywhere, Pr = 10,
aspect ratio 2 sqrt 2 (two rolls of the critical wavelength), 64 x 32 sine/cosine modes,
snapshots of `(u, w, theta)` on a 32 x 16 grid. **Time unit of the metrics:** one unit is
0.1 Lorenz time `tau = (3 pi^2 / 2) kappa t / d^2`, so the trajectories' T = 100 units are
10 Lorenz times (0.68 thermal diffusion times), long enough to reach the steady rolls.
"""

from dataclasses import dataclass
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from ..core import plot
from ..core.claims import Between, Claim, LessThan
from ..core.data import Trajectories
from ..core.experiment import experiment
from ..core.nn import count_params
from ..core.runs import Run
from ..identify.analysis import find_fixed_points, rollout
from ..identify.baselines import MLPODE, SINDy
from ..identify.onsager import OnsagerNet
from ..identify.reduce import PCA, PCAResNet, train_jointly
from ..identify.training import as_pairs, train_vector_field
from ..systems.lorenz import lorenz63
from ..systems.rbc import (
    RBC,
    lorenz_coordinates_from_fields,
    lorenz_parameters,
    midpoints,
    simulate,
)

PAPER_VARIANCE = (78.9, 9.33, 7.27, 2.10, 0.87, 0.45, 0.33)
_RBC_SOURCE = "Yu, Tian, E, Li 2021, RBC section (PCA spectrum; Table of T = 1 / T = 99 errors)"


@experiment(
    "onsager-rbc",
    paper="Yu, Tian, E, Li, Phys. Rev. Fluids 6, 114402 (2021), RBC section",
    summary="OnsagerNet vs MLP-ODE, SINDy, Lorenz '63 on PCA/autoencoder coordinates of 2-D RBC",
    claims=[
        Claim(
            f"PCA component {i + 1} explains {v} % of the variance (within 5 points)",
            f"pca_variance_{i + 1}_percent",
            Between(v - 5.0, v + 5.0),
            paper=f"{v} %",
            source=_RBC_SOURCE,
        )
        for i, v in enumerate(PAPER_VARIANCE[:3])
    ]
    + [
        Claim(
            f"OnsagerNet's T = 99 error no worse than {other}'s at m = 3",
            ("err_T99_onsagernet_m3", f"err_T99_{tag}_m3"),
            LessThan(1.0),
            paper="OnsagerNet most accurate",
            source=_RBC_SOURCE,
        )
        for other, tag in (("MLP-ODE", "mlp-ode"), ("SINDy", "sindy"))
    ]
    + [
        Claim(
            "OnsagerNet's N_fail no worse than MLP-ODE's at m = 3",
            ("N_fail_onsagernet_m3", "N_fail_mlp-ode_m3"),
            LessThan(1.0),
            paper="fewest failed rollouts",
            source=_RBC_SOURCE,
        ),
    ],  # fmt: skip
)
@dataclass(frozen=True)
class Config:
    r: float = 28.0  # Ra / Ra_c
    pr: float = 10.0
    aspect: float = 2.0 * np.sqrt(2.0)
    modes_x: int = 64
    modes_z: int = 32
    dt: float = 2e-4  # time step, thermal diffusion times
    grid_x: int = 32  # snapshot grid (the paper's x2 downsampling)
    grid_z: int = 16
    n_traj: int = 100
    t_end: float = 100.0  # metric time units
    snapshot_dt: float = 0.25  # metric time units between snapshots
    time_unit: float = 0.1  # Lorenz times per metric time unit
    amplitude: float = 0.1  # initial temperature perturbation
    train_fraction: float = 0.8
    dims: tuple[int, ...] = (3, 5, 7)
    width: int = 32
    depth: int = 1
    mlp_width: int = 32
    epochs: int = 150
    batch_size: int = 200
    learning_rate: float = 0.0128
    sindy_threshold: float = 0.005
    ae_dims: tuple[int, ...] = (3,)
    ae_widths: tuple[int, ...] = (128, 32)
    ae_epochs: int = 20
    ae_learning_rate: float = 1e-3
    rollout_substeps: int = 5  # RK4 steps per snapshot interval in the rollouts
    data: str = ""  # an HDF5 file written by an earlier run with the same physics
    seed: int = 0

    @classmethod
    def quick(cls) -> "Config":
        return cls(
            modes_x=32,
            modes_z=16,
            dt=4e-4,
            grid_x=16,
            grid_z=8,
            n_traj=10,
            snapshot_dt=0.5,
            dims=(3,),
            width=16,
            mlp_width=16,
            epochs=20,
            ae_widths=(32, 8),
            ae_epochs=3,
        )


def _lorenz_time_scale() -> float:
    return 1.5 * np.pi**2  # tau = K_c^2 t with K_c^2 = k_c^2 + pi^2 = 3 pi^2 / 2


def _generate(cfg: Config, rbc: RBC, run: Run) -> Trajectories:
    """Simulate (or load the cached HDF5); times are converted to metric units."""
    path = Path(cfg.data) if cfg.data else run.folder / "rbc_data.h5"
    if path.is_file():
        data = Trajectories.load(path)
        run.note(f"Data loaded from {path} (not regenerated).")
        return data
    to_diffusion = cfg.time_unit / _lorenz_time_scale()
    n_snap = round(cfg.t_end / cfg.snapshot_dt) + 1
    data = simulate(
        rbc,
        jax.random.PRNGKey(cfg.seed),
        cfg.n_traj,
        cfg.t_end * to_diffusion,
        n_snap,
        amplitude=cfg.amplitude,
        out_shape=(cfg.grid_x, cfg.grid_z),
    )
    attrs = data.attrs | {"metric_time_unit": f"{cfg.time_unit} Lorenz time"}
    data = Trajectories(data.t / to_diffusion, data.x, attrs=attrs)
    data.save(path)
    return data


def _normalise(x: np.ndarray, n_channels: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """Divide each field (u, w, theta) by its root-mean-square over the data set."""
    shape = x.shape
    per_channel = x.reshape(*shape[:-1], n_channels, -1)
    rms = np.sqrt(np.mean(per_channel**2, axis=(0, 1, 3)))
    return (per_channel / rms[:, None]).reshape(shape), rms


class _LorenzField(eqx.Module):
    """Lorenz '63 in metric time units: `dX/dt = time_unit * lorenz63(X)`."""

    params: tuple[float, float, float] = eqx.field(static=True)
    time_unit: float = eqx.field(static=True)

    def __call__(self, h):
        return self.time_unit * lorenz63(0.0, h, self.params)


def _rollout_at(field, h0, horizon: float, cfg: Config, n_save: int = 2) -> np.ndarray:
    dt = cfg.snapshot_dt / cfg.rollout_substeps
    return rollout(field, h0, horizon, dt, n_save=n_save)[1]


def _horizon_error(field, h: np.ndarray, horizon: float, cfg: Config) -> float:
    """Mean relative L2 error `|h_pred(t + T) - h(t + T)| / |h(t + T)|` from every snapshot."""
    lag = round(horizon / cfg.snapshot_dt)
    if lag >= h.shape[1]:
        raise ValueError(f"horizon {horizon} exceeds the trajectories' length")
    starts = h[:, : h.shape[1] - lag].reshape(-1, h.shape[2])
    target = h[:, lag:].reshape(-1, h.shape[2])
    pred = _rollout_at(field, starts, horizon, cfg)[:, -1]
    with np.errstate(invalid="ignore", over="ignore"):
        err = np.linalg.norm(pred - target, axis=1) / np.linalg.norm(target, axis=1)
    return float(np.mean(np.where(np.isfinite(err), err, np.inf)))


def _long_rollouts(field, h: np.ndarray, cfg: Config) -> tuple[np.ndarray, int]:
    """Rollouts from each trajectory's first snapshot to the end, and N_fail: trajectories
    whose error at T = t_end - 1 exceeds 0.3 x their maximal amplitude (or blow up)."""
    pred = _rollout_at(field, h[:, 0], cfg.t_end, cfg, n_save=h.shape[1])
    i = round((cfg.t_end - 1.0) / cfg.snapshot_dt)
    with np.errstate(invalid="ignore", over="ignore"):
        err = np.linalg.norm(pred[:, i] - h[:, i], axis=-1)
        fail = ~np.isfinite(err) | (err > 0.3 * np.linalg.norm(h, axis=-1).max(axis=1))
    return pred, int(np.sum(fail))


def _score(name: str, field, h_test: np.ndarray, cfg: Config, m: int, n_params) -> dict:
    pred, n_fail = _long_rollouts(field, h_test, cfg)
    return dict(
        model=name,
        m=m,
        err_T1=_horizon_error(field, h_test, 1.0, cfg),
        err_T99=_horizon_error(field, h_test, cfg.t_end - 1.0, cfg),
        N_fail=n_fail,
        n_test=h_test.shape[0],
        params=n_params,
        _pred=pred,
    )


def run(cfg: Config, run: Run) -> None:
    # the largest step <= cfg.dt that divides the snapshot interval exactly
    interval = cfg.snapshot_dt * cfg.time_unit / _lorenz_time_scale()
    dt = interval / np.ceil(interval / cfg.dt - 1e-9)
    rbc = RBC(cfg.r, cfg.pr, cfg.aspect, cfg.modes_x, cfg.modes_z, dt)
    data = _generate(cfg, rbc, run)
    train, test = data.split(cfg.train_fraction, seed=cfg.seed)
    x_train, rms = _normalise(train.x)
    x_test = (test.x.reshape(*test.x.shape[:-1], 3, -1) / rms[:, None]).reshape(test.x.shape)
    n_pca = max(max(cfg.dims + cfg.ae_dims), cfg.ae_widths[0])
    flat = x_train.reshape(-1, x_train.shape[-1])
    scale = float(np.sqrt(PCA.fit(flat, 1).variance[0]))  # first coordinate: unit variance
    x_train, x_test = x_train / scale, x_test / scale
    pca = PCA.fit(x_train.reshape(-1, x_train.shape[-1]), n_pca, n_report=len(PAPER_VARIANCE))
    ratio = 100 * np.asarray(pca.explained_variance_ratio[: len(PAPER_VARIANCE)])
    run.table(
        "pca_variance",
        [
            dict(component=i + 1, ours_percent=o, paper_percent=p)
            for i, (o, p) in enumerate(zip(ratio, PAPER_VARIANCE, strict=True))
        ],
        caption="Explained variance of the leading principal components (percent).",
    )
    for i in (0, 1, 2):
        run.metric(f"pca_variance_{i + 1}_percent", ratio[i], paper=PAPER_VARIANCE[i])
    run.metric("pca_variance_first7_percent", float(ratio.sum()), paper=sum(PAPER_VARIANCE))

    h_train_all = np.asarray(pca.encode(jnp.asarray(x_train)))
    h_test_all = np.asarray(pca.encode(jnp.asarray(x_test)))
    key = jax.random.PRNGKey(cfg.seed)
    rows, models = [], {}
    for m in cfg.dims:
        h_tr, h_te = h_train_all[..., :m], h_test_all[..., :m]
        x0, x1, dt = Trajectories(train.t, h_tr).pairs()
        pairs = as_pairs(x0, x1, dt)
        key, k1, k2, k3, k4 = jax.random.split(key, 5)
        fit_kw = dict(epochs=cfg.epochs, batch_size=cfg.batch_size, progress=False)
        onsager = OnsagerNet(m, cfg.width, cfg.depth, key=k1)
        onsager = train_vector_field(
            onsager,
            pairs,
            key=k2,
            learning_rate=cfg.learning_rate,
            desc=f"onsager m={m}",
            **fit_kw,
        ).model
        mlp = MLPODE(m, cfg.mlp_width, 2, key=k3)
        mlp = train_vector_field(
            mlp, pairs, key=k4, learning_rate=cfg.learning_rate, desc=f"mlp m={m}", **fit_kw
        ).model
        sindy = SINDy.from_pairs(x0, x1, dt, threshold=cfg.sindy_threshold)
        models[m] = {"OnsagerNet": onsager, "MLP-ODE": mlp, "SINDy": sindy}
        for name, field in models[m].items():
            rows.append(_score(name, field, h_te, cfg, m, count_params(field)))

    lorenz = lorenz_parameters(rbc)
    xyz = _lorenz_data(rbc, test.x, cfg)
    field = _LorenzField((lorenz["sigma"], lorenz["r"], lorenz["b"]), cfg.time_unit)
    rows.append(_score("Lorenz '63 truncation", field, xyz, cfg, 3, 0))

    ae_models = {}
    for m in cfg.ae_dims:
        key, k1, k2 = jax.random.split(key, 3)
        sub = PCA(
            pca.mean,
            pca.components[: cfg.ae_widths[0]],
            pca.variance[: cfg.ae_widths[0]],
            pca.explained_variance_ratio,
        )
        ae = PCAResNet(sub, widths=(*cfg.ae_widths[1:], m), key=k1)
        field = models[m]["OnsagerNet"] if m in models else OnsagerNet(m, cfg.width, key=k2)
        x0, x1, dt = Trajectories(train.t, x_train).pairs()
        result = train_jointly(
            ae,
            field,
            (x0, x1, np.full(len(x0), dt)),
            epochs=cfg.ae_epochs,
            key=k2,
            batch_size=cfg.batch_size,
            learning_rate=cfg.ae_learning_rate,
            progress=False,
        )
        ae, field = result.model
        ae_models[m] = (ae, field)
        h_te = np.asarray(jax.vmap(jax.vmap(ae.encode))(jnp.asarray(x_test)))
        rows.append(
            _score(
                "OnsagerNet + PCA-ResNet",
                field,
                h_te,
                cfg,
                m,
                count_params(field) + count_params(ae),
            )
        )
        run.metric(f"ae_reconstruction_rel_m{m}", _relative_reconstruction(ae, x_test))
        run.metric(
            f"pca_reconstruction_rel_m{m}",
            _relative_reconstruction(
                PCA(pca.mean, pca.components[:m], pca.variance[:m], pca.explained_variance_ratio),
                x_test,
            ),
        )

    preds = {(r["model"], r["m"]): r.pop("_pred") for r in rows}
    run.table(
        "errors",
        rows,
        caption=(
            "Mean relative L2 error of rollouts from every test snapshot over T = 1 and T = 99 "
            "metric units (1 unit = 0.1 Lorenz time), and N_fail (error at T = 99 from the first "
            "snapshot above 0.3 x the trajectory's maximal amplitude, or blow-up). Errors are in "
            "each model's own reduced coordinates (PCA, autoencoder, or Lorenz's X, Y, Z)."
        ),
    )
    for r in rows:
        tag = r["model"].split()[0].replace("'", "").lower() + f"_m{r['m']}"
        run.metric(f"err_T1_{tag}", r["err_T1"])
        run.metric(f"err_T99_{tag}", r["err_T99"])
        run.metric(f"N_fail_{tag}", r["N_fail"])
    m0 = cfg.dims[0]
    fixed = find_fixed_points(models[m0]["OnsagerNet"], h_train_all[:, ::10, :m0].reshape(-1, m0))
    _report_fixed_points(run, fixed, h_test_all[:, -1, :m0], m0)
    run.metric("data_set_shape", str(data.x.shape))
    run.metric(
        "lorenz_params", f"sigma={lorenz['sigma']:.3g}, r={lorenz['r']:.3g}, b={lorenz['b']:.4g}"
    )
    _notes(run, cfg, ratio)
    _figures(run, cfg, data, h_test_all, preds, models, fixed, m0, xyz)


def _lorenz_data(rbc: RBC, x: np.ndarray, cfg: Config) -> np.ndarray:
    fields = x.reshape(*x.shape[:-1], 3, cfg.grid_x, cfg.grid_z)
    points = midpoints(cfg.grid_x, cfg.aspect), midpoints(cfg.grid_z)
    return lorenz_coordinates_from_fields(rbc, fields, *points)


def _relative_reconstruction(model, x: np.ndarray) -> float:
    flat = jnp.asarray(x.reshape(-1, x.shape[-1]))
    recon = jax.vmap(lambda v: model.decode(model.encode(v)))(flat)
    return float(jnp.linalg.norm(recon - flat) / jnp.linalg.norm(flat - jnp.mean(flat, 0)))


def _report_fixed_points(run: Run, fixed, final_states: np.ndarray, m: int) -> None:
    run.table(
        "fixed_points",
        [
            dict(point=np.array2string(p, precision=3), n_unstable=int(u))
            for p, u in zip(fixed.points, fixed.n_unstable, strict=True)
        ],
        caption=f"Fixed points of the learned OnsagerNet (m = {m}) and their unstable directions.",
    )
    stable = fixed.points[fixed.n_unstable == 0]
    if len(stable):
        d = np.linalg.norm(final_states[:, None] - stable[None], axis=-1).min(axis=1)
        gap = float(np.mean(d) / np.mean(np.linalg.norm(final_states, axis=-1)))
    else:
        gap = float("inf")
    run.metric("n_fixed_points", len(fixed.points))
    run.metric("n_stable_fixed_points", len(stable))
    run.metric(
        "steady_state_to_stable_fixed_point_rel",
        gap,
        note="mean distance of the test trajectories' final states to the nearest "
        "stable learned fixed point, relative to their mean norm",
    )


def _notes(run: Run, cfg: Config, ratio: np.ndarray) -> None:
    run.note(
        "Setting (ours; the paper's solver is not public): 2-D Boussinesq, free-slip walls "
        f"everywhere, r = {cfg.r}, Pr = {cfg.pr}, aspect ratio {cfg.aspect:.4g}, "
        f"{cfg.modes_x} x {cfg.modes_z} sine/cosine modes, ETDRK4 with dt = {cfg.dt}; "
        f"{cfg.n_traj} trajectories from random temperature perturbations of amplitude "
        f"{cfg.amplitude}; snapshots of (u, w, theta) on a {cfg.grid_x} x {cfg.grid_z} grid, "
        "each field divided by its RMS. Metric time unit = "
        f"{cfg.time_unit} Lorenz time; T = {cfg.t_end} units per trajectory."
    )
    run.note(
        f"PCA: our leading variances {np.array2string(ratio[:3], precision=2)} % vs the "
        "paper's 78.9, 9.33, 7.27 %. They differ because the flows differ (boundary "
        "conditions, Pr, aspect ratio, field scaling are not given in the paper); in a box "
        "with side walls the roll's amplitude dominates as in the paper."
    )
    run.note(
        "The paper's error table values for RBC are not in our references, so the errors "
        "are reported without a paper column; the Lorenz '63 row is the three-mode Galerkin "
        "truncation of the same equations (exact mapping, tested), integrated from the data's "
        "projection on its three modes: the lecture's point is that it is quantitatively "
        "inaccurate for the PDE."
    )


def _figures(run, cfg, data, h_test, preds, models, fixed, m, xyz) -> None:
    _temperature_figure(run, cfg, data)
    fig, ax = plot.figure(size=4.5)
    k = np.arange(1, len(PAPER_VARIANCE) + 1)
    ours = [r["ours_percent"] for r in run.tables["pca_variance"]["rows"]]
    ax.bar(k - 0.2, ours, 0.4, label="ours")
    ax.bar(k + 0.2, PAPER_VARIANCE, 0.4, label="paper")
    ax.set_yscale("log")
    ax.set_xlabel("principal component")
    ax.set_ylabel("explained variance (%)")
    ax.legend()
    run.figure("pca_variance", fig, "Explained variance of the principal components.")

    names = ["data", "OnsagerNet", "MLP-ODE", "SINDy"]
    fig, axes = plot.figure(4, 2, size=3.2)
    for col, name in enumerate(names):
        h = h_test[..., :m] if name == "data" else preds[(name, m)]
        h = np.where(np.isfinite(h), h, np.nan)
        for row, dims in enumerate([(0, 1), (0, 2)]):
            plot.phase_portrait(axes[row, col], h, dims=dims, title=name if row == 0 else "")
            axes[row, col].set_xlim(axes[row, 0].get_xlim())
            axes[row, col].set_ylim(axes[row, 0].get_ylim())
    run.figure(
        "phase_portraits",
        fig,
        f"Test trajectories (PCA m = {m}) and rollouts of the "
        "learned models from the same first snapshots, first three coordinates.",
    )

    onsager = models[m]["OnsagerNet"]
    energy = jax.vmap(jax.vmap(onsager.V))(jnp.asarray(h_test[..., :m]))
    fig, axes = plot.figure(2, size=4.0)
    for e in np.asarray(energy):
        axes[0].plot(data.t, e, lw=0.6)
    axes[0].set_yscale("log")
    axes[0].set_xlabel("t (metric units)")
    axes[0].set_ylabel("learned V(h)")
    axes[0].set_title("learned energy along test data")
    g = np.linspace(-2.5, 2.5, 80)
    grid = np.stack(np.meshgrid(g, g), -1).reshape(-1, 2)
    rest = np.zeros((len(grid), m - 2))
    v = jax.vmap(onsager.V)(jnp.asarray(np.concatenate([grid, rest], 1), jnp.float32))
    plot.contour_map(
        axes[1],
        g,
        g,
        np.log10(np.asarray(v)).reshape(80, 80),
        title="log10 V on the (h1, h2) plane",
    )
    run.figure(
        "learned_energy",
        fig,
        "OnsagerNet's learned potential V along the test "
        "trajectories (left) and on the plane h3 = ... = 0 (right).",
    )

    fig, axes = plot.figure(2, size=4.5)
    for ax, dims in zip(axes, [(0, 1), (0, 2)], strict=True):
        plot.phase_portrait(ax, h_test[..., :m], dims=dims, color="0.7")
        stable = fixed.n_unstable == 0
        ax.scatter(
            *fixed.points[stable][:, dims].T,
            c="tab:green",
            marker="o",
            s=50,
            label="stable",
            zorder=3,
        )
        ax.scatter(
            *fixed.points[~stable][:, dims].T,
            c="tab:red",
            marker="x",
            s=50,
            label="unstable",
            zorder=3,
        )
    axes[0].legend()
    run.figure("fixed_points", fig, "Fixed points of the learned OnsagerNet on the test data.")

    fig, axes = plot.figure(2, size=4.0)
    lorenz_pred = preds[("Lorenz '63 truncation", 3)]
    plot.phase_portrait(axes[0], xyz, dims=(0, 2), title="data projected on Lorenz modes")
    plot.phase_portrait(
        axes[1],
        np.where(np.isfinite(lorenz_pred), lorenz_pred, np.nan),
        dims=(0, 2),
        title="Lorenz '63 from the same starts",
    )
    run.figure(
        "lorenz_truncation",
        fig,
        "The data's (X, Z) Lorenz coordinates and the three-mode truncation's prediction.",
    )


def _temperature_figure(run: Run, cfg: Config, data: Trajectories) -> None:
    times = [0.0, 5.0, 20.0, cfg.t_end]
    fig, axes = plot.figure(len(times), 1, size=3.0)
    for ax, t in zip(axes, times, strict=True):
        i = int(np.argmin(np.abs(data.t - t)))
        theta = data.x[0, i].reshape(3, cfg.grid_x, cfg.grid_z)[2]
        ax.imshow(theta.T, origin="lower", extent=(0, cfg.aspect, 0, 1), cmap="RdBu_r")
        ax.set_title(f"theta, t = {data.t[i]:.3g}")
    run.figure("temperature_snapshots", fig, "Temperature departure theta of one trajectory.")

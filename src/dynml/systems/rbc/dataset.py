"""The data set of the reduced-model study (Yu, Tian, E, Li, Phys. Rev. Fluids 6, 114402,
2021, section V), built like the authors' (their shipped PCA files, `dataRBC/`): many
trajectories from starts far from conduction, snapshots of `(u, w, theta)`.

**Time unit.** Times are in metric units of `time_unit` Lorenz times
`tau = K_c^2 kappa t / d^2` (`K_c^2 = 3 pi^2 / 2`); the time step is the largest one
`<= dt_max` that divides the snapshot interval exactly.
"""

import jax
import numpy as np

from ...core.data import Trajectories
from .galerkin import lorenz_starts
from .simulator import RBC, simulate

LORENZ_TIME_SCALE = 1.5 * np.pi**2  # tau = K_c^2 t


def study_rbc(
    r: float, pr: float, aspect: float, nx: int, nz: int, dt_max: float, snapshot_dt: float,
    time_unit: float,
) -> RBC:  # fmt: skip
    """`RBC(...)` whose step is the largest `<= dt_max` dividing the snapshot interval."""
    interval = snapshot_dt * time_unit / LORENZ_TIME_SCALE
    return RBC(r, pr, aspect, nx, nz, interval / np.ceil(interval / dt_max - 1e-9))


def study_data(
    rbc: RBC, seed: int, n_traj: int, t_end: float, snapshot_dt: float, time_unit: float, *,
    starts: str = "lorenz", amplitude: float = 0.1, out_shape: tuple[int, int],
    pair_dt: float | None = None,
) -> Trajectories:  # fmt: skip
    """`n_traj` trajectories to `t_end` (metric units), one snapshot every `snapshot_dt`,
    from `lorenz_starts(noise=amplitude)` (`starts="lorenz"`: far from conduction) or from
    conduction plus a temperature perturbation of `amplitude` (`"conduction"`). With
    `pair_dt` (metric units) every snapshot is followed by its partner `pair_dt` later, as
    the authors' pairs `(h(t), h(t + 1e-3))` (`simulator.simulate`, split by `partners`)."""
    if starts not in ("lorenz", "conduction"):
        raise ValueError(f"starts must be 'lorenz' or 'conduction', got {starts!r}")
    key, to_diffusion = jax.random.PRNGKey(seed), time_unit / LORENZ_TIME_SCALE
    s0 = lorenz_starts(rbc, key, n_traj, noise=amplitude) if starts == "lorenz" else None
    n_snap = round(t_end / snapshot_dt) + 1
    data = simulate(rbc, key, n_traj, t_end * to_diffusion, n_snap, s0=s0,
                    amplitude=amplitude, out_shape=out_shape,
                    pair_dt=None if pair_dt is None else pair_dt * to_diffusion)  # fmt: skip
    attrs = data.attrs | {"metric_time_unit": f"{time_unit} Lorenz time", "starts": starts}
    if pair_dt is not None:
        attrs["pair_dt"] = float(pair_dt)
    return Trajectories(data.t / to_diffusion, data.x, attrs=attrs)

"""2-D Boussinesq Rayleigh–Bénard convection in a free-slip box, pseudo-spectral, ETDRK4.

Units: depth `d`, thermal diffusion time `d^2 / kappa`, temperature difference `Delta T`.
With the streamfunction `psi` (`u = psi_z`, `w = -psi_x`), the vorticity `omega = lap psi`
and the departure `theta` from the linear conduction profile `1 - z`,

    omega_t + u . grad omega = Pr lap omega - Pr Ra theta_x,
    theta_t + u . grad theta = w + lap theta,

on `[0, L] x [0, 1]` with stress-free, impermeable, perfectly conducting top and bottom and
stress-free, insulating side walls. Then `psi, omega ~ sin(k_m x) sin(q_n z)` and
`theta ~ cos(k_m x) sin(q_n z)` (see `spectral.Basis`). The linear part couples
`(omega_mn, theta_mn)` through a 2x2 matrix per mode, integrated exactly by the exponential
time differencing RK4 scheme of Cox & Matthews (J. Comput. Phys. 176, 2002); its phi-functions
come from the exponential of an augmented matrix (Al-Mohy & Higham 2011). The nonlinear term
is evaluated on the grid with 2/3 dealiasing. The state is an array `(2, nx, nz)` of the
coefficients of `omega` and `theta`; every method also accepts a leading batch axis.
"""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import scipy.linalg
from jaxtyping import Array, Float, PRNGKeyArray

from ...core.data import Trajectories
from .linear import RA_CRITICAL
from .spectral import Basis, midpoints, to_grid, to_modes

State = Float[Array, "*batch 2 nx nz"]


def _phi_functions(a: np.ndarray) -> list[np.ndarray]:
    """`[exp(A), phi_1(A), phi_2(A), phi_3(A)]` for a stack of 2x2 matrices `A`.

    `phi_p(A) = sum_k A^k / (k + p)!` is the top block row of `expm` of the block matrix
    `[[A, I, 0, 0], [0, 0, I, 0], [0, 0, 0, I], [0, 0, 0, 0]]`.
    """
    n = a.shape[-1]
    big = np.zeros(a.shape[:-2] + (4 * n, 4 * n))
    big[..., :n, :n] = a
    for p in range(3):
        big[..., p * n : (p + 1) * n, (p + 1) * n : (p + 2) * n] = np.eye(n)
    e = scipy.linalg.expm(big)
    return [e[..., :n, p * n : (p + 1) * n] for p in range(4)]


def _per_mode(m: np.ndarray) -> np.ndarray:
    """`(nx, nz, 2, 2)` -> `(2, 2, nx, nz)` as a constant array."""
    return jnp.asarray(np.moveaxis(m, (-2, -1), (0, 1)))


def _apply(m: Array, s: State) -> State:
    """Per-mode 2x2 matrix times the state: `out_i = sum_j m[i, j] s_j`."""
    s0, s1 = s[..., 0, :, :], s[..., 1, :, :]
    return jnp.stack([m[0, 0] * s0 + m[0, 1] * s1, m[1, 0] * s0 + m[1, 1] * s1], axis=-3)


def _nonlinear(c: dict, s: State) -> State:
    m = c["mats"]
    kx, kz = c["kx"], c["kz"]
    om, th = s[..., 0, :, :], s[..., 1, :, :]
    psi = -om / c["k2"]
    u = to_grid(psi * kz, m["sx"], m["cz"])
    w = to_grid(-psi * kx, m["cx"], m["sz"])
    om_x = to_grid(om * kx, m["cx"], m["sz"])
    om_z = to_grid(om * kz, m["sx"], m["cz"])
    th_x = to_grid(-th * kx, m["sx"], m["sz"])
    th_z = to_grid(th * kz, m["cx"], m["cz"])
    n_om = to_modes(u * om_x + w * om_z, m["ax_sin"], m["az_sin"])
    n_th = to_modes(u * th_x + w * th_z, m["ax_cos"], m["az_sin"])
    return -jnp.stack([n_om, n_th], axis=-3) * c["mask"]


def _step(c: dict, s: State) -> State:
    e = c["etd"]
    n_s = _nonlinear(c, s)
    a = _apply(e["e_half"], s) + _apply(e["q"], n_s)
    n_a = _nonlinear(c, a)
    b = _apply(e["e_half"], s) + _apply(e["q"], n_a)
    n_b = _nonlinear(c, b)
    cc = _apply(e["e_half"], a) + _apply(e["q"], 2 * n_b - n_s)
    n_c = _nonlinear(c, cc)
    return (
        _apply(e["e"], s)
        + _apply(e["f1"], n_s)
        + 2 * _apply(e["f2"], n_a + n_b)
        + _apply(e["f3"], n_c)
    )


def _fields(c: dict, s: State, m: dict) -> Array:
    psi = -s[..., 0, :, :] / c["k2"]
    u = to_grid(psi * c["kz"], m["sx"], m["cz"])
    w = to_grid(-psi * c["kx"], m["cx"], m["sz"])
    th = to_grid(s[..., 1, :, :], m["cx"], m["sz"])
    return jnp.stack([u, w, th], axis=-3)


@eqx.filter_jit
def _evolve(
    c: dict, s: State, n_snapshots: int, steps_per_snapshot, out: dict | None,
    partner: dict | None = None,
) -> Array:  # fmt: skip
    """Snapshots every `steps_per_snapshot` steps; with `partner` (the constants of a stepper
    of step `pair_dt`) each snapshot is followed by its state one `pair_dt` step later."""
    field = (lambda x: x) if out is None else (lambda x: _fields(c, x, out))
    both = lambda x: jnp.stack([field(x), field(_step(partner, x))])  # noqa: E731
    observe = field if partner is None else both

    def advance(state, _):
        nxt = jax.lax.fori_loop(0, steps_per_snapshot, lambda _, x: _step(c, x), state)
        return nxt, observe(nxt)

    _, later = jax.lax.scan(advance, s, None, length=n_snapshots - 1)
    seen = jnp.concatenate([observe(s)[None], later], axis=0)
    return seen if partner is None else seen.reshape(-1, *seen.shape[2:])


class RBC(eqx.Module):
    """A Rayleigh–Bénard problem (parameters, grid) with its jitted ETDRK4 stepper.

    Build with `RBC(r=28.0, pr=10.0, aspect=2 sqrt 2, nx=64, nz=32, dt=2e-4)`; `r = Ra / Ra_c`
    with `Ra_c = 27 pi^4 / 4`. `aspect = 2 sqrt 2` fits two rolls of the critical wavelength,
    whose mode `m = 2` is the one of Lorenz's truncation.
    """

    ra: float = eqx.field(static=True)
    pr: float = eqx.field(static=True)
    aspect: float = eqx.field(static=True)
    nx: int = eqx.field(static=True)
    nz: int = eqx.field(static=True)
    dt: float = eqx.field(static=True)
    kx: Array
    kz: Array
    k2: Array
    mask: Array
    mats: dict
    lin: Array
    etd: dict

    def __init__(
        self,
        r: float = 28.0,
        pr: float = 10.0,
        aspect: float = 2.0 * np.sqrt(2.0),
        nx: int = 64,
        nz: int = 32,
        dt: float = 2e-4,
    ):
        for name, value in (("r", r), ("pr", pr), ("aspect", aspect), ("dt", dt)):
            if not value > 0:
                raise ValueError(f"RBC needs {name} > 0, got {value}")
        if nx < 4 or nz < 4:
            raise ValueError(f"RBC needs nx, nz >= 4 modes, got nx={nx}, nz={nz}")
        self.ra, self.pr, self.aspect = float(r * RA_CRITICAL), float(pr), float(aspect)
        self.nx, self.nz, self.dt = int(nx), int(nz), float(dt)
        basis = Basis(self.nx, self.nz, self.aspect)
        kx, kz = basis.kx[:, None], basis.kz[None, :]
        k2 = kx**2 + kz**2
        self.kx, self.kz, self.k2 = jnp.asarray(kx), jnp.asarray(kz), jnp.asarray(k2)
        self.mask = jnp.asarray(basis.dealias_mask(), dtype=self.k2.dtype)
        self.mats = {k: jnp.asarray(v) for k, v in (basis.synthesis() | basis.analysis()).items()}
        lin = np.zeros((self.nx, self.nz, 2, 2))
        lin[..., 0, 0] = -self.pr * k2
        lin[..., 0, 1] = self.pr * self.ra * kx
        lin[..., 1, 0] = kx / k2
        lin[..., 1, 1] = -k2
        self.lin = _per_mode(lin)
        h = self.dt
        e, p1, p2, p3 = _phi_functions(h * lin)
        e_half, p1_half, _, _ = _phi_functions(0.5 * h * lin)
        self.etd = {
            "e": _per_mode(e),
            "e_half": _per_mode(e_half),
            "q": _per_mode(0.5 * h * p1_half),
            "f1": _per_mode(h * (p1 - 3 * p2 + 4 * p3)),
            "f2": _per_mode(h * (p2 - 2 * p3)),
            "f3": _per_mode(h * (-p2 + 4 * p3)),
        }

    @property
    def r(self) -> float:
        return self.ra / RA_CRITICAL

    @property
    def basis(self) -> Basis:
        return Basis(self.nx, self.nz, self.aspect)

    def linear(self, s: State) -> State:
        """The linear part: `(Pr lap omega - Pr Ra theta_x, w + lap theta)`."""
        return _apply(self.lin, s)

    @property
    def _arrays(self) -> dict:
        """The stepper's constants: jitted code is shared by every `RBC` of the same size."""
        keys = ("kx", "kz", "k2", "mask", "mats", "etd")
        return {k: getattr(self, k) for k in keys}

    def nonlinear(self, s: State) -> State:
        """`-(u . grad omega, u . grad theta)`, dealiased, in the state's basis."""
        return _nonlinear(self._arrays, s)

    def rhs(self, s: State) -> State:
        """The full right-hand side `d state / dt` (diffusion time units)."""
        return self.linear(s) + self.nonlinear(s)

    def step(self, s: State) -> State:
        """One ETDRK4 step of size `dt` (Cox & Matthews 2002)."""
        return _step(self._arrays, s)

    def evolve(
        self,
        s: State,
        n_snapshots: int,
        steps_per_snapshot: int,
        points: tuple[np.ndarray, np.ndarray] | None = None,
        pair_dt: float | None = None,
    ) -> Array:
        """States at `n_snapshots` times `0, h, 2h, ...` with `h = steps_per_snapshot * dt`.

        Output shape `(n_snapshots, *s.shape)`; a batch of states is stepped together. With
        `points = (x, z)` it returns the fields `(n_snapshots, *batch, 3, len(x), len(z))`
        (see `fields`) instead of the states. With `pair_dt` every snapshot at `t` is followed
        by the state at `t + pair_dt` (one ETDRK4 step of that size; `2 n_snapshots` rows):
        the pairs `(h(t), h(t + pair_dt))` the OnsagerNet authors train on.
        """
        out = None if points is None else self._synthesis(*points)
        steps = jnp.asarray(steps_per_snapshot)
        partner = None
        if pair_dt is not None:
            partner = RBC(self.r, self.pr, self.aspect, self.nx, self.nz, pair_dt)._arrays
        return _evolve(self._arrays, jnp.asarray(s), int(n_snapshots), steps, out, partner)

    def _synthesis(self, x: np.ndarray | None, z: np.ndarray | None) -> dict:
        return {k: jnp.asarray(v) for k, v in self.basis.synthesis(x, z).items()}

    def fields(
        self, s: State, x: np.ndarray | None = None, z: np.ndarray | None = None
    ) -> Float[Array, "*batch 3 px pz"]:
        """Velocity and temperature `(u, w, theta)` at the points `x` x `z` (default: grid)."""
        return _fields(self._arrays, s, self._synthesis(x, z))

    def random_state(
        self, key: PRNGKeyArray, amplitude: float = 0.1, modes: tuple[int, int] = (6, 3)
    ) -> State:
        """Conduction plus a random temperature perturbation in the `modes` lowest modes."""
        noise = amplitude * jax.random.normal(key, modes)
        th = jnp.zeros((self.nx, self.nz)).at[: modes[0], : modes[1]].set(noise) * self.mask
        return jnp.stack([jnp.zeros_like(th), th])

    def _mean(self, f: Array, g: Array, parity: str) -> Array:
        w = jnp.asarray(self.basis.mean_weights(parity))
        return jnp.sum(w * f * g, axis=(-2, -1))

    def heat_flux(self, s: State) -> Array:
        """Convective heat flux `<w theta>`; the Nusselt number is `1 + <w theta>`."""
        return self._mean(self.kx * s[..., 0, :, :] / self.k2, s[..., 1, :, :], "cos")

    def thermal_dissipation(self, s: State) -> Array:
        """`<|grad theta|^2>`; its time mean also equals `Nu - 1`."""
        return self._mean(self.k2 * s[..., 1, :, :], s[..., 1, :, :], "cos")

    def thermal_variance(self, s: State) -> Array:
        """`<theta^2> / 2`, with `d/dt = <w theta> - <|grad theta|^2>`."""
        return 0.5 * self._mean(s[..., 1, :, :], s[..., 1, :, :], "cos")

    def kinetic_energy(self, s: State) -> Array:
        """`<|u|^2> / 2`, with `d/dt = Pr Ra <w theta> - Pr <omega^2>`."""
        om = s[..., 0, :, :]
        return 0.5 * self._mean(om / self.k2, om, "sin")

    def enstrophy(self, s: State) -> Array:
        """`<omega^2>` (equal to `<|grad u|^2>` for free-slip walls)."""
        return self._mean(s[..., 0, :, :], s[..., 0, :, :], "sin")


def simulate(
    rbc: RBC,
    key: PRNGKeyArray,
    n_traj: int,
    t_end: float,
    n_snapshots: int,
    *,
    amplitude: float = 0.1,
    out_shape: tuple[int, int] | None = None,
    batch_size: int = 50,
    s0: State | None = None,
    pair_dt: float | None = None,
) -> Trajectories:
    """Trajectories from random perturbations of conduction (or from the states `s0`, shape
    `(n_traj, 2, nx, nz)`), stepped `batch_size` at a time.

    Snapshots at `n_snapshots` equally spaced times in `[0, t_end]` (diffusion units; the
    time between snapshots is rounded to a whole number of steps) hold `(u, w, theta)` on an
    `out_shape = (px, pz)` midpoint grid (default: half the modes in each direction, the
    paper's x2 downsampling), flattened to `dim = 3 px pz`. The physical parameters are in
    `attrs`. With `pair_dt` (smaller than the snapshot interval) each snapshot at `t` is
    followed by one at `t + pair_dt` (`RBC.evolve`): times `t_0, t_0 + pair_dt, t_1, ...`,
    `attrs["pair_dt"]` set; `partners` splits them.
    """
    if n_traj < 1 or n_snapshots < 2:
        raise ValueError(f"need n_traj >= 1 and n_snapshots >= 2, got {n_traj}, {n_snapshots}")
    px, pz = out_shape or (rbc.nx // 2, rbc.nz // 2)
    points = (midpoints(px, rbc.aspect), midpoints(pz))
    steps = max(1, round(t_end / (n_snapshots - 1) / rbc.dt))
    if s0 is None:
        s0 = jax.vmap(lambda k: rbc.random_state(k, amplitude))(jax.random.split(key, n_traj))
    elif s0.shape != (n_traj, 2, rbc.nx, rbc.nz):
        raise ValueError(f"s0 must have shape {(n_traj, 2, rbc.nx, rbc.nz)}, got {s0.shape}")
    if pair_dt is not None and not 0 < pair_dt < steps * rbc.dt:
        raise ValueError(f"pair_dt must lie in (0, {steps * rbc.dt:.3g}), got {pair_dt}")
    chunks = [
        np.asarray(rbc.evolve(s0[i : i + batch_size], n_snapshots, steps, points, pair_dt))
        for i in range(0, n_traj, batch_size)
    ]
    fields = np.moveaxis(np.concatenate(chunks, axis=1), 0, 1).reshape(n_traj, -1, px * pz * 3)
    ts = np.arange(n_snapshots) * steps * rbc.dt
    if pair_dt is not None:
        ts = np.stack([ts, ts + pair_dt], axis=1).reshape(-1)
    attrs = {
        "Ra": rbc.ra,
        "r": rbc.r,
        "Pr": rbc.pr,
        "aspect": rbc.aspect,
        "modes_x": rbc.nx,
        "modes_z": rbc.nz,
        "dt": rbc.dt,
        "grid_x": px,
        "grid_z": pz,
        "fields": "u,w,theta",
        "time_unit": "thermal diffusion time d^2/kappa",
        "boundaries": "free-slip, conducting top/bottom; free-slip, insulating sides",
    } | ({} if pair_dt is None else {"pair_dt": float(pair_dt)})
    return Trajectories(ts, fields, attrs=attrs)


def partners(data: Trajectories) -> tuple[Trajectories, Trajectories]:
    """`simulate(..., pair_dt=...)`'s output split into the snapshots and, on the same time
    grid, their partners `pair_dt` later (each `x` of shape `(n_traj, n_snapshots, dim)`)."""
    if data.x.shape[1] % 2:
        raise ValueError("partners needs interleaved (snapshot, partner) rows: an even count")
    return (Trajectories(data.t[::2], data.x[:, ::2], attrs=data.attrs),
            Trajectories(data.t[::2], data.x[:, 1::2], attrs=data.attrs))  # fmt: skip

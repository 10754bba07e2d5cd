"""The free-slip Boussinesq simulator against linear theory, energy budgets and symmetry."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dynml.core.data import Trajectories
from dynml.core.plot import loglog_slope
from dynml.systems.rbc import (
    K_CRITICAL,
    RA_CRITICAL,
    RBC,
    critical_rayleigh,
    growth_rate,
    midpoints,
    partners,
    simulate,
)

ASPECT = 2 * np.sqrt(2.0)  # mode m = 2 has the critical wavenumber pi / sqrt 2


def test_critical_rayleigh_number_and_wavenumber():
    k = np.linspace(0.5, 6.0, 200_001)
    ra = critical_rayleigh(k)
    np.testing.assert_allclose(ra.min(), 27 * np.pi**4 / 4, rtol=1e-9)
    np.testing.assert_allclose(k[np.argmin(ra)], np.pi / np.sqrt(2), atol=1e-4)
    np.testing.assert_allclose(growth_rate(K_CRITICAL, RA_CRITICAL, pr=7.0), 0.0, atol=1e-9)


def _measured_growth_rate(rbc: RBC, m: int, t_wait: float = 0.1) -> float:
    """Growth rate of a tiny temperature perturbation in mode `(m, n=0)` under the full stepper,
    between `t_wait` (the decaying eigenmode is gone) and `2 t_wait`."""
    s0 = jnp.zeros((2, rbc.nx, rbc.nz)).at[1, m, 0].set(1e-8)
    steps = round(t_wait / rbc.dt)
    states = rbc.evolve(s0, 3, steps)
    a1, a2 = (float(jnp.abs(states[i, 1, m, 0])) for i in (1, 2))
    return np.log(a2 / a1) / (steps * rbc.dt)


@pytest.mark.parametrize(("r", "m"), [(0.95, 2), (1.05, 2), (5.0, 1), (5.0, 2), (5.0, 3)])
def test_linear_growth_rates_match_the_analytic_ones(r, m):
    with jax.enable_x64(True):
        rbc = RBC(r=r, pr=10.0, aspect=ASPECT, nx=12, nz=8, dt=1e-3)
        measured = _measured_growth_rate(rbc, m)
    expected = growth_rate(m * np.pi / ASPECT, r * RA_CRITICAL, 10.0)
    np.testing.assert_allclose(measured, expected, rtol=1e-5, atol=1e-6)


def test_onset_of_convection_at_the_critical_rayleigh_number():
    """Below Ra_c every mode decays; just above, the critical mode (and only it) grows."""
    rates = {}
    with jax.enable_x64(True):
        for r in (0.98, 1.02):
            rbc = RBC(r=r, pr=1.0, aspect=ASPECT, nx=12, nz=8, dt=1e-3)
            rates[r] = [_measured_growth_rate(rbc, m, t_wait=0.4) for m in range(1, 5)]
    assert max(rates[0.98]) < 0
    assert rates[1.02][1] > 0 and max(rates[1.02][:1] + rates[1.02][2:]) < 0


def _random_state(rbc, seed, amplitude):
    rng = np.random.default_rng(seed)
    s = rng.normal(size=(2, rbc.nx, rbc.nz)) * np.asarray(rbc.mask)
    s[0] *= 30 * amplitude
    s[0, 0] = 0.0  # no sin(0 x) vorticity mode
    s[1] *= amplitude
    return jnp.asarray(s)


def test_energy_budgets_hold_for_the_discrete_equations():
    """d/dt <theta^2>/2 = <w theta> - <|grad theta|^2>, d/dt <|u|^2>/2 = Pr Ra <w theta> - Pr <omega^2>."""
    with jax.enable_x64(True):
        rbc = RBC(r=20.0, pr=7.0, aspect=ASPECT, nx=16, nz=12)
        s = _random_state(rbc, 0, 1.0)
        ds = rbc.rhs(s)
        d_thermal = jax.jvp(rbc.thermal_variance, (s,), (ds,))[1]
        d_kinetic = jax.jvp(rbc.kinetic_energy, (s,), (ds,))[1]
        flux = rbc.heat_flux(s)
        np.testing.assert_allclose(d_thermal, flux - rbc.thermal_dissipation(s), rtol=1e-10)
        expected = rbc.pr * rbc.ra * flux - rbc.pr * rbc.enstrophy(s)
        np.testing.assert_allclose(d_kinetic, expected, rtol=1e-10)


def test_steady_nusselt_number_from_flux_dissipation_and_weakly_nonlinear_theory():
    """Steady rolls: Nu = 1 + <w theta> = 1 + <|grad theta|^2>, <omega^2> = Ra <w theta>;
    near onset Nu - 1 ~ 2 (r - 1) / r (Malkus & Veronis 1958; Lorenz's C+- fixed point)."""
    r = 1.2
    with jax.enable_x64(True):
        rbc = RBC(r=r, pr=10.0, aspect=ASPECT, nx=12, nz=8, dt=5e-3)
        s0 = jnp.zeros((2, rbc.nx, rbc.nz)).at[1, 2, 0].set(0.01)
        s = rbc.evolve(s0, 2, 8000)[-1]
        flux = float(rbc.heat_flux(s))
        np.testing.assert_allclose(flux, rbc.thermal_dissipation(s), rtol=1e-6)
        np.testing.assert_allclose(rbc.enstrophy(s), rbc.ra * flux, rtol=1e-6)
    np.testing.assert_allclose(flux, 2 * (r - 1) / r, rtol=0.1)


def test_etdrk4_converges_at_fourth_order():
    with jax.enable_x64(True):
        t_end, dts = 0.02, [0.02 / n for n in (4, 8, 16)]
        s0 = _random_state(RBC(r=10.0, nx=12, nz=8), 1, 0.3)

        def final(dt):
            rbc = RBC(r=10.0, pr=10.0, aspect=ASPECT, nx=12, nz=8, dt=dt)
            return rbc.evolve(s0, 2, round(t_end / dt))[-1]

        ref = final(t_end / 64)
        errors = [float(jnp.linalg.norm(final(dt) - ref)) for dt in dts]
    assert loglog_slope(dts, errors) > 3.7


def test_mirror_symmetry_is_preserved():
    """x -> L - x (u -> -u) multiplies every coefficient by (-1)^m and commutes with a step."""
    rbc = RBC(r=28.0, nx=12, nz=8, dt=1e-3)
    sign = jnp.asarray((-1.0) ** np.arange(rbc.nx))[:, None]
    s = _random_state(rbc, 2, 1.0)
    np.testing.assert_allclose(rbc.step(sign * s), sign * rbc.step(s), rtol=1e-4, atol=1e-4)


def test_simulate_returns_trajectories_with_physical_parameters(tmp_path):
    rbc = RBC(r=28.0, nx=12, nz=8, dt=1e-3)
    data = simulate(rbc, jax.random.PRNGKey(0), 3, 0.02, 5, out_shape=(6, 4), batch_size=2)
    assert data.x.shape == (3, 5, 3 * 6 * 4)
    states = rbc.evolve(rbc.random_state(jax.random.PRNGKey(1)), 5, 5)
    x, z = np.linspace(0.1, 2.0, 6), np.linspace(0.05, 0.95, 4)
    np.testing.assert_allclose(
        rbc.evolve(states[0], 5, 5, (x, z)), rbc.fields(states, x, z), rtol=1e-5, atol=1e-5
    )
    np.testing.assert_allclose(np.diff(data.t), 0.005, rtol=1e-6)
    back = Trajectories.load(data.save(tmp_path / "rbc.h5"))
    np.testing.assert_allclose(back.x, data.x)
    assert back.attrs["Pr"] == 10.0 and back.attrs["r"] == pytest.approx(28.0)
    with pytest.raises(ValueError, match="r > 0"):
        RBC(r=-1.0)


def test_simulate_pairs_each_snapshot_with_its_partner_pair_dt_later():
    rbc, pair_dt = RBC(r=28.0, nx=12, nz=8, dt=1e-3), 1e-5
    s0 = jax.vmap(lambda k: rbc.random_state(k, 0.3))(jax.random.split(jax.random.PRNGKey(0), 2))
    data = simulate(rbc, jax.random.PRNGKey(0), 2, 0.02, 3, out_shape=(6, 4), s0=s0,
                    pair_dt=pair_dt)  # fmt: skip
    np.testing.assert_allclose(data.t, [0, pair_dt, 0.01, 0.01 + pair_dt, 0.02, 0.02 + pair_dt],
                               atol=1e-12)  # fmt: skip
    snaps, later = partners(data)
    plain = simulate(rbc, jax.random.PRNGKey(0), 2, 0.02, 3, out_shape=(6, 4), s0=s0)
    np.testing.assert_allclose(snaps.x, plain.x, rtol=1e-6, atol=1e-6)  # snapshots unchanged
    # the partner's difference quotient is the fields' time derivative, fields(rhs(s)):
    # (u, w, theta) are linear in the state, and the step error is O(pair_dt)
    x, z = midpoints(6, rbc.aspect), midpoints(4)
    rate = np.asarray(rbc.fields(rbc.rhs(s0), x, z)).reshape(2, -1)
    quotient = (later.x[:, 0] - snaps.x[:, 0]) / pair_dt
    assert np.linalg.norm(quotient - rate) < 1e-2 * np.linalg.norm(rate)
    with pytest.raises(ValueError, match="pair_dt"):
        simulate(rbc, jax.random.PRNGKey(0), 2, 0.02, 3, out_shape=(6, 4), pair_dt=0.02)

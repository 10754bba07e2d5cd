"""The damped Langevin systems lose energy: `dE/dt = -gamma(x, v) v^2 <= 0`."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dynml.systems.langevin import POTENTIALS, energy, friction, langevin, simulate


@pytest.mark.parametrize(
    ("potential", "damping"),
    [("hookean", "constant"), ("pendulum", "nonlinear"), ("double_well", "nonlinear")],
)
def test_energy_decays_along_true_trajectories(potential, damping):
    y0 = np.random.default_rng(0).uniform(-1, 1, size=(8, 2))
    tr = simulate(y0, np.linspace(0, 5, 201), potential, damping)
    e = np.asarray(energy(tr.x, potential))
    assert np.all(np.diff(e, axis=1) <= 1e-6)
    assert np.all(e[:, -1] < e[:, 0])


@pytest.mark.parametrize("potential", sorted(POTENTIALS))
def test_energy_rate_equals_minus_friction_times_v_squared(potential):
    args = (potential, "nonlinear", 4.0, 3.0)
    for y in jax.random.normal(jax.random.PRNGKey(0), (5, 2)):
        rate = jax.grad(lambda z: energy(z, potential))(y) @ langevin(0.0, y, args)
        np.testing.assert_allclose(
            rate, -friction(y, "nonlinear", 3.0) * y[1] ** 2, rtol=1e-5, atol=1e-6
        )


def test_pendulum_curvature_at_the_bottom_is_kappa():
    assert abs(float(jax.grad(jax.grad(POTENTIALS["pendulum"]))(0.0)) - 4.0) < 1e-5
    with pytest.raises(ValueError, match="potential"):
        simulate(jnp.zeros((1, 2)), jnp.linspace(0, 1, 3), potential="quartic")


def test_energy_alignment_undoes_scaling_and_shift():
    """A learned energy `3 E + 1` aligns back to `E` exactly (the Hessians fix the scale)."""
    from dynml.identify import aligned_energy_error

    xs = np.linspace(-1, 1, 11)
    grid = np.array([[x, v] for v in xs for x in xs], np.float32)

    def exact(y):
        return energy(y, "pendulum")

    error, aligned = aligned_energy_error(lambda y: 3.0 * exact(y) + 1.0, exact, grid)
    assert error < 1e-5
    np.testing.assert_allclose(
        aligned(jnp.array([0.5, 0.2])), exact(jnp.array([0.5, 0.2])), rtol=1e-5
    )


def test_onsager_sde_keeps_the_gibbs_density():
    """`dX = -(M + W) grad V dt + sqrt(2 eps M) dW` leaves `exp(-V / eps)` invariant: started in
    the wells, `E[y^2] = eps` (V has `y^2 / 2`), `E|x|` is the Gibbs value, and the drift is
    `-(M + W) grad V` exactly."""
    from dynml.systems.langevin import TILTED_W, onsager_drift, simulate_onsager_sde

    h = jnp.array([0.7, -0.3])
    grad = jnp.array([h[0] ** 3 - h[0], h[1]])
    np.testing.assert_allclose(onsager_drift(h), -(np.eye(2) + TILTED_W) @ grad, rtol=1e-6)
    rng = np.random.default_rng(0)
    y0 = np.stack([rng.choice([-1.0, 1.0], 2000), np.sqrt(0.1) * rng.normal(size=2000)], 1)
    tr = simulate_onsager_sde(y0, np.array([0.0, 3.0]), jax.random.PRNGKey(0), eps=0.1)
    y_end = tr.x[:, -1]
    np.testing.assert_allclose(np.mean(y_end[:, 1] ** 2), 0.1, rtol=0.1)
    x = np.linspace(-4, 4, 40001)
    gibbs = np.exp(-((x**2 - 1) ** 2) / (4 * 0.1))  # the x-marginal of exp(-V / eps)
    mean_abs_x = np.sum(np.abs(x) * gibbs) / np.sum(gibbs)  # 0.889; sd of |x| 0.29
    assert abs(np.mean(np.abs(y_end[:, 0])) - mean_abs_x) < 0.03

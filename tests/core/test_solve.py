"""Solvers: measured convergence orders on a linear ODE, adaptive tolerance, one-step maps."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.linalg import expm

from dynml.core.plot import loglog_slope
from dynml.core.solve import one_step, solve

A = np.array([[-0.5, 2.0], [-2.0, -0.3]])
Y0 = np.array([1.0, 0.5])
T = 2.0


def _linear(t, y, args):
    return jnp.asarray(A) @ y


def _error(solver: str, dt: float) -> float:
    ys = solve(_linear, jnp.asarray(Y0), jnp.array([0.0, T]), solver=solver, dt=dt)
    return float(np.linalg.norm(np.asarray(ys[-1]) - expm(A * T) @ Y0))


@pytest.mark.parametrize("solver, order", [("euler", 1), ("heun", 2), ("midpoint", 2), ("rk4", 4)])
def test_fixed_step_convergence_order(solver, order):
    dts = [T / n for n in (40, 80, 160, 320)]
    with jax.enable_x64(True):
        errors = [_error(solver, dt) for dt in dts]
    assert abs(loglog_slope(dts, errors) - order) < 0.2


@pytest.mark.parametrize("solver", ["tsit5", "dopri5", "heun"])
def test_adaptive_solver_meets_tolerance(solver):
    with jax.enable_x64(True):
        ys = solve(
            _linear, jnp.asarray(Y0), jnp.linspace(0, T, 5), solver=solver, rtol=1e-8, atol=1e-10
        )
        exact = np.stack([expm(A * t) @ Y0 for t in np.linspace(0, T, 5)])
        assert np.max(np.abs(np.asarray(ys) - exact)) < 1e-6


def test_batched_solve_equals_one_by_one():
    y0 = jnp.array([[1.0, 0.0], [0.0, 1.0], [2.0, -1.0]])
    ts = jnp.linspace(0, 1, 4)
    batched = solve(_linear, y0, ts, solver="rk4", dt=0.01, batch=True)
    single = jnp.stack([solve(_linear, y, ts, solver="rk4", dt=0.01) for y in y0])
    assert batched.shape == (3, 4, 2)
    np.testing.assert_allclose(batched, single, rtol=1e-5, atol=1e-6)


def test_gradient_through_solve_matches_analytic():
    # d/da of y(T) for y' = a y, y(0) = 1 is T exp(aT)
    def final(a):
        return solve(
            lambda t, y, args: a * y, jnp.ones(1), jnp.array([0.0, 1.0]), solver="rk4", dt=0.01
        )[-1, 0]

    with jax.enable_x64(True):
        g = jax.grad(final)(0.7)
    assert abs(float(g) - np.exp(0.7)) < 1e-6


@pytest.mark.parametrize("method, order", [("euler", 1), ("heun", 2), ("rk4", 4)])
def test_one_step_local_error_order(method, order):
    # local error of a one-step map is O(dt^(order + 1))
    f = lambda y: jnp.asarray(A) @ y
    step = one_step(method)
    dts = [0.1, 0.05, 0.025]
    with jax.enable_x64(True):
        errs = [
            float(np.linalg.norm(np.asarray(step(f, jnp.asarray(Y0), dt)) - expm(A * dt) @ Y0))
            for dt in dts
        ]
    assert abs(loglog_slope(dts, errs) - (order + 1)) < 0.2


def test_bad_solver_names_are_refused():
    with pytest.raises(ValueError, match="unknown solver"):
        solve(_linear, jnp.asarray(Y0), jnp.array([0.0, 1.0]), solver="rk45")
    with pytest.raises(ValueError, match="give a fixed step"):
        solve(_linear, jnp.asarray(Y0), jnp.array([0.0, 1.0]), solver="rk4")
    with pytest.raises(ValueError, match="unknown one-step"):
        one_step("leapfrog")

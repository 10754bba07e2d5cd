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


# --- the fixed-step scan path, field conventions, compile reuse, diffrax objects -----------

from dynml.core.compile import CompileStats  # noqa: E402
from dynml.core.field import AbstractVectorField  # noqa: E402
from dynml.core.solve import RK4  # noqa: E402


@pytest.mark.parametrize("name, obj", [("euler", "Euler"), ("midpoint", "Midpoint"), ("rk4", None)])
def test_scan_path_agrees_with_diffrax(name, obj):
    import diffrax

    ts = np.linspace(0.0, T, 9)
    with jax.enable_x64(True):
        scan = solve(_linear, jnp.asarray(Y0), ts, solver=name, dt=T / 64)
        ref = solve(
            _linear,
            jnp.asarray(Y0),
            ts,
            solver=RK4() if obj is None else getattr(diffrax, obj)(),
            dt=T / 64,
        )
    np.testing.assert_allclose(np.asarray(scan), np.asarray(ref), rtol=0, atol=1e-12)


def test_scan_path_steps_onto_irregular_save_times():
    ts = np.array([0.0, 0.3, 0.35, 1.0, 2.0])
    with jax.enable_x64(True):
        ys = solve(_linear, jnp.asarray(Y0), ts, solver="rk4", dt=0.01)
    exact = np.stack([expm(A * t) @ Y0 for t in ts])
    np.testing.assert_allclose(np.asarray(ys), exact, atol=1e-8)


class Spiral(AbstractVectorField):
    a: jax.Array

    def __call__(self, h):
        return self.a @ h

    def energy(self, h):
        return 0.5 * jnp.sum(h**2)


def test_every_field_convention_gives_the_same_solution():
    a = jnp.asarray(A, jnp.float32)
    y0, ts = jnp.asarray(Y0, jnp.float32), jnp.linspace(0.0, 1.0, 5)
    fields = [Spiral(a), lambda y: a @ y, lambda t, y: a @ y, lambda t, y, args: args @ y]
    outs = [solve(f, y0, ts, args=a, solver="rk4", dt=0.05) for f in fields]
    for out in outs[1:]:
        np.testing.assert_allclose(out, outs[0], rtol=1e-6)
    assert Spiral(a).has_energy


def test_bad_fields_are_refused_with_a_clear_message():
    with pytest.raises(TypeError, match=r"\(y\), \(t, y\) or \(t, y, args\)"):
        solve(lambda a, b, c, d: a, jnp.ones(2), jnp.array([0.0, 1.0]), solver="rk4", dt=0.1)
    with pytest.raises(TypeError, match="callable"):
        solve(3.0, jnp.ones(2), jnp.array([0.0, 1.0]), solver="rk4", dt=0.1)


def test_solve_compiles_once_for_repeated_calls_and_new_parameters():
    y0, ts = jnp.ones((4, 2)), np.linspace(0.0, 1.0, 3)
    solve(Spiral(jnp.eye(2)), y0, ts, solver="rk4", dt=0.1, batch=True)
    with CompileStats() as stats:
        for scale in (0.5, -1.0, 2.0):  # same structure, new parameter values
            solve(Spiral(scale * jnp.eye(2)), y0, ts, solver="rk4", dt=0.1, batch=True)
    assert not [n for n in stats.names if "solve" in n], stats.names


def test_implicit_diffrax_solver_handles_a_stiff_problem():
    import diffrax

    # y' = -1000 (y - cos t) - sin t has the solution y = cos t (from y(0) = 1).
    stiff = lambda t, y, args: -1000.0 * (y - jnp.cos(t)) - jnp.sin(t)
    ts = np.linspace(0.0, 2.0, 5)
    with jax.enable_x64(True):
        ys = solve(
            stiff, jnp.ones(1), ts, solver=diffrax.Kvaerno5(), rtol=1e-8, atol=1e-8, max_steps=400
        )
        np.testing.assert_allclose(np.asarray(ys)[:, 0], np.cos(ts), atol=1e-6)
        with pytest.raises(RuntimeError):  # explicit Tsit5 needs > 400 steps at this stiffness
            solve(stiff, jnp.ones(1), ts, solver="tsit5", rtol=1e-8, atol=1e-8, max_steps=400)


def test_saveat_gives_a_dense_solution():
    import diffrax

    with jax.enable_x64(True):
        sol = solve(
            _linear,
            jnp.asarray(Y0),
            np.array([0.0, T]),
            rtol=1e-10,
            atol=1e-12,
            saveat=diffrax.SaveAt(dense=True),
        )
        np.testing.assert_allclose(np.asarray(sol.evaluate(0.7)), expm(A * 0.7) @ Y0, atol=1e-7)

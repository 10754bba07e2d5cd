"""Grid references: boundary values, a closed-form 1-D committor, refinement, exact quasipotential."""

import functools

import jax.numpy as jnp
import numpy as np
import pytest
from scipy.integrate import quad

from dynml.rare import grid_committor, grid_quasipotential
from dynml.systems import mueller as M
from dynml.systems.quasipotential_fields import linear_field, linear_quasipotential

IN_A = functools.partial(M.in_disc, center=M.CENTER_A)
IN_B = functools.partial(M.in_disc, center=M.CENTER_B)


@functools.cache
def _mueller(n):
    return grid_committor(M.mueller, IN_A, IN_B, beta=1 / M.KT, domain=M.DOMAIN, n=n)


def test_committor_is_zero_on_a_and_one_on_b():
    ref = _mueller(101)
    assert np.all(ref.q[ref.in_a] == 0.0) and np.all(ref.q[ref.in_b] == 1.0)
    assert ref.q.min() >= -1e-12 and ref.q.max() <= 1 + 1e-12  # maximum principle


def test_mueller_rate_converges_under_refinement():
    rates = [_mueller(n).rate for n in (51, 101, 201)]
    assert abs(rates[2] - rates[1]) < 0.5 * abs(rates[1] - rates[0])
    pts = np.random.default_rng(0).uniform([-1.5, -0.5], [1.0, 2.0], size=(2000, 2))
    d1 = np.abs(_mueller(51)(pts) - _mueller(101)(pts)).max()
    d2 = np.abs(_mueller(101)(pts) - _mueller(201)(pts)).max()
    assert d2 < 0.6 * d1


def _double_well(x, beta=2.0):
    return 2.0 * (x[..., 0] ** 2 - 1) ** 2 + x[..., 1] ** 2


def test_one_dimensional_double_well_matches_closed_form():
    """`q(x) = ∫_{-1}^{x} e^{βV} / ∫_{-1}^{1} e^{βV}` when V depends on x only through a 1-D well."""
    beta = 2.0
    v1 = lambda s: 2.0 * (s**2 - 1) ** 2
    total = quad(lambda s: np.exp(beta * v1(s)), -1, 1)[0]
    errors = []
    for n in (41, 81):
        ref = grid_committor(
            _double_well,
            lambda x: x[..., 0] <= -1,
            lambda x: x[..., 0] >= 1,
            beta=beta,
            domain=((-1.5, 1.5), (-1.0, 1.0)),
            n=n,
        )
        inside = (ref.xs > -1) & (ref.xs < 1)
        exact = np.array(
            [quad(lambda s: np.exp(beta * v1(s)), -1, x)[0] / total for x in ref.xs[inside]]
        )
        assert np.allclose(ref.q[:, inside], ref.q[:1, inside])  # no y dependence
        errors.append(np.abs(ref.q[0, inside] - exact).max())
    assert errors[1] < 2e-3
    assert errors[1] < 0.35 * errors[0]  # second order: ratio about 1/4


def test_linear_quasipotential_recovered_and_converges():
    errors = []
    for n in (51, 101):
        ref = grid_quasipotential(linear_field, [(0.0, 0.0)], domain=((-1, 1), (-1, 1)), n=n)
        gx, gy = np.meshgrid(ref.xs, ref.ys)
        exact = np.asarray(linear_quasipotential(jnp.stack([gx, gy], -1)))
        region = exact <= 1.0  # the level sets there stay inside the box
        errors.append(np.linalg.norm((ref.u - exact)[region]) / np.linalg.norm(exact[region]))
    assert errors[1] < 0.06
    assert errors[1] < 0.75 * errors[0]


def test_bad_grid_is_refused():
    with pytest.raises(ValueError, match="grid size"):
        grid_committor(M.mueller, IN_A, IN_B, beta=0.1, domain=M.DOMAIN, n=2)
    with pytest.raises(ValueError, match="beta"):
        grid_committor(M.mueller, IN_A, IN_B, beta=-1.0, domain=M.DOMAIN, n=11)


def test_maier_stein_gradient_case_matches_its_potential():
    """At β = 1 the Maier–Stein field is −∇V with V = −x²/2 + x⁴/4 + y²/2 + x²y²/2, so the
    quasipotential from (±1, 0) is exactly 2(V − V(±1, 0)) (saddle value 0.5). At β = 10 the
    minimum-action path leaves the x-axis, so U at the saddle falls below the on-axis 0.5."""
    from dynml.systems.maier_stein import maier_stein

    box = ((-1.5, 1.5), (-1.0, 1.0))
    wells = ((-1.0, 0.0), (1.0, 0.0))
    ref = grid_quasipotential(lambda p: maier_stein(p, beta=1.0), wells, domain=box, n=121)
    x, y = np.meshgrid(ref.xs, ref.ys)
    exact = 2 * (-(x**2) / 2 + x**4 / 4 + y**2 / 2 + x**2 * y**2 / 2 + 0.25)
    assert np.linalg.norm(ref.u - exact) / np.linalg.norm(exact) < 0.02
    assert abs(float(np.ravel(ref(np.zeros((1, 2))))[0]) - 0.5) < 0.01
    non_gradient = grid_quasipotential(maier_stein, wells, domain=box, n=121)
    assert float(np.ravel(non_gradient(np.zeros((1, 2))))[0]) < 0.45

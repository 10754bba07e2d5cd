"""Fixed points, limit cycles, boundedness and histogram distance on fields with known answers."""

import jax.numpy as jnp
import numpy as np
import pytest

from dynml.identify import (
    bounded_fraction,
    find_fixed_points,
    find_limit_cycle,
    histogram_distance,
    match_fixed_points,
    path_relative_error,
)
from dynml.systems.lorenz import fixed_points, lorenz63


@pytest.mark.parametrize(("r", "unstable"), [(28.0, [1, 2, 2]), (16.0, [1, 0, 0])])
def test_fixed_point_finder_finds_lorenz_fixed_points(r, unstable):
    starts = np.random.default_rng(0).uniform([-25, -25, -5], [25, 25, 30], size=(200, 3))
    found = find_fixed_points(lambda h: lorenz63(0.0, h, (10.0, r, 8 / 3)), starts)
    exact = fixed_points(r=r)
    assert len(found.points) == 3
    assert np.all(match_fixed_points(found, exact) < 1e-3)
    order = [int(np.argmin(np.linalg.norm(found.points - e, axis=1))) for e in exact]
    assert found.n_unstable[order].tolist() == unstable


def _hopf(h):
    x, y = h
    r2 = x * x + y * y
    return jnp.stack([x - y - x * r2, x + y - y * r2])


def test_shooting_finds_the_hopf_limit_cycle():
    """`r' = r - r^3`, `theta' = 1`: the unit circle, period 2 pi, multipliers 1, exp(-4 pi)."""
    cycle = find_limit_cycle(_hopf, jnp.array([1.3, 0.2]), 5.0)
    assert cycle.converged
    assert abs(cycle.period - 2 * np.pi) < 1e-3
    assert abs(np.linalg.norm(cycle.point) - 1) < 1e-3
    mult = np.sort(np.abs(cycle.multipliers))
    np.testing.assert_allclose(mult, [np.exp(-4 * np.pi), 1.0], atol=1e-3)


def test_histogram_distance_and_bounded_fraction():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(20_000, 2))
    assert histogram_distance(a, a) == 0.0
    assert histogram_distance(a + 100, a) == 1.0
    assert histogram_distance(rng.normal(size=(20_000, 2)), a) < 0.05
    hs = np.zeros((4, 3, 2))
    hs[1, 2] = np.inf
    hs[2, 1] = 50.0
    assert bounded_fraction(hs, 10.0) == 0.5


def test_exact_lorenz_field_matches_its_own_fixed_points():
    """The true field: relative error 0, C± with one unstable pair... same stability."""
    from dynml.identify import compare_fixed_points
    from dynml.systems.lorenz import Lorenz63, fixed_points

    exact = fixed_points(r=28.0)
    starts = np.random.default_rng(0).uniform([-25, -25, -5], [25, 25, 30], (100, 3))
    match = compare_fixed_points(
        Lorenz63(r=28.0), Lorenz63(r=28.0), exact, starts, scale=np.linalg.norm(exact[1])
    )
    assert match.relative_error < 1e-3
    assert np.all(match.same_stability)
    wrong = compare_fixed_points(
        Lorenz63(r=28.0), Lorenz63(r=0.5), exact, starts, scale=np.linalg.norm(exact[1])
    )
    assert not np.all(wrong.same_stability)


def test_relative_l2_error_and_potential_minima():
    from dynml.identify import potential_minima, relative_l2_error
    from dynml.systems.langevin import double_well_2d

    pts = np.random.default_rng(0).normal(size=(100, 2))
    err = relative_l2_error(lambda h: 1.1 * h, lambda h: h, pts)
    np.testing.assert_allclose(err, 0.1, rtol=1e-5)
    starts = np.random.default_rng(1).uniform([-2, -1], [2, 1], (50, 2))
    minima = potential_minima(double_well_2d, starts)
    order = np.argsort(minima[:, 0])
    np.testing.assert_allclose(minima[order], [[-1.0, 0.0], [1.0, 0.0]], atol=1e-4)


def test_stable_point_gap_measures_distance_to_the_nearest_stable_point():
    from dynml.identify.analysis import FixedPoints, stable_point_gap

    points = np.array([[0.0, 0.0], [4.0, 0.0], [0.0, 4.0]])
    eig = np.array([[-1.0, -1.0], [1.0, -1.0], [-1.0, -2.0]])  # the point (4, 0) is unstable
    found = FixedPoints(points, eig)
    states = np.array([[3.0, 0.0], [0.0, 3.0]])
    # nearest stable: (0, 0) at 3 and (0, 4) at 1; mean 2 over the mean norm 3
    np.testing.assert_allclose(stable_point_gap(found, states), 2.0 / 3.0)
    assert stable_point_gap(FixedPoints(points[1:2], eig[1:2]), states) == float("inf")
    assert [r["n_unstable"] for r in found.rows()] == [0, 1, 0]


def test_path_relative_error_is_the_rms_of_per_path_relative_errors():
    """Rollouts `(1 + e_k) h*_k` have per-path relative error `|e_k|`; the result is their RMS
    (`sqrt(mean e^2)`, not the mean), and a blown-up rollout makes it inf."""
    truth = np.random.default_rng(0).normal(size=(3, 50, 2))
    e = np.array([0.1, -0.2, 0.4])
    hs = truth * (1 + e)[:, None, None]
    assert abs(path_relative_error(hs, truth) - np.sqrt(np.mean(e**2))) < 1e-12
    hs[1, 10, 0] = np.nan
    assert path_relative_error(hs, truth) == float("inf")

"""The three-mode Galerkin truncation of the simulator's equations is Lorenz '63."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dynml.systems.lorenz import lorenz63
from dynml.systems.rbc import (
    RBC,
    galerkin_lorenz_field,
    lorenz_coordinates,
    lorenz_coordinates_from_fields,
    lorenz_coordinates_from_snapshots,
    lorenz_parameters,
    lorenz_state,
    midpoints,
)


@pytest.mark.parametrize("aspect", [2 * np.sqrt(2.0), 2.0])
def test_three_mode_truncation_is_lorenz63(aspect):
    with jax.enable_x64(True):
        rbc = RBC(r=28.0, pr=10.0, aspect=aspect, nx=12, nz=8)
        p = lorenz_parameters(rbc)
        xyz = jnp.asarray(np.random.default_rng(0).normal(scale=10.0, size=(5, 3)))
        galerkin = galerkin_lorenz_field(rbc, xyz)
        lorenz = jax.vmap(lambda v: lorenz63(0.0, v, (p["sigma"], p["r"], p["b"])))(xyz)
        np.testing.assert_allclose(galerkin, lorenz, rtol=1e-10, atol=1e-9)
    if aspect == 2 * np.sqrt(2.0):  # the critical wavenumber: Lorenz's standard scaling
        np.testing.assert_allclose([p["r"], p["b"]], [28.0, 8.0 / 3.0], rtol=1e-12)


def test_lorenz_coordinates_round_trip_through_the_fields():
    rbc = RBC(r=10.0, nx=12, nz=8)
    xyz = np.array([[1.5, -2.0, 7.0], [-3.0, 0.5, 2.0]])
    s = lorenz_state(rbc, xyz)
    np.testing.assert_allclose(lorenz_coordinates(rbc, s), xyz, rtol=1e-5)
    b = rbc.basis
    fields = np.asarray(rbc.fields(s))
    np.testing.assert_allclose(
        lorenz_coordinates_from_fields(rbc, fields, b.x, b.z), xyz, rtol=1e-4
    )


def test_lorenz_coordinates_of_flattened_snapshots_on_the_midpoint_grid():
    rbc = RBC(r=10.0, nx=12, nz=8)
    xyz = np.array([[1.5, -2.0, 7.0], [-3.0, 0.5, 2.0]])
    grid = (10, 6)
    fields = np.asarray(rbc.fields(lorenz_state(rbc, xyz), midpoints(10, rbc.aspect), midpoints(6)))
    flat = fields.reshape(2, -1)  # (u, w, theta) field-major, as `simulate` writes them
    np.testing.assert_allclose(lorenz_coordinates_from_snapshots(rbc, flat, grid), xyz, rtol=1e-4)


def test_lorenz63_time_unit_rescales_the_field():
    from dynml.systems.lorenz import Lorenz63

    h = jnp.array([1.0, -2.0, 3.0])
    np.testing.assert_allclose(
        Lorenz63(10.0, 28.0, 8.0 / 3.0, time_unit=0.1)(h), 0.1 * lorenz63(0.0, h), rtol=1e-6
    )

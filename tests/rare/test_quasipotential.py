"""Exact decompositions of the test fields and the learned-quasipotential model."""

import jax
import jax.numpy as jnp
import numpy as np

from dynml.rare import DecomposedField, learned_quasipotential, orthogonality_residual
from dynml.systems.quasipotential_fields import (
    field_3d,
    linear_field,
    linear_quasipotential,
    quasipotential_3d,
)


def _check_decomposition(field, quasipotential, x):
    """`b = −∇V + g` with `V = U/2` must have `∇V · g = 0`, hence `b·∇U + ½|∇U|² = 0`."""
    grad_u = jax.vmap(jax.grad(quasipotential))(x)
    b = jax.vmap(field)(x)
    hj = jnp.sum(b * grad_u, -1) + 0.5 * jnp.sum(grad_u**2, -1)
    assert np.abs(np.asarray(hj)).max() < 1e-4 * (1 + np.abs(np.asarray(grad_u)).max() ** 2)


def test_exact_fields_satisfy_hamilton_jacobi():
    key = jax.random.PRNGKey(0)
    _check_decomposition(
        linear_field, linear_quasipotential, jax.random.uniform(key, (200, 2), minval=-1, maxval=1)
    )
    _check_decomposition(
        field_3d, quasipotential_3d, jax.random.uniform(key, (200, 3), minval=-1.5, maxval=1.5)
    )


def test_model_vanishes_at_reference_point_and_residual_is_a_cosine():
    model = DecomposedField(3, key=jax.random.PRNGKey(0))
    x = jax.random.normal(jax.random.PRNGKey(1), (64, 3))
    star = jnp.array([1.0, 0.0, 0.0])
    assert float(learned_quasipotential(model, star[None], star)[0]) == 0.0
    cos = np.asarray(orthogonality_residual(model, x))
    assert np.all(np.abs(cos) <= 1 + 1e-5)
    b = jax.vmap(model)(x)
    assert np.allclose(b, -jax.vmap(jax.grad(model.potential))(x) + jax.vmap(model.transverse)(x))

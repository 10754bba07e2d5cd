"""Networks and activations: ReQU/ReQUr formulas, shapes, parameter counts."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from dynml.core.nn import MLP, ResMLP, activation, count_params


@given(st.floats(-10, 10))
def test_requr_is_quadratic_then_linear(x):
    y = float(activation("requr")(jnp.asarray(x)))
    expected = 0.0 if x <= 0 else (x**2 if x <= 0.5 else x - 0.25)
    assert y == pytest.approx(expected, rel=1e-5, abs=1e-5)


def test_requr_is_continuously_differentiable_at_the_joint():
    grad = jax.grad(activation("requr"))
    assert float(grad(0.5 - 1e-4)) == pytest.approx(float(grad(0.5 + 1e-4)), abs=1e-3)


def test_mlp_shapes_and_parameter_count():
    m = MLP(3, 2, 16, 2, "requ", key=jax.random.PRNGKey(0))
    assert m(jnp.ones(3)).shape == (2,)
    assert count_params(m) == (3 * 16 + 16) + (16 * 16 + 16) + (16 * 2 + 2)


def test_resmlp_blocks_are_residual():
    m = ResMLP(2, 2, 8, 3, key=jax.random.PRNGKey(1))
    zeroed = jax.tree_util.tree_map(jnp.zeros_like, m.blocks)
    import equinox as eqx

    m0 = eqx.tree_at(lambda mm: mm.blocks, m, zeroed)
    x = jnp.array([0.3, -0.2])
    np.testing.assert_allclose(m0(x), m0.project(m0.lift(x)), rtol=1e-6)


def test_unknown_activation():
    with pytest.raises(ValueError, match="unknown activation"):
        activation("swishy")

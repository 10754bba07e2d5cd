"""Learned quasipotentials: a random stable linear field against its Lyapunov-equation
quasipotential, and the decomposition model's structure."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.linalg import solve_continuous_lyapunov

from dynml.rare import DecomposedField, orthogonality_loss, orthogonality_residual
from dynml.rare.quasipotential import anchor_loss, initial_quadratic_weight
from dynml.rare.quasipotential_fit import QuasipotentialSettings, quasipotential
from dynml.rare.reference import lyapunov_quadratic
from dynml.systems.quasipotential_fields import (
    field_3d,
    linear_field,
    linear_quasipotential,
    quasipotential_3d,
)


def _hamilton_jacobi_residual(field, quasipotential, x):
    """`b·∇U + ½|∇U|²` relative to `|∇U|²` (zero for the true quasipotential)."""
    grad_u = jax.vmap(jax.grad(quasipotential))(x)
    hj = jnp.sum(jax.vmap(field)(x) * grad_u, -1) + 0.5 * jnp.sum(grad_u**2, -1)
    return np.abs(np.asarray(hj)).max() / (1 + np.abs(np.asarray(grad_u)).max() ** 2)


def test_exact_fields_satisfy_hamilton_jacobi():
    """The closed forms of `dynml.systems.quasipotential_fields` solve the HJ equation."""
    key = jax.random.PRNGKey(0)
    x2 = jax.random.uniform(key, (200, 2), minval=-1, maxval=1)
    x3 = jax.random.uniform(key, (200, 3), minval=-1.5, maxval=1.5)
    assert _hamilton_jacobi_residual(linear_field, linear_quasipotential, x2) < 1e-5
    assert _hamilton_jacobi_residual(field_3d, quasipotential_3d, x3) < 1e-5
    # a wrong candidate (V instead of U = 2V) fails the equation
    assert (
        _hamilton_jacobi_residual(linear_field, lambda x: linear_quasipotential(x) / 2, x2) > 0.05
    )


def _random_stable_matrix(seed: int) -> np.ndarray:
    """A random rotation of a non-normal matrix with eigenvalues −1.5 ± 2.06i (stable)."""
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.normal(size=(2, 2)))
    return q @ np.array([[-1.0, 3.0], [-1.5, -2.0]]) @ q.T


@pytest.mark.slow  # trains for 3,000 Adam steps (about 22 s CPU)
def test_random_linear_field_quasipotential_matches_lyapunov():
    """For `b = Ax`, `U = ½ xᵀΣ⁻¹x` with `AΣ + ΣAᵀ + I = 0`; learned within 2 % (relative L2).

    Measured: 0.9 % (field error 0.55 %, RMS cos 0.004). In runs of 1,500 steps, without the
    orthogonality penalty (λ = 0) the field was fitted as well (0.8 %) but U was 123 % off;
    with the penalty (λ = 10) on from the first step the fit stalled at 42 %."""
    a = _random_stable_matrix(0)
    sigma = solve_continuous_lyapunov(a, -np.eye(2))
    precision = 0.5 * np.linalg.inv(sigma)
    box = ((-1.0, 1.0), (-1.0, 1.0))
    fit = quasipotential(
        lambda x: jnp.asarray(a, x.dtype) @ x,
        (0.0, 0.0),
        box=box,
        key=jax.random.PRNGKey(0),
        settings=QuasipotentialSettings(
            n_traj=300,
            n_t=4,
            width=20,
            depth=2,
            steps=3000,
            orthogonality_weight=1.0,
            field_warm_start=1 / 3,
            anchor_weight=0.0,  # the paper's loss: the anchor alone fixes U of a linear field
        ),
    )
    g = np.stack(np.meshgrid(np.linspace(-1, 1, 41), np.linspace(-1, 1, 41)), -1).reshape(-1, 2)
    exact = np.einsum("ni,ij,nj->n", g, precision, g)
    err = np.linalg.norm(fit(g) - exact) / np.linalg.norm(exact)
    assert err < 0.02, err
    assert fit.rms_cos < 0.05 and fit.field_error < 0.01


def test_orthogonality_penalty_sees_the_sign_and_residual_is_a_cosine():
    """cos(∇V, g) is a cosine; the penalty weighs positive cosines by 1, negative by 0.1."""
    model = DecomposedField(3, key=jax.random.PRNGKey(0))
    x = jax.random.normal(jax.random.PRNGKey(1), (256, 3))
    cos = np.asarray(orthogonality_residual(model, x))
    assert np.all(np.abs(cos) <= 1 + 1e-5) and np.std(cos) > 0.05
    pos, neg = np.mean(np.where(cos > 0, cos**2, 0)), np.mean(np.where(cos <= 0, cos**2, 0))
    assert np.isclose(float(orthogonality_loss(model, x)), pos + 0.1 * neg, rtol=1e-5)
    assert np.isclose(float(orthogonality_loss(model, x, 1.0)), pos + neg, rtol=1e-5)


def test_initial_quadratic_weight_meets_orthogonality_in_the_mean():
    """For a gradient field `b = −∇(k|x̃|²)` the weight is `k`; for a rotating field
    `b = −∇(k|x̃|²) + g`, `g ⟂ x̃`, it is still `k`; in general `mean ∇V₀·(b + ∇V₀) = 0`."""
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (500, 2))
    mean, scale = np.array([0.1, -0.2]), np.array([0.6, 0.4])
    c = 2 * (x - mean) / scale**2  # ∇|x̃|²
    rot = np.stack([-c[:, 1], c[:, 0]], -1)  # ⟂ c at every point
    assert np.isclose(initial_quadratic_weight(x, -0.3 * c, mean, scale), 0.3)
    assert np.isclose(initial_quadratic_weight(x, -0.3 * c + 5 * rot, mean, scale), 0.3)
    b = np.stack([-x[:, 0] - 4 * x[:, 1], 4 * x[:, 0] - 2 * x[:, 1]], -1)
    q = initial_quadratic_weight(x, b, mean, scale)
    mismatch = np.mean(np.sum(q * c * (b + q * c), -1)) / np.mean(np.sum((q * c) ** 2, -1))
    assert q > 0 and abs(mismatch) < 1e-5  # float32 arithmetic
    assert initial_quadratic_weight(x, 0.3 * c, mean, scale) == 1.0  # not contracting


def test_lyapunov_quadratic_is_half_the_hessian_of_the_exact_quasipotential():
    """`Σ⁻¹/2` from `JΣ + ΣJᵀ + I = 0` is `∇²U(x*)/2 = ∇²V(x*)` for both exact fields."""
    for field, u, star in (
        (linear_field, linear_quasipotential, jnp.zeros(2)),
        (field_3d, quasipotential_3d, jnp.array([1.0, 0.0, 0.0])),
    ):
        target = lyapunov_quadratic(np.asarray(jax.jacfwd(field)(star)))
        np.testing.assert_allclose(target, 0.5 * np.asarray(jax.hessian(u)(star)), atol=1e-5)


def test_anchor_loss_is_the_relative_hessian_mismatch():
    """Zero at the model's own Hessian, ¼ at twice it (`|H − 2H|²/|2H|²`)."""
    model = DecomposedField(2, key=jax.random.PRNGKey(0))
    star = jnp.array([0.3, -0.2])
    h = jax.hessian(model.potential)(star)
    assert float(anchor_loss(model, star, h)) < 1e-10
    assert np.isclose(float(anchor_loss(model, star, 2 * h)), 0.25, rtol=1e-5)

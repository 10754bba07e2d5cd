"""Least-squares polynomial SDE baseline: Ornstein–Uhlenbeck bias orders and the generator."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dynml.identify.polynomial_sde import (
    _generator_terms,
    fit_polynomial_sde,
    monomial_derivative,
    monomial_powers,
)

THETA, SIGMA = 1.0, 0.5


@functools.cache
def _ou_fit(dt: float, correction: str, n: int = 50_000):
    """Exact OU transitions from `x0 ~ N(0, 1)`, antithetic noise (`+-xi` at each `x0`), so
    the least-squares drift carries the discretisation bias and no sampling noise."""
    rng = np.random.default_rng(0)
    x0 = rng.normal(size=(n, 1))
    xi = rng.normal(size=(n, 1)) * SIGMA * np.sqrt((1 - np.exp(-2 * THETA * dt)) / (2 * THETA))
    mean = x0 * np.exp(-THETA * dt)
    model = fit_polynomial_sde(
        np.concatenate([x0, x0]), np.concatenate([mean + xi, mean - xi]), dt,
        degree=3, correction=correction,
    )  # fmt: skip
    coef = np.asarray(model.field.coefficients)[0]
    return coef, float(model.cov[0, 0])


@pytest.mark.parametrize("dt", [0.1, 0.05])
def test_euler_least_squares_is_biased_by_theta_squared_dt_over_two(dt):
    """`theta_hat = (1 - e^{-theta dt}) / dt`, so `theta - theta_hat ~ theta^2 dt / 2`."""
    coef, _ = _ou_fit(dt, "none")
    assert abs(-coef[1] - (1 - np.exp(-THETA * dt)) / dt) <= 1e-4
    assert np.abs(coef[[0, 2, 3]]).max() <= 1e-4


@pytest.mark.parametrize("dt", [0.1, 0.05])
def test_ito_taylor_least_squares_removes_the_order_dt_bias(dt):
    """The corrected drift solves `theta - dt theta^2 / 2 = (1 - e^{-theta dt}) / dt`: error
    `theta^3 dt^2 / 6 + O(dt^3)` (0.0017 at dt = 0.1); the diffusion `C = sigma^2 (1 + O(dt^2))`
    where Euler's is `sigma^2 (1 - theta dt)`. Red when the `L f` or `J C` term is dropped."""
    coef, cov = _ou_fit(dt, "ito_taylor")
    assert abs(-coef[1] - THETA) <= 0.25 * THETA**3 * dt**2
    assert np.abs(coef[[0, 2, 3]]).max() <= 1e-4
    assert abs(cov - SIGMA**2) <= SIGMA**2 * (THETA * dt) ** 2 + 0.003


def test_ito_taylor_error_is_second_order():
    errs = [abs(-_ou_fit(dt, "ito_taylor")[0][1] - THETA) for dt in (0.1, 0.05)]
    assert 3.0 <= errs[0] / errs[1] <= 5.0


def test_generator_terms_match_autodiff():
    """`L f = J f + (1/2) C : hess f` and `J` from exponent shifts equal jax's derivatives."""
    rng = np.random.default_rng(1)
    powers = monomial_powers(2, 3)
    assert len(powers) == 10 and powers[:, :].sum(1).max() == 3
    theta = rng.normal(size=(len(powers), 2))
    cov = np.array([[0.3, 0.1], [0.1, 0.2]])
    x = rng.normal(size=(5, 2))
    lf, jac = _generator_terms(x, powers, theta, cov)

    def f(h):
        return jnp.prod(h[None, :] ** jnp.asarray(powers, jnp.float32), axis=1) @ theta

    @jax.jit
    @jax.vmap
    def autodiff(h):
        j, hess = jax.jacfwd(f)(h), jax.hessian(f)(h)
        return j, j @ f(h) + 0.5 * jnp.einsum("jk,ijk->i", cov, hess), f(h)

    j, expected, values = autodiff(jnp.asarray(x, jnp.float32))
    np.testing.assert_allclose(jac, j, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(lf, expected, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(
        monomial_derivative(x, powers, [0, 0]) @ theta, values, rtol=1e-4, atol=1e-4
    )


def test_bad_correction_is_refused():
    with pytest.raises(ValueError, match="correction"):
        fit_polynomial_sde(np.zeros((4, 1)), np.zeros((4, 1)), 0.1, correction="heun")

"""`solve_sde` against closed forms: Ornstein–Uhlenbeck moments, GBM mean, given increments."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dynml.core.solve import solve_sde

THETA, SIGMA, X0, T = 1.5, 0.8, 2.0, 1.0


def _ou_drift(t, x, args):
    return -THETA * x


def _ou_diffusion(t, x, args):
    return SIGMA * jnp.ones((1, 1))


@pytest.mark.parametrize(("solver", "brownian"), [("euler", "unsafe"), ("sra1", "virtual")])
def test_ou_mean_and_variance(solver, brownian):
    n = 4000
    ts = jnp.linspace(0.0, T, 5)
    xs = solve_sde(
        _ou_drift,
        _ou_diffusion,
        jnp.full((n, 1), X0),
        ts,
        jax.random.key(0),
        dt=0.01,
        solver=solver,
        brownian=brownian,
        batch=True,
    )
    assert xs.shape == (n, 5, 1)
    mean = X0 * np.exp(-THETA * ts)
    var = SIGMA**2 * (1 - np.exp(-2 * THETA * ts)) / (2 * THETA)
    tol_mean = 4 * np.sqrt(var.max() / n) + 0.02  # Monte Carlo + O(dt) bias
    assert np.max(np.abs(np.asarray(xs[..., 0].mean(0)) - mean)) < tol_mean
    rel_var = np.abs(np.asarray(xs[:, 1:, 0].var(0)) / var[1:] - 1)
    assert np.max(rel_var) < 4 * np.sqrt(2 / n) + 0.03


def test_gbm_mean_milstein():
    """Itô GBM `dX = a X dt + b X dW`: `E X_t = x0 exp(a t)` (the Itô, not Stratonovich, mean)."""
    a, b, n = 0.5, 0.6, 4000
    xs = solve_sde(
        lambda t, x, _: a * x,
        lambda t, x, _: b * x[:, None],
        jnp.ones((n, 1)),
        jnp.array([0.0, 1.0]),
        jax.random.key(1),
        dt=0.01,
        solver="milstein",
        brownian="unsafe",
        batch=True,
    )
    samples = np.asarray(xs[:, -1, 0])
    assert abs(samples.mean() - np.exp(a)) < 4 * samples.std() / np.sqrt(n) + 0.02


def test_given_increments_drive_the_path():
    dw = jax.random.normal(jax.random.key(2), (3, 20, 2)) * 0.1
    ts = jnp.linspace(0.0, 2.0, 21)
    xs = solve_sde(
        lambda t, x, _: jnp.zeros_like(x),
        lambda t, x, _: jnp.eye(2),
        jnp.zeros((3, 2)),
        ts,
        dt=0.1,
        increments=dw,
        batch=True,
    )
    np.testing.assert_allclose(xs[:, 1:], jnp.cumsum(dw, axis=1), atol=1e-5)


def test_bad_input():
    with pytest.raises(ValueError, match="unknown SDE solver"):
        solve_sde(
            _ou_drift,
            _ou_diffusion,
            jnp.ones(1),
            jnp.array([0.0, 1.0]),
            jax.random.key(0),
            dt=0.1,
            solver="rk9",
        )
    with pytest.raises(ValueError, match="exactly one"):
        solve_sde(_ou_drift, _ou_diffusion, jnp.ones(1), jnp.array([0.0, 1.0]), dt=0.1)


@pytest.mark.parametrize("solver", ["euler", "heun", "euler_heun"])
def test_scan_path_agrees_with_diffrax(solver):
    """Given increments on the save grid take the `lax.scan` path; diffrax gives the same."""
    from dynml.core.field import as_field
    from dynml.core.solve import _Batched, _diffrax_sde

    dr = lambda t, x, _: 0.5 * x - 0.3 * jnp.sin(x)  # noqa: E731
    df = lambda t, x, _: (0.6 * x + 0.1 * jnp.cos(x))[:, None]  # noqa: E731
    n, steps, ts = 8, 40, jnp.linspace(0.0, 1.0, 5)
    dw = jnp.sqrt(1 / steps) * jax.random.normal(jax.random.key(3), (n, steps, 1))
    ours = solve_sde(dr, df, jnp.ones((n, 1)), ts, dt=1 / steps, solver=solver,
                     increments=dw, batch=True)  # fmt: skip
    ref = _diffrax_sde(_Batched(as_field(dr)), _Batched(as_field(df)), jnp.ones((n, 1)), ts,
                       None, 1 / steps, solver, 1, "virtual", jnp.moveaxis(dw, 1, 0), None,
                       True, None, steps)  # fmt: skip
    np.testing.assert_allclose(ours, ref, rtol=1e-5, atol=1e-5)


def test_scan_heun_strong_order_one_on_stratonovich_gbm():
    """Stratonovich GBM `dX = aX dt + bX∘dW`: `X_1 = exp(a + b W_1)`; Heun's pathwise error
    halves with the step (strong order 1 for scalar noise)."""
    a, b, n = 0.5, 0.6, 200
    fine = jnp.sqrt(1 / 256) * jax.random.normal(jax.random.key(4), (n, 256, 1))
    exact = np.exp(a + b * np.asarray(fine.sum(1)[:, 0]))
    errs = []
    for steps in (16, 32, 64):
        dw = fine.reshape(n, steps, 256 // steps, 1).sum(2)
        xs = solve_sde(lambda t, x, _: a * x, lambda t, x, _: b * x[:, None], jnp.ones((n, 1)),
                       jnp.array([0.0, 1.0]), dt=1 / steps, solver="heun", increments=dw,
                       batch=True)  # fmt: skip
        errs.append(np.mean(np.abs(np.asarray(xs[:, -1, 0]) - exact)))
    rates = np.log2(np.array(errs[:-1]) / np.array(errs[1:]))
    assert np.all((rates > 0.8) & (rates < 1.3)), rates

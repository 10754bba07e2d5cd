"""Neural committor: exact boundary conditions of the ansatz, loss identities, and agreement
of a trained network with the grid solver on a small 2-D potential."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dynml.rare import (
    NeuralCommittor,
    SamplingSettings,
    TrainingSettings,
    committor,
    committor_rate,
    committor_rate_stderr,
    committor_values,
    disc,
    grid_committor,
    membership,
    penalised_loss,
    smooth_indicator,
    variational_loss,
)
from dynml.rare.study import grid_rate
from dynml.systems import mueller as M


def _points_in_disc(center, radius, n, key, dim=2):
    k1, k2, k3 = jax.random.split(key, 3)
    angle = jax.random.uniform(k1, (n,)) * 2 * jnp.pi
    r = radius * jnp.sqrt(jax.random.uniform(k2, (n,)))
    xy = jnp.asarray(center) + jnp.stack([r * jnp.cos(angle), r * jnp.sin(angle)], -1)
    return jnp.concatenate([xy, jax.random.normal(k3, (n, dim - 2))], -1)


def test_ansatz_meets_boundary_conditions_exactly():
    a, b = disc(M.CENTER_A, M.RADIUS), disc(M.CENTER_B, M.RADIUS)
    for dim, seed in ((2, 0), (10, 1)):
        model = NeuralCommittor(dim, a, b, key=jax.random.PRNGKey(seed))
        xa = _points_in_disc(M.CENTER_A, M.RADIUS, 500, jax.random.PRNGKey(2), dim)
        xb = _points_in_disc(M.CENTER_B, M.RADIUS, 500, jax.random.PRNGKey(3), dim)
        assert np.all(np.asarray(committor_values(model, xa)) == 0.0)
        assert np.all(np.asarray(committor_values(model, xb)) == 1.0)
        q = committor_values(
            model, jax.random.uniform(jax.random.PRNGKey(4), (500, dim), minval=-1.5, maxval=2.0)
        )
        assert np.all((np.asarray(q) >= 0) & (np.asarray(q) <= 1))
        assert 0.05 < float(jnp.std(q)) and 0 < float(jnp.mean(q)) < 1  # not a constant


def test_indicator_is_one_inside_and_zero_outside_the_collar():
    region = disc((0.0, 0.0), 0.1)
    assert float(smooth_indicator(region, jnp.array([0.05, 0.0]), 0.02)) == 1.0
    assert float(smooth_indicator(region, jnp.array([0.13, 0.0]), 0.02)) == 0.0
    assert 0.0 < float(smooth_indicator(region, jnp.array([0.11, 0.0]), 0.02)) < 1.0
    inside = membership(region)(jnp.array([[0.0, 0.09], [0.0, 0.11]]))
    assert inside.tolist() == [True, False]


def test_regions_need_not_be_discs():
    """A half-plane region `x₁ ≤ −1` (any level-set function) gives exact boundary values."""
    a, b = (lambda x: x[0] + 1.0), (lambda x: 1.0 - x[0])
    model = NeuralCommittor(3, a, b, key=jax.random.PRNGKey(0))
    x = jax.random.normal(jax.random.PRNGKey(1), (200, 3))
    q = np.asarray(committor_values(model, x.at[:, 0].set(-1.5)))
    assert np.all(q == 0.0)
    assert np.all(np.asarray(committor_values(model, x.at[:, 0].set(1.2))) == 1.0)


def test_rate_is_loss_over_beta_and_penalty_vanishes_with_ansatz():
    a, b = disc(M.CENTER_A, M.RADIUS), disc(M.CENTER_B, M.RADIUS)
    model = NeuralCommittor(2, a, b, key=jax.random.PRNGKey(0))
    x = jax.random.uniform(jax.random.PRNGKey(1), (256, 2), minval=-1.0, maxval=1.5)
    w = jnp.ones(256)
    loss = variational_loss(model, (x, w))
    assert np.isclose(float(committor_rate(model, x, w, beta=0.1)), float(loss) / 0.1, rtol=1e-5)
    xa = _points_in_disc(M.CENTER_A, M.RADIUS, 50, jax.random.PRNGKey(2))
    xb = _points_in_disc(M.CENTER_B, M.RADIUS, 50, jax.random.PRNGKey(3))
    assert np.isclose(float(penalised_loss(xa, xb, 10.0)(model, (x, w))), float(loss))


def test_rate_stderr_matches_the_spread_of_independent_estimates():
    """Over 300 independent weighted sample sets, the batch-means standard error agrees with
    the standard deviation of the rate estimates (within 15 %; a smooth network without the
    collars, whose large gradients would make the integrand heavy-tailed)."""
    a, b = disc(M.CENTER_A, M.RADIUS), disc(M.CENTER_B, M.RADIUS)
    model = NeuralCommittor(2, a, b, key=jax.random.PRNGKey(0), width=8, depth=1, built_in_bc=False)
    keys = jax.random.split(jax.random.PRNGKey(1), 300)

    def one(k):
        kx, kw = jax.random.split(k)
        x = jax.random.uniform(kx, (400, 2), minval=-1.0, maxval=1.5)
        w = jnp.exp(jax.random.normal(kw, (400,)))
        rate = committor_rate(model, x, w, beta=0.1)
        return rate, committor_rate_stderr(model, x, w, beta=0.1, blocks=20)

    rates, errs = zip(*[one(k) for k in keys], strict=True)
    spread, mean_err = float(np.std(rates, ddof=1)), float(np.mean(errs))
    assert abs(mean_err / spread - 1) < 0.15, (mean_err, spread)


def _double_well(x):
    """`V = 2(x₁² − 1)² + 3x₂²`: wells at (±1, 0), saddle at the origin (barrier 2)."""
    return 2 * (x[..., 0] ** 2 - 1) ** 2 + 3 * x[..., 1] ** 2


def _trained_vs_grid(steps, n_chains, n_samples, *, rate=True):
    beta, domain = 3.0, ((-1.6, 1.6), (-1.2, 1.2))
    a, b = disc((-1.0, 0.0), 0.15), disc((1.0, 0.0), 0.15)
    ref = grid_committor(_double_well, membership(a), membership(b), beta=beta, domain=domain, n=81)
    fit = committor(
        _double_well,
        a,
        b,
        beta,
        starts=jnp.array([[-1.0, 0.0], [1.0, 0.0]]),
        key=jax.random.PRNGKey(0),
        sampling=SamplingSettings(
            n_chains=n_chains, n_samples=n_samples, thin=20, burn_in=500, dt=2e-3, beta_sample=1.0
        ),
        training=TrainingSettings(width=16, depth=2, steps=steps, batch_size=512, warm_start=0.0),
        keep=lambda x: np.all(np.abs(np.asarray(x)) <= np.array([1.6, 1.2]), axis=1),
    )
    gx, gy = np.meshgrid(ref.xs, ref.ys)
    q = np.asarray(fit(jnp.asarray(np.stack([gx, gy], -1).reshape(-1, 2), jnp.float32)))
    q = q.reshape(ref.q.shape)
    mask = (
        ~(ref.in_a | ref.in_b)
        & (np.abs(ref.q - 0.5) < 0.4)
        & (_double_well(np.stack([gx, gy], -1)) < 4)
    )
    err = np.linalg.norm((q - ref.q)[mask]) / np.linalg.norm(ref.q[mask])
    if not rate:
        return err, None, fit
    nodes = jnp.asarray(np.stack([gx, gy], -1).reshape(-1, 2), jnp.float32)
    return err, abs(grid_rate(fit.model, ref, nodes) / ref.rate - 1), fit


def test_trained_committor_agrees_with_grid_solver_small():
    """Fast version: 600 Adam steps on 1,600 samples; transition error < 10 % (8.95 % measured).

    Its cost is compilation (MALA chains about 5 s, the training loop about 6 s of CPU); the
    run itself is under a second. The network's Dirichlet form is not converged at this
    budget (62 % above the grid rate) and is not checked here; the slow test checks it."""
    err, _, fit = _trained_vs_grid(steps=600, n_chains=32, n_samples=50, rate=False)
    assert err < 0.10, err
    assert fit.ess > 100


@pytest.mark.slow
def test_trained_committor_agrees_with_grid_solver():
    """Longer training on more samples: transition error < 3 %, rate within 5 %."""
    err, rate_err, _ = _trained_vs_grid(steps=4000, n_chains=64, n_samples=200)
    assert err < 0.03, err
    assert rate_err < 0.05, rate_err

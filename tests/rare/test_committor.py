"""Neural committor: exact boundary conditions of the ansatz, loss and rate identities."""

import jax
import jax.numpy as jnp
import numpy as np

from dynml.rare import (
    NeuralCommittor,
    committor_rate,
    committor_values,
    disc_indicator,
    penalised_loss,
    variational_loss,
)
from dynml.systems import mueller as M


def _points_in_disc(center, radius, n, key, dim=2):
    k1, k2, k3 = jax.random.split(key, 3)
    angle = jax.random.uniform(k1, (n,)) * 2 * jnp.pi
    r = radius * jnp.sqrt(jax.random.uniform(k2, (n,)))
    xy = jnp.asarray(center) + jnp.stack([r * jnp.cos(angle), r * jnp.sin(angle)], -1)
    return jnp.concatenate([xy, jax.random.normal(k3, (n, dim - 2))], -1)


def test_ansatz_meets_boundary_conditions_exactly():
    for dim, seed in ((2, 0), (10, 1)):
        model = NeuralCommittor(dim, M.CENTER_A, M.CENTER_B, M.RADIUS, key=jax.random.PRNGKey(seed))
        xa = _points_in_disc(M.CENTER_A, M.RADIUS, 500, jax.random.PRNGKey(2), dim)
        xb = _points_in_disc(M.CENTER_B, M.RADIUS, 500, jax.random.PRNGKey(3), dim)
        assert np.all(np.asarray(committor_values(model, xa)) == 0.0)
        assert np.all(np.asarray(committor_values(model, xb)) == 1.0)
        q = committor_values(
            model, jax.random.uniform(jax.random.PRNGKey(4), (500, dim), minval=-1.5, maxval=2.0)
        )
        assert np.all((np.asarray(q) >= 0) & (np.asarray(q) <= 1))


def test_indicator_is_one_inside_and_zero_outside_the_collar():
    c, r, w = (0.0, 0.0), 0.1, 0.02
    assert float(disc_indicator(jnp.array([0.05, 0.0]), c, r, w)) == 1.0
    assert float(disc_indicator(jnp.array([0.13, 0.0]), c, r, w)) == 0.0
    assert 0.0 < float(disc_indicator(jnp.array([0.11, 0.0]), c, r, w)) < 1.0


def test_rate_is_loss_over_beta_and_penalty_vanishes_with_ansatz():
    model = NeuralCommittor(2, M.CENTER_A, M.CENTER_B, M.RADIUS, key=jax.random.PRNGKey(0))
    x = jax.random.uniform(jax.random.PRNGKey(1), (256, 2), minval=-1.0, maxval=1.5)
    w = jnp.ones(256)
    loss = variational_loss(model, (x, w))
    assert np.isclose(float(committor_rate(model, x, w, beta=0.1)), float(loss) / 0.1, rtol=1e-5)
    xa = _points_in_disc(M.CENTER_A, M.RADIUS, 50, jax.random.PRNGKey(2))
    xb = _points_in_disc(M.CENTER_B, M.RADIUS, 50, jax.random.PRNGKey(3))
    assert np.isclose(float(penalised_loss(xa, xb, 10.0)(model, (x, w))), float(loss))

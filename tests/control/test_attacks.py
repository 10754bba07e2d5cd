"""L∞ attacks: FGSM as one PGD step, iterates in the ball and the box, the closed-form margin
test on a linear classifier, and the CW margin loss."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dynml.control import attacks


def mlp(key, dim=6, classes=4):
    k1, k2 = jax.random.split(key)
    w1 = jax.random.normal(k1, (dim, 16)) / jnp.sqrt(dim)
    w2 = jax.random.normal(k2, (16, classes)) / 4.0
    return lambda x: jnp.tanh(x.reshape(x.shape[0], -1) @ w1) @ w2


def data(key, n=32, dim=6, classes=4):
    kx, ky = jax.random.split(key)
    return jax.random.uniform(kx, (n, dim)), jax.random.randint(ky, (n,), 0, classes)


def test_fgsm_is_one_pgd_step_with_alpha_eps_from_no_random_start():
    model = mlp(jax.random.key(0))
    x, y = data(jax.random.key(1))
    f = attacks.fgsm(model, x, y, 0.1)
    p = attacks.pgd(model, x, y, 0.1, 0.1, 1, random_start=False)
    np.testing.assert_array_equal(f.x, p.x)
    np.testing.assert_array_equal(f.success, p.success)
    # and it moves every coordinate with a non-zero gradient by ±ε (or to the box)
    g = attacks.input_gradient(model, x, y)
    want = jnp.clip(x + 0.1 * jnp.sign(g), 0.0, 1.0)
    np.testing.assert_allclose(f.x, want, atol=1e-7)


@pytest.mark.parametrize("name", ["pgd", "cw"])
def test_pgd_iterates_stay_in_ball_and_box(name):
    model = mlp(jax.random.key(2))
    x, y = data(jax.random.key(3))
    eps = 0.07
    for steps in (1, 5):
        # a step size larger than ε forces the projection to act
        res = attacks.attack(name, model, x, y, eps, steps=steps, alpha=0.05, key=jax.random.key(4))
        assert float(jnp.max(jnp.abs(res.x - x))) <= eps + 1e-6
        assert float(res.x.min()) >= 0.0 and float(res.x.max()) <= 1.0
        assert float(jnp.max(jnp.abs(res.x - x))) > 0.5 * eps


def test_pgd_increases_the_loss():
    model = mlp(jax.random.key(5))
    x, y = data(jax.random.key(6))
    res = attacks.pgd(model, x, y, 0.1, 0.025, 10, jax.random.key(7))
    assert jnp.mean(attacks.cross_entropy(model(res.x), y)) > jnp.mean(
        attacks.cross_entropy(model(x), y)
    )


@pytest.mark.parametrize("name", ["fgsm", "pgd", "cw"])
def test_success_on_linear_classifier_matches_the_margin_test(name):
    """Binary linear logits `(0, w·x + b)`: the L∞ attack of radius ε flips the label exactly
    when the signed margin `(2y − 1)(w·x + b) < ε‖w‖₁` (no box, the best perturbation is
    `−(2y − 1) ε sign w`)."""
    key = jax.random.key(8)
    kw, kx = jax.random.split(key)
    w = jax.random.normal(kw, (5,))
    b = 0.3
    x = jax.random.normal(kx, (400, 5))
    y = (x @ w + b > 0).astype(jnp.int32)
    y = y.at[:20].set(1 - y[:20])  # a few misclassified points: success from the start

    def model(z):
        return jnp.stack([jnp.zeros(z.shape[0]), z @ w + b], axis=1)

    eps = 0.15
    res = attacks.attack(name, model, x, y, eps, steps=20, key=jax.random.key(9), bounds=None)
    margin = (2 * y - 1) * (x @ w + b)
    expected = margin < eps * jnp.sum(jnp.abs(w))
    close = jnp.abs(margin - eps * jnp.sum(jnp.abs(w))) < 1e-4  # ties decided by rounding
    assert int(jnp.sum(expected)) > 20  # the test is not vacuous
    np.testing.assert_array_equal(res.success[~close], expected[~close])


def test_margin_loss_is_the_runner_up_gap():
    z = jnp.array([[1.0, 3.0, 2.0], [5.0, 0.0, 1.0]])
    y = jnp.array([2, 0])
    np.testing.assert_allclose(attacks.margin_loss(z, y), [1.0, -4.0])
    np.testing.assert_allclose(attacks.margin_loss(z, y, kappa=0.5), [0.5, -4.0])


def test_bad_attack_names_and_missing_key_are_refused():
    model = mlp(jax.random.key(0))
    x, y = data(jax.random.key(1))
    with pytest.raises(ValueError, match="attack must be"):
        attacks.attack("deepfool", model, x, y, 0.1)
    with pytest.raises(ValueError, match="PRNG key"):
        attacks.pgd(model, x, y, 0.1, 0.02, 3)

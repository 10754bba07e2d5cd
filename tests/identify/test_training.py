"""The shared one-step recipe: Heun loss is second order; ensemble members train independently."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from dynml.identify import (
    MLPODE,
    adamw_amsgrad,
    as_pairs,
    ensemble,
    heun_loss,
    member,
    member_losses,
    train_vector_field,
)


def test_heun_loss_vanishes_to_second_order_on_exact_pairs():
    """For `h' = -h`, `|(Heun(h1) - h2)/dt|` is `O(dt^2)`, so the loss falls like `dt^4`."""
    h = jnp.linspace(-1, 1, 20)[:, None]
    losses = [
        float(heun_loss(lambda y: -y, as_pairs(h, h * jnp.exp(-dt), dt))) for dt in (0.1, 0.05)
    ]
    assert 14 < losses[0] / losses[1] < 18


def test_ensemble_members_train_as_if_alone():
    keys = jax.random.split(jax.random.PRNGKey(0), 2)
    build = lambda k: MLPODE(2, 8, key=k)  # noqa: E731
    h0 = jax.random.normal(jax.random.PRNGKey(1), (64, 2))
    pairs = as_pairs(h0, h0 + 0.01 * jnp.stack([h0[:, 1], -h0[:, 0]], 1), 0.01)
    kw = dict(epochs=6, batch_size=16, key=jax.random.PRNGKey(2), progress=False)
    together = train_vector_field(ensemble(build, keys), pairs, n_members=2, **kw).model
    for i in range(2):
        alone = train_vector_field(build(keys[i]), pairs, **kw).model
        np.testing.assert_allclose(
            member_losses(together, pairs)[i], float(heun_loss(alone, pairs)), rtol=1e-4
        )
        a, b = member(together, i), alone
        for x, y in zip(
            jax.tree_util.tree_leaves(eqx.filter(a, eqx.is_array)),
            jax.tree_util.tree_leaves(eqx.filter(b, eqx.is_array)),
            strict=True,
        ):
            np.testing.assert_allclose(x, y, rtol=1e-3, atol=1e-4)


def test_heun_loss_sums_components_in_the_authors_units():
    """`reduction="sum"` is `dim` times `reduction="mean"`; both vanish on exact linear pairs."""
    h = jax.random.normal(jax.random.PRNGKey(0), (50, 3))
    pairs = as_pairs(h, h * 1.01, 0.01)
    total = float(heun_loss(lambda y: 0 * y, pairs))
    mean = float(heun_loss(lambda y: 0 * y, pairs, reduction="mean"))
    np.testing.assert_allclose(total, 3 * mean, rtol=1e-6)
    np.testing.assert_allclose(total, float(jnp.mean(jnp.sum(h**2, 1))), rtol=1e-4)


def test_seeds_train_together_exactly_as_alone():
    """`seeds=K` (vmapped members, each with its own plateau schedule) equals K single fits."""
    build = lambda k: MLPODE(2, 8, activation="requ", key=k)  # noqa: E731
    h0 = jax.random.normal(jax.random.PRNGKey(1), (64, 2))
    pairs = as_pairs(h0, h0 + 0.01 * jnp.stack([h0[:, 1], -h0[:, 0]], 1), 0.01)
    kw = dict(epochs=8, batch_size=16, plateau_patience=1, progress=False)
    key = jax.random.PRNGKey(2)
    together = train_vector_field(build, pairs, seeds=3, key=key, **kw).model
    for i, k in enumerate(jax.random.split(key, 3)):
        k_model, k_fit = jax.random.split(k)
        alone = train_vector_field(build(k_model), pairs, key=k_fit, **kw).model
        np.testing.assert_allclose(
            member_losses(together, pairs)[i], float(heun_loss(alone, pairs)), rtol=1e-5
        )


def test_train_vector_field_takes_trajectories():
    """Training on a `Trajectories` equals training on `as_pairs(*traj.pairs())`."""
    from dynml.core.data import Trajectories

    t = np.linspace(0.0, 0.5, 11)
    h0 = np.random.default_rng(0).normal(size=(8, 2))
    x = np.exp(-t)[None, :, None] * h0[:, None, :]
    traj = Trajectories(t, x)
    kw = dict(epochs=3, batch_size=16, key=jax.random.PRNGKey(2), progress=False)
    model = MLPODE(2, 8, key=jax.random.PRNGKey(0))
    a = train_vector_field(model, traj, **kw).model
    b = train_vector_field(model, as_pairs(*traj.pairs()), **kw).model
    np.testing.assert_array_equal(a(jnp.ones(2)), b(jnp.ones(2)))


def test_train_vector_field_refuses_other_data():
    import pytest

    model = MLPODE(2, 8, key=jax.random.PRNGKey(0))
    with pytest.raises(TypeError, match="as_pairs.*or a Trajectories"):
        train_vector_field(model, np.zeros((4, 2)), epochs=1, key=jax.random.PRNGKey(0))


@pytest.mark.slow  # three compiled trainings: ~15 s idle, 43 s under load
def test_cosine_schedule_at_constant_rate_equals_a_plateau_that_never_fires():
    """`schedule="cosine"` with `min_learning_rate == learning_rate` is a constant rate, the
    same updates as a plateau schedule whose patience outlasts training; a decaying cosine
    gives different parameters. Unknown schedules are refused."""
    h = np.random.default_rng(0).normal(size=(64, 2))
    pairs = as_pairs(h, h * np.exp(-0.1), 0.1)
    model = MLPODE(2, 8, key=jax.random.PRNGKey(0))
    kw = dict(epochs=4, batch_size=16, key=jax.random.PRNGKey(1), progress=False)
    flat = train_vector_field(model, pairs, schedule="cosine", min_learning_rate=0.0128, **kw)
    plateau = train_vector_field(model, pairs, plateau_patience=100, **kw)
    decayed = train_vector_field(model, pairs, schedule="cosine", min_learning_rate=1e-5, **kw)
    x = jnp.ones(2)
    np.testing.assert_array_equal(flat.model(x), plateau.model(x))
    assert not np.array_equal(decayed.model(x), flat.model(x))
    with pytest.raises(ValueError, match="schedule"):
        train_vector_field(model, pairs, schedule="linear", **kw)


def _torch_amsgrad_reference(grads, lr, b1=0.9, b2=0.999, eps=1e-8):
    """PyTorch's `Adam(amsgrad=True)` step (torch/optim/adam.py, `_single_tensor_adam`), numpy."""
    p, m, v, vmax = (np.zeros_like(grads[0]) for _ in range(4))
    out = []
    for t, g in enumerate(grads, start=1):
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        vmax = np.maximum(vmax, v)
        denom = np.sqrt(vmax) / np.sqrt(1 - b2**t) + eps
        p = p - lr / (1 - b1**t) * m / denom
        out.append(p)
    return np.array(out)


def test_amsgrad_steps_as_pytorch_does():
    """`adamw_amsgrad` follows PyTorch's AMSGrad (max of the raw second moment, then the bias
    correction), which optax's `scale_by_amsgrad` (max of the corrected one) does not."""
    scales = [10.0, 1.0, 0.1, 0.1, 0.01, 0.01, 5.0, 0.01]
    grads = np.random.default_rng(0).normal(size=(8, 4)) * np.array(scales)[:, None]
    ref = _torch_amsgrad_reference(grads, 0.01)

    def path(opt):
        p, state, out = jnp.zeros(4), opt.init(jnp.zeros(4)), []
        for g in grads:
            u, state = opt.update(jnp.asarray(g, jnp.float32), state, p)
            p = p + u
            out.append(np.asarray(p))
        return np.array(out)

    np.testing.assert_allclose(path(adamw_amsgrad(0.01)), ref, rtol=1e-4, atol=1e-7)
    optax_path = path(optax.chain(optax.scale_by_amsgrad(), optax.scale_by_learning_rate(0.01)))
    assert np.abs(optax_path - ref).max() > 0.1 * np.abs(ref).max()


def test_plateau_counts_bad_epochs_as_pytorch_does():
    """PyTorch halves the rate once more than `patience` epochs pass without a relative gain of
    1e-4. At learning rate 1e-5 the loss is nearly frozen (gains ~1e-5 per epoch): epoch 1 sets
    the best, epochs 2-4 are bad, so with patience 2 the rate halves after epoch 4 (down to
    the floor 5e-6 = 0.5 x 1e-5)."""
    h0 = jax.random.normal(jax.random.PRNGKey(1), (32, 2))
    pairs = as_pairs(h0, 0.99 * h0, 0.01)
    res = train_vector_field(
        MLPODE(2, 4, key=jax.random.PRNGKey(0)), pairs, epochs=6, key=jax.random.PRNGKey(2),
        batch_size=16, plateau_patience=2, learning_rate=1e-5, val_pairs=pairs, log_epochs=1,
        progress=False,
    )  # fmt: skip
    assert res.history["lr_scale"] == [1.0, 1.0, 1.0, 0.5, 0.5, 0.5]

"""fit: it minimises, resumes exactly from checkpoints, guards against NaN, stops early."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from dynml.core.train import fit


class Line(eqx.Module):
    w: jax.Array
    b: jax.Array

    def __call__(self, x):
        return self.w * x + self.b


def _loss(model, batch):
    x, y = batch
    return jnp.mean((model(x) - y) ** 2)


def _data(n=64):
    x = np.linspace(-1, 1, n, dtype=np.float32)
    return x, 3.0 * x - 1.0


def _line():
    return Line(jnp.array(0.0), jnp.array(0.0))


def test_fit_recovers_least_squares_solution():
    result = fit(_line(), _loss, _data(), steps=600, key=jax.random.PRNGKey(0), learning_rate=0.05)
    assert float(result.model.w) == pytest.approx(3.0, abs=1e-3)
    assert float(result.model.b) == pytest.approx(-1.0, abs=1e-3)
    assert len(result.history["loss"]) == 600 and result.stopped == "completed"


def test_resume_from_checkpoint_equals_uninterrupted(tmp_path):
    kwargs = dict(key=jax.random.PRNGKey(3), batch_size=16, learning_rate=0.01, log_every=25)
    full = fit(_line(), _loss, _data(), steps=200, **kwargs)
    fit(_line(), _loss, _data(), steps=100, checkpoint_dir=tmp_path, checkpoint_every=50, **kwargs)
    resumed = fit(
        _line(), _loss, _data(), steps=200, checkpoint_dir=tmp_path, checkpoint_every=50, **kwargs
    )
    assert float(resumed.model.w) == float(full.model.w)
    assert float(resumed.model.b) == float(full.model.b)
    np.testing.assert_array_equal(resumed.history["loss"], full.history["loss"])


def test_nan_guard_keeps_last_good_parameters(capsys):
    def exploding(model, batch):
        # finite while w < 1, then log of a negative number
        return _loss(model, batch) + jnp.log(1.0 - model.w)

    result = fit(
        _line(),
        exploding,
        _data(),
        steps=500,
        key=jax.random.PRNGKey(0),
        learning_rate=0.2,
        log_every=50,
    )
    assert result.stopped == "nan"
    assert np.isfinite(float(exploding(result.model, _data())))
    assert result.steps < 500
    assert all(np.isfinite(result.history["loss"]))
    assert "non-finite" in capsys.readouterr().err


def test_early_stopping_returns_best_validation_model():
    x, y = _data()
    result = fit(
        _line(),
        _loss,
        (x, y),
        steps=5000,
        key=jax.random.PRNGKey(0),
        learning_rate=0.05,
        val_data=(x, y + 0.1),
        patience=3,
        log_every=50,
    )
    assert result.stopped == "early_stopping" and result.steps < 5000
    assert min(result.history["val_loss"]) == pytest.approx(
        float(_loss(result.model, (x, y + 0.1))), rel=1e-5
    )


def test_reduce_on_plateau_lowers_the_scale():
    result = fit(
        _line(),
        _loss,
        _data(),
        steps=2000,
        key=jax.random.PRNGKey(0),
        learning_rate=0.3,
        plateau=dict(factor=0.5, patience=20),
        log_every=100,
    )
    assert result.history["lr_scale"][-1] < 1.0


def test_bad_data_shapes_are_refused():
    with pytest.raises(ValueError, match="first dimension"):
        fit(_line(), _loss, (np.zeros(5), np.zeros(4)), steps=10, key=jax.random.PRNGKey(0))


class Counter(eqx.Module):
    t: jax.Array

    def __call__(self, x):
        return x


def _counting_loss(bad_from):
    """SGD(1) on `-t` moves `t` by exactly 1 per step; the loss is NaN once `t >= bad_from`."""

    def loss(model, batch):
        del batch
        return -model.t + jnp.where(model.t >= bad_from, jnp.nan, 0.0)

    return loss


@pytest.mark.parametrize("bad_from", [50, 37])
def test_nan_guard_at_a_chunk_start_keeps_the_last_finite_parameters(bad_from, capsys):
    # bad_from=50 with log_every=50: the first non-finite loss is the first step of a chunk.
    result = fit(
        Counter(jnp.array(0.0)),
        _counting_loss(bad_from),
        _data(),
        steps=200,
        key=jax.random.PRNGKey(0),
        optimizer=optax.sgd(1.0),
        log_every=50,
    )
    assert result.diverged and result.stopped == "nan"
    assert float(result.model.t) == bad_from - 1
    assert result.steps == bad_from and len(result.history["loss"]) == bad_from
    assert result.history["loss"][-1] == -(bad_from - 1)
    assert "non-finite" in capsys.readouterr().err


def test_nan_learning_rate_returns_the_initial_parameters():
    result = fit(
        _line(), _loss, _data(), steps=100, key=jax.random.PRNGKey(0), learning_rate=np.nan
    )
    assert result.diverged and result.steps == 1
    assert float(result.model.w) == 0.0 and float(result.model.b) == 0.0


def test_completed_run_is_not_diverged():
    result = fit(_line(), _loss, _data(), steps=20, key=jax.random.PRNGKey(0), log_every=7)
    assert not result.diverged and result.steps == 20 and len(result.history["loss"]) == 20


def test_each_epoch_visits_every_sample_once():
    # Loss is the sum of the batch's sample indices: over one epoch each index appears once.
    idx = np.arange(64, dtype=np.float32)

    def loss(model, batch):
        return model.w * 0.0 + jnp.sum(batch)

    result = fit(
        _line(), loss, idx, steps=64, key=jax.random.PRNGKey(1), batch_size=16, log_every=3
    )
    per_epoch = np.asarray(result.history["loss"]).reshape(16, 4).sum(axis=1)
    np.testing.assert_allclose(per_epoch, idx.sum())
    assert len(set(result.history["loss"][:4])) > 1  # batches differ within an epoch


def _line_from_key(key):
    w, b = jax.random.normal(key, (2,))
    return Line(w, b)


def test_vmapped_seeds_equal_each_seed_trained_alone():
    kwargs = dict(steps=120, batch_size=16, learning_rate=0.03, log_every=50)
    keys = jax.random.split(jax.random.PRNGKey(5), 3)
    together = fit(_line_from_key, _loss, _data(), key=jax.random.PRNGKey(0), keys=keys, **kwargs)
    assert np.shape(together.model.w) == (3,) and together.stopped_members == ["completed"] * 3
    for i in range(3):
        k_model, k_fit = jax.random.split(keys[i])
        alone = fit(_line_from_key(k_model), _loss, _data(), key=k_fit, **kwargs)
        member = together.member(i)
        np.testing.assert_allclose(member.history["loss"], alone.history["loss"], rtol=1e-5)
        np.testing.assert_allclose(float(member.model.w), float(alone.model.w), rtol=1e-5)
    # different seeds really differ
    assert len({round(float(w), 4) for w in together.model.w}) == 3


def test_a_diverging_seed_does_not_stop_the_others():
    def build(key):
        return Counter(jax.random.choice(key, jnp.array([0.0, 100.0])))

    keys = jnp.stack([jax.random.PRNGKey(i) for i in range(8)])
    starts = [float(build(jax.random.split(k)[0]).t) for k in keys]
    assert 0.0 in starts and 100.0 in starts
    result = fit(
        build,
        _counting_loss(130.0),
        _data(),
        steps=60,
        key=jax.random.PRNGKey(0),
        keys=keys,
        optimizer=optax.sgd(1.0),
        log_every=20,
    )
    for t0, t, why in zip(starts, result.model.t, result.stopped_members, strict=True):
        assert (why, float(t)) == (("nan", 129.0) if t0 == 100.0 else ("completed", 60.0))
    assert not result.diverged


def test_fit_compiles_its_chunk_once_when_intervals_do_not_divide(tmp_path):
    from dynml.core.compile import CompileStats

    kwargs = dict(key=jax.random.PRNGKey(0), batch_size=16, learning_rate=0.01)
    fit(_line(), _loss, _data(), steps=30, log_every=10, **kwargs)  # warm the library's jits
    fresh_loss = lambda model, batch: _loss(model, batch)  # a new function: nothing cached
    with CompileStats() as stats:
        fit(
            _line(),
            fresh_loss,
            _data(),
            steps=230,
            log_every=100,
            checkpoint_every=75,
            checkpoint_dir=tmp_path,
            **kwargs,
        )
    chunk = [name for name in stats.names if "run_chunk" in name]
    assert len(chunk) == 1, stats.names
    with CompileStats() as again:  # the same configuration again: reused, not recompiled
        fit(
            _line(),
            fresh_loss,
            _data(),
            steps=230,
            log_every=100,
            checkpoint_every=75,
            checkpoint_dir=tmp_path / "again",
            **kwargs,
        )
    assert not [name for name in again.names if "run_chunk" in name], again.names


def test_ensemble_resumes_from_its_checkpoint_exactly(tmp_path):
    keys = jax.random.split(jax.random.PRNGKey(2), 2)
    kwargs = dict(key=keys[0], keys=keys, batch_size=16, learning_rate=0.03, log_every=20)
    full = fit(_line_from_key, _loss, _data(), steps=80, **kwargs)
    ck = dict(checkpoint_dir=tmp_path, checkpoint_every=40)
    fit(_line_from_key, _loss, _data(), steps=40, **ck, **kwargs)
    resumed = fit(_line_from_key, _loss, _data(), steps=80, **ck, **kwargs)
    np.testing.assert_array_equal(np.asarray(resumed.model.w), np.asarray(full.model.w))
    assert resumed.history["loss"] == full.history["loss"]


def test_fit_takes_trajectories_as_their_one_step_pairs():
    """A `Trajectories` is fitted on `(x_t, x_{t+dt}, dt)`: `x' = -a x` gives `a` back."""
    from dynml.core.data import Trajectories

    t = np.linspace(0.0, 1.0, 21)
    x = np.exp(-2.0 * t)[None, :, None] * np.array([1.0, -0.5, 2.0])[:, None, None]
    traj = Trajectories(t, x)

    def loss(model, batch):  # one explicit Euler step of `x' = w x`
        x0, x1, dt = batch
        return jnp.mean((x0 + dt[:, None] * model.w * x0 - x1) ** 2)

    result = fit(_line(), loss, traj, steps=400, key=jax.random.PRNGKey(0), learning_rate=0.1)
    # Euler's one-step fit of exp(-2 dt) is (exp(-2 dt) - 1) / dt
    assert float(result.model.w) == pytest.approx((np.exp(-0.1) - 1) / 0.05, rel=1e-3)


@pytest.mark.parametrize("bad", ["not data", (np.zeros(3), 1.0), {"x": [1, 2]}, ()])
def test_fit_refuses_data_that_is_not_arrays(bad):
    with pytest.raises(TypeError, match="pytree of arrays|holds no arrays"):
        fit(_line(), _loss, bad, steps=1, key=jax.random.PRNGKey(0))


def _scaled_loss(scale):
    return lambda model, batch: scale * _loss(model, batch)  # a fresh closure on every call


def _fresh_optimizer(lr):
    return optax.chain(optax.clip_by_global_norm(1.0), optax.adam(lr))  # fresh on every call


def test_second_fit_with_rebuilt_loss_and_optimizer_compiles_nothing():
    from dynml.core.compile import CompileStats

    def run(lr=0.01, scale=2.0):
        return fit(
            _line(),
            _scaled_loss(scale),
            _data(),
            steps=40,
            log_every=20,
            key=jax.random.PRNGKey(1),
            batch_size=16,
            optimizer=_fresh_optimizer(lr),
            plateau=dict(factor=0.5, patience=2),
            progress=False,
        )

    first = run()
    with CompileStats() as stats:
        second = run()
    assert stats.compilations == 0, stats.names
    assert float(second.model.w) == float(first.model.w)
    np.testing.assert_array_equal(second.history["loss"], first.history["loss"])
    # other values in the rebuilt closures are another computation, not a false hit
    with CompileStats() as other:
        heavier = run(lr=0.05, scale=3.0)
    assert len([n for n in other.names if "run_chunk" in n]) == 1, other.names
    assert heavier.history["loss"][0] == pytest.approx(1.5 * first.history["loss"][0])

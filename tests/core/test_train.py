"""fit: it minimises, resumes exactly from checkpoints, guards against NaN, stops early."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
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

"""save_model / load_model: fitted models round-trip bitwise; bad files fail in one line."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dynml.core.domains import BadInput
from dynml.core.io import load_model, save_model
from dynml.identify import MLPODE, OnsagerNet
from dynml.rare import NeuralCommittor, disc

KEY = jax.random.PRNGKey(7)
CASES = [
    (OnsagerNet, dict(dim=3, width=20, depth=2, forcing="constant")),
    (MLPODE, dict(dim=3, width=16, depth=2, skip=False)),
    (
        NeuralCommittor,
        dict(dim=2, region_a=disc((-0.5, 1.5), 0.1), region_b=disc((0.6, 0.0), 0.1), width=8),
    ),
]


def _perturbed(model):
    """The model with every array leaf moved off its initial value (as training would)."""
    return jax.tree_util.tree_map(
        lambda x: x + 0.01 * jnp.sin(jnp.arange(x.size).reshape(x.shape)) if eqx_array(x) else x,
        model,
    )


def eqx_array(x):
    return isinstance(x, jax.Array) and jnp.issubdtype(x.dtype, jnp.inexact)


@pytest.mark.parametrize("cls, hyper", CASES, ids=[c.__name__ for c, _ in CASES])
def test_round_trip_is_bitwise(cls, hyper, tmp_path):
    model = _perturbed(cls(**hyper, key=KEY))
    path = save_model(tmp_path / "m.eqx", model, hyper)
    loaded = load_model(path)
    assert type(loaded) is cls
    x = jax.random.normal(jax.random.PRNGKey(1), (5, hyper["dim"]))
    np.testing.assert_array_equal(np.asarray(jax.vmap(loaded)(x)), np.asarray(jax.vmap(model)(x)))
    # a fresh model of the same hyperparameters differs: the leaves really were read back
    fresh = cls(**hyper, key=KEY)
    assert not np.array_equal(np.asarray(jax.vmap(fresh)(x)), np.asarray(jax.vmap(model)(x)))


def test_wrong_hyperparameters_are_refused_at_save(tmp_path):
    model = OnsagerNet(3, 20, key=KEY)
    with pytest.raises(ValueError, match="arrays differ"):
        save_model(tmp_path / "m.eqx", model, dict(dim=3, width=10))
    with pytest.raises(TypeError, match="cannot be saved"):
        save_model(tmp_path / "m.eqx", model, dict(dim=3, width=20, activation=object()))


def test_missing_and_corrupt_files_fail_in_one_line(tmp_path):
    with pytest.raises(FileNotFoundError, match="no model file"):
        load_model(tmp_path / "absent.eqx")
    path = save_model(tmp_path / "m.eqx", OnsagerNet(2, 8, key=KEY), dict(dim=2, width=8))
    good = path.read_bytes()
    bad = {
        "truncated": good[:-16],
        "trailing": good + b"\0",
        "not json": b"garbage\n" + good,
        "binary": bytes(range(256)),
        "empty": b"",
    }
    for name, content in bad.items():
        p = tmp_path / f"{name}.eqx"
        p.write_bytes(content)
        with pytest.raises(BadInput) as err:
            load_model(p)
        assert "\n" not in str(err.value), name

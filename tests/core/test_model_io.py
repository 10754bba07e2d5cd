"""save_model / load_model: fitted models round-trip bitwise; bad files fail in one line."""

import equinox as eqx
import jax
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


def _filled(cls, hyper, phase: float = 0.0):
    """A `cls(**hyper)` whose array leaves are `0.3 sin(k + phase)`, k = 0, 1, ... (numpy).

    The skeleton comes from `eqx.filter_eval_shape`, so nothing is initialised or compiled;
    two phases give two models of the same structure with different leaves (as training would).
    """
    like = eqx.filter_eval_shape(lambda: cls(**hyper, key=KEY))

    def fill(leaf):
        if not isinstance(leaf, jax.ShapeDtypeStruct):
            return leaf
        values = 0.3 * np.sin(np.arange(int(np.prod(leaf.shape))) + phase)
        return jax.numpy.asarray(values.reshape(leaf.shape), dtype=leaf.dtype)

    return jax.tree_util.tree_map(fill, like)


@eqx.filter_jit
def _outputs(model, x):
    """The model on a batch, jitted: one compile shared by models of the same structure."""
    return jax.vmap(model)(x)


@pytest.mark.parametrize("cls, hyper", CASES, ids=[c.__name__ for c, _ in CASES])
def test_round_trip_is_bitwise(cls, hyper, tmp_path):
    model = _filled(cls, hyper)
    path = save_model(tmp_path / "m.eqx", model, hyper)
    loaded = load_model(path)
    assert type(loaded) is cls
    x = jax.random.normal(jax.random.PRNGKey(1), (5, hyper["dim"]))
    out = np.asarray(_outputs(model, x))
    assert np.isfinite(out).all()
    np.testing.assert_array_equal(np.asarray(_outputs(loaded, x)), out)
    # another model of the same hyperparameters differs: the leaves really were read back
    other = _filled(cls, hyper, phase=1.0)
    assert not np.array_equal(np.asarray(_outputs(other, x)), out)


def test_wrong_hyperparameters_are_refused_at_save(tmp_path):
    model = _filled(OnsagerNet, dict(dim=3, width=20))
    with pytest.raises(ValueError, match="arrays differ"):
        save_model(tmp_path / "m.eqx", model, dict(dim=3, width=10))
    with pytest.raises(TypeError, match="cannot be saved"):
        save_model(tmp_path / "m.eqx", model, dict(dim=3, width=20, activation=object()))


def test_missing_and_corrupt_files_fail_in_one_line(tmp_path):
    with pytest.raises(FileNotFoundError, match="no model file"):
        load_model(tmp_path / "absent.eqx")
    path = save_model(
        tmp_path / "m.eqx", _filled(OnsagerNet, dict(dim=2, width=8)), dict(dim=2, width=8)
    )
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

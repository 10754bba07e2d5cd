"""OnsagerNet's constructor runs as one compiled program, bitwise equal to the eager build."""

import jax
import numpy as np
import pytest

from dynml.core.compile import CompileStats
from dynml.identify import OnsagerNet
from dynml.identify.onsager import _build_parts

# The eager build compiles a few dozen one-op programs (seconds): one case by default.
CASES = [
    dict(dim=3, width=20, depth=2, forcing="affine", init_gain=0.1),
    pytest.param(dict(dim=2, width=8, depth=3, forcing="constant", init_gain=0.1),
                 marks=pytest.mark.slow),
    pytest.param(dict(dim=4, width=6, depth=1, forcing="none", init_gain=None),
                 marks=pytest.mark.slow),
]  # fmt: skip


def _leaves(tree):
    return [np.asarray(x) for x in jax.tree_util.tree_leaves(tree)]


@pytest.mark.parametrize("case", CASES, ids=("affine", "constant", "none"))
def test_jitted_constructor_equals_the_eager_build_bitwise(case):
    key = jax.random.key(3)
    net = OnsagerNet(case["dim"], case["width"], case["depth"], forcing=case["forcing"],
                     init_gain=case["init_gain"], key=key)  # fmt: skip
    # the old constructor: the same code dispatched op by op (each op its own small program)
    eager = _build_parts(case["dim"], case["width"], case["depth"], case["forcing"],
                         case["init_gain"], key)  # fmt: skip
    built = (net.layers, net.matrix_head, net.potential_head, net.gamma, net.force, net.force_bias)
    assert jax.tree_util.tree_structure(built) == jax.tree_util.tree_structure(eager)
    for a, b in zip(_leaves(built), _leaves(eager), strict=True):
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_array_equal(a, b)


def test_a_second_seed_compiles_nothing():
    OnsagerNet(3, 12, key=jax.random.key(0))
    with CompileStats() as stats:
        net = OnsagerNet(3, 12, key=jax.random.key(1))
    assert stats.compilations == 0, stats.names
    assert np.isfinite(np.asarray(net(np.ones(3, np.float32)))).all()

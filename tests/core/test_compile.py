"""compile: CompileStats counts compilations; the persistent cache hits in a second process."""

import json
import os
import subprocess
import sys

import jax
import jax.numpy as jnp

from dynml.core.compile import CompileStats, enable_persistent_cache

_CHILD = """
import json, sys
import jax, jax.numpy as jnp
from dynml.core.compile import CompileStats, enable_persistent_cache
enable_persistent_cache(sys.argv[1])
x = jnp.linspace(0.0, 1.0, 7)
with CompileStats() as stats:
    f = jax.jit(lambda y: jnp.cumsum(jnp.sin(y) * 3.0 + y ** 2))
    jax.block_until_ready(f(x))
print(json.dumps(stats.as_dict()))
"""


def test_compile_stats_counts_one_compilation_per_new_shape():
    f = jax.jit(lambda y: jnp.tanh(y) * 2.0 - y)
    with CompileStats() as stats:
        f(jnp.ones(11))
        f(jnp.ones(11))  # same shape: no new compilation
        f(jnp.ones(12))  # new shape: one more
    assert [n for n in stats.names if "lambda" in n] == ["jit(<lambda>)", "jit(<lambda>)"]
    assert stats.compile_seconds > 0
    top = {name: (count, sec) for name, count, sec in stats.top()}
    assert top["jit(<lambda>)"][0] == 2 and top["jit(<lambda>)"][1] > 0
    assert stats.as_dict()["top_compiles"] == stats.top()
    with CompileStats() as again:
        f(jnp.ones(12))
    assert again.executables == 0


def test_persistent_cache_hits_in_a_second_process(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "DYNML_NO_COMPILE_CACHE"}
    run = lambda: json.loads(
        subprocess.run(
            [sys.executable, "-c", _CHILD, str(tmp_path)],
            check=True,
            capture_output=True,
            text=True,
            env=env,
        ).stdout.splitlines()[-1]
    )
    first, second = run(), run()
    assert first["compilations"] >= 1 and first["compile_cache_hits"] == 0
    assert second["compilations"] == 0 and second["compile_cache_hits"] == first["executables"]


def test_cache_can_be_switched_off(monkeypatch, tmp_path):
    monkeypatch.setenv("DYNML_NO_COMPILE_CACHE", "1")
    assert enable_persistent_cache(tmp_path / "cache") is None
    assert not (tmp_path / "cache").exists()


def test_structural_key_equal_for_same_code_and_closure_only():
    import numpy as np
    import optax
    import pytest

    from dynml.core.compile import Unkeyable, structural_key

    def scaled(c):
        return lambda y: c * y

    key = structural_key
    assert key(scaled(2.0)) == key(scaled(2.0))
    assert hash(key(scaled(2.0))) == hash(key(scaled(2.0)))
    assert key(scaled(2.0)) != key(scaled(3.0))
    assert key(scaled(0.0)) != key(scaled(-0.0))
    assert key(scaled(1)) != key(scaled(1.0))
    assert key(optax.adam(1e-3)) == key(optax.adam(1e-3)) != key(optax.adam(2e-3))
    assert key(scaled(np.arange(3.0))) == key(scaled(np.arange(3.0))) != key(scaled(np.ones(3)))
    with pytest.raises(Unkeyable):
        key(scaled(np.zeros(100_000)))

"""Compilation: a persistent XLA cache across processes, and counting what a run compiles.

JAX compiles every jitted function once per shape and dtype signature. Within a process
that cost is paid once when functions are reused (see `solve` and `fit`); across processes
the persistent compilation cache stores the compiled executables on disk, so a second run
of the same experiment and configuration compiles (nearly) nothing.

```python
from dynml.core.compile import CompileStats, enable_persistent_cache

enable_persistent_cache()            # ~/.cache/dynml/jax unless DYNML_NO_COMPILE_CACHE=1
with CompileStats() as stats:
    ...                              # anything that jits
stats.as_dict()                      # {"compilations": 12, "compile_seconds": 3.4, ...}
```

`structural_key(obj)` is the key under which a compiled function is reused: two functions
with the same code, defaults and closure contents (recursively: optax transformations are
such closures) get equal keys, so a fresh `optax.chain(...)` or `lambda` built on every call
with the same settings does not force a recompilation.
"""

import dataclasses
import functools
import os
import threading
import types
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import jax
import numpy as np
from jax import monitoring

ENV_OFF = "DYNML_NO_COMPILE_CACHE"
ENV_DIR = "DYNML_COMPILE_CACHE"

_TRACE = "/jax/core/compile/jaxpr_trace_duration"
_LOWER = "/jax/core/compile/jaxpr_to_mlir_module_duration"
_BACKEND = "/jax/core/compile/backend_compile_duration"
_HIT = "/jax/compilation_cache/cache_hits"
_MISS = "/jax/compilation_cache/cache_misses"


def default_cache_dir() -> Path:
    """`$DYNML_COMPILE_CACHE`, else `$XDG_CACHE_HOME/dynml/jax` (`~/.cache/dynml/jax`)."""
    if os.environ.get(ENV_DIR):
        return Path(os.environ[ENV_DIR]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "dynml" / "jax"


def enable_persistent_cache(
    path: str | Path | None = None, *, min_compile_seconds: float = 0.0
) -> Path | None:
    """Store compiled XLA executables in `path` (default `default_cache_dir()`) and reuse them.

    Returns the folder, or `None` when the environment sets `DYNML_NO_COMPILE_CACHE=1` (the
    cache then stays off). Every compilation taking at least `min_compile_seconds` is stored
    (0: all of them, so the small functions of quick runs hit too). Call it before the first
    compilation of the process; later calls re-point the cache.
    """
    if os.environ.get(ENV_OFF, "0") not in ("", "0"):
        return None
    folder = Path(path).expanduser() if path is not None else default_cache_dir()
    folder.mkdir(parents=True, exist_ok=True)
    jax.config.update("jax_compilation_cache_dir", str(folder))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", float(min_compile_seconds))
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    try:  # JAX decides once per process whether the cache is on: let it decide again
        from jax._src import compilation_cache

        compilation_cache.reset_cache()
    except (ImportError, AttributeError):  # pragma: no cover - other JAX versions
        pass
    return folder


@dataclass
class CompileStats:
    """Context manager counting XLA compilations (and their seconds) while it is open.

    `executables` counts the executables built or loaded from the persistent cache,
    `compilations` those actually compiled (`executables - cache_hits`); `compile_seconds`
    sums tracing, lowering and backend compilation (or cache retrieval); `cache_hits` and
    `cache_misses` count persistent-cache look-ups; `names` lists the functions (`jit(name)`),
    one entry per executable. Reads JAX's `jax.monitoring` events, so it
    counts compilations from every thread of the process.
    """

    executables: int = 0
    trace_seconds: float = 0.0
    lower_seconds: float = 0.0
    backend_seconds: float = 0.0
    cache_hits: int = 0
    cache_misses: int = 0
    names: list[str] = field(default_factory=list)
    seconds_by_name: dict[str, float] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def compilations(self) -> int:
        """Executables compiled (not loaded from the persistent cache)."""
        return max(0, self.executables - self.cache_hits)

    @property
    def compile_seconds(self) -> float:
        """Tracing + lowering + backend compilation, in seconds."""
        return self.trace_seconds + self.lower_seconds + self.backend_seconds

    def _on_duration(self, event: str, duration: float, **kwargs) -> None:
        with self._lock:
            if event == _BACKEND:
                self.executables += 1
                self.backend_seconds += duration
                name = str(kwargs.get("fun_name", "?"))
                self.names.append(name)
                self.seconds_by_name[name] = self.seconds_by_name.get(name, 0.0) + duration
            elif event == _TRACE:
                self.trace_seconds += duration
            elif event == _LOWER:
                self.lower_seconds += duration

    def _on_event(self, event: str, **kwargs) -> None:
        del kwargs
        with self._lock:
            if event == _HIT:
                self.cache_hits += 1
            elif event == _MISS:
                self.cache_misses += 1

    def __enter__(self) -> "CompileStats":
        monitoring.register_event_duration_secs_listener(self._on_duration)
        monitoring.register_event_listener(self._on_event)
        return self

    def __exit__(self, *exc) -> None:
        monitoring.unregister_event_duration_listener(self._on_duration)
        monitoring.unregister_event_listener(self._on_event)

    def top(self, n: int = 8) -> list[list]:
        """The `n` functions with the most backend-compile seconds: `[name, count, seconds]`."""
        counts = Counter(self.names)
        ranked = sorted(self.seconds_by_name.items(), key=lambda kv: -kv[1])[:n]
        return [[name, counts[name], round(sec, 3)] for name, sec in ranked]

    def as_dict(self) -> dict[str, float | int | list]:
        """The counts as plain numbers (for metrics.json), with the costliest functions."""
        return {
            "compilations": self.compilations,
            "executables": self.executables,
            "compile_seconds": round(self.compile_seconds, 3),
            "backend_compile_seconds": round(self.backend_seconds, 3),
            "compile_cache_hits": self.cache_hits,
            "compile_cache_misses": self.cache_misses,
            "top_compiles": self.top(),
        }


class Unkeyable(TypeError):
    """`structural_key` met a value it cannot key by content (a large or traced array, ...)."""


# Arrays captured by a closure are keyed by value up to this many bytes (they are baked into
# the compiled function as constants); larger ones make the object unkeyable.
_MAX_KEY_BYTES = 1 << 16
_SCALARS = (type(None), bool, int, float, complex, str, bytes, type(Ellipsis))


def structural_key(obj, _stack: tuple = ()) -> object:
    """A hashable key, equal for two objects that trace to the same computation.

    Python functions are keyed by their code object, globals (the module), defaults and the
    contents of their closure cells; `functools.partial` by function and arguments; bound
    methods by function and instance; equinox modules and dataclasses by type and fields;
    tuples, lists and dicts by their items; numpy/JAX arrays up to 64 KiB by dtype, shape and
    bytes; scalars by type and value; anything else by its own hash (identity by default).
    Raises `Unkeyable` for what cannot be keyed (tracers, large arrays, unhashable objects).
    """
    if isinstance(obj, float):  # by bits: 0.0 and -0.0 trace to different constants
        return (float, obj.hex())
    if isinstance(obj, _SCALARS):
        return (type(obj), obj)
    if id(obj) in _stack:  # a recursive closure: the enclosing key already covers it
        return ("cycle", _stack.index(id(obj)))
    stack = (*_stack, id(obj))
    rec = lambda x: structural_key(x, stack)  # noqa: E731
    if isinstance(obj, tuple | list):
        return (type(obj), tuple(rec(x) for x in obj))
    if isinstance(obj, dict):
        return (dict, tuple((rec(k), rec(v)) for k, v in obj.items()))
    if isinstance(obj, functools.partial):
        return (functools.partial, rec(obj.func), rec(obj.args), rec(obj.keywords))
    if isinstance(obj, types.FunctionType):
        cells = tuple(_cell(c, rec) for c in obj.__closure__ or ())
        return (
            types.FunctionType,
            obj.__code__,
            id(obj.__globals__),
            rec(obj.__defaults__),
            rec(obj.__kwdefaults__),
            cells,
        )
    if isinstance(obj, types.MethodType):
        return (types.MethodType, rec(obj.__func__), rec(obj.__self__))
    if isinstance(obj, jax.core.Tracer):
        raise Unkeyable("a traced value has no structural key")
    if isinstance(obj, np.ndarray | np.generic | jax.Array):
        return _array_key(obj)
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        fields = tuple((f.name, rec(getattr(obj, f.name, None))) for f in dataclasses.fields(obj))
        return (type(obj), fields)
    try:
        hash(obj)
    except TypeError as err:
        raise Unkeyable(f"cannot key a {type(obj).__name__}") from err
    return (type(obj), obj)


def _cell(cell, rec):
    try:
        contents = cell.cell_contents
    except ValueError:  # an empty cell (a name assigned later in the enclosing scope)
        return ("empty",)
    return rec(contents)


def _array_key(x) -> tuple:
    if getattr(x, "nbytes", 0) > _MAX_KEY_BYTES:
        raise Unkeyable(f"an array of {x.nbytes} bytes is too large to key by value")
    try:
        a = np.asarray(x)
    except Exception as err:  # e.g. typed PRNG keys
        raise Unkeyable(f"cannot key an array of dtype {x.dtype}") from err
    return (type(x), str(a.dtype), a.shape, a.tobytes())

"""Atomic file writes (a temporary file beside the target, renamed over it) and model files.

`save_model(path, model, hyperparams)` writes one file: a JSON header line naming the model's
class and the constructor arguments `hyperparams`, then the array leaves serialised by
`equinox.tree_serialise_leaves` (the pattern of equinox's serialisation guide).
`load_model(path)` rebuilds the skeleton `cls(**hyperparams, key=...)` and reads the leaves
into it, so the loaded model is bitwise equal to the saved one.
"""

import dataclasses
import importlib
import inspect
import json
import os
import signal
import tempfile
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_path(path: str | Path):
    """Yield a temporary path in the target's folder; on success rename it to `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the usual file mode
        kill_point(f"before-rename:{path.name}")
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


_hits: dict[str, int] = {}


def kill_point(name: str) -> None:
    """SIGKILL this process here if `DYNML_KILL_AT` names this point (a test hook).

    `DYNML_KILL_AT=name` kills the first time the point is reached, `name@K` the K-th time;
    unset (always, outside tests) it does nothing. Tests use it to interrupt a run between
    any two writes and check that the run resumes to the same result.
    """
    wanted = os.environ.get("DYNML_KILL_AT")
    if not wanted:
        return
    point, _, count = wanted.partition("@")
    if point != name:
        return
    _hits[name] = _hits.get(name, 0) + 1
    if _hits[name] >= int(count or 1):
        os.kill(os.getpid(), signal.SIGKILL)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_text(path: str | Path, text: str) -> Path:
    """Write `text` to `path` atomically."""
    with atomic_path(path) as tmp:
        Path(tmp).write_text(text)
    return Path(path)


def write_json(path: str | Path, obj) -> Path:
    """Write `obj` as indented JSON to `path` atomically."""
    return write_text(path, json.dumps(obj, indent=2, default=_to_builtin) + "\n")


def _to_builtin(obj):
    if hasattr(obj, "tolist"):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"cannot serialise {type(obj).__name__} to JSON")


MODEL_FORMAT = "dynml-model/1"


def _encode(value):
    """A constructor argument as JSON: a frozen dataclass (e.g. a region) by class and fields."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = {f.name: _encode(getattr(value, f.name)) for f in dataclasses.fields(value)}
        return {"__dataclass__": _qualname(type(value)), "fields": fields}
    if isinstance(value, tuple | list):
        return [_encode(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _encode(v) for k, v in value.items()}
    if hasattr(value, "tolist"):
        return value.tolist()
    if value is None or isinstance(value, str | int | float | bool):
        return value
    raise TypeError(
        f"hyperparameter of type {type(value).__name__} cannot be saved: give numbers, "
        "strings, tuples, dicts or frozen dataclasses"
    )


def _decode(value):
    """Inverse of `_encode`; lists come back as tuples (hashable, as static fields need)."""
    if isinstance(value, list):
        return tuple(_decode(v) for v in value)
    if isinstance(value, dict) and "__dataclass__" in value:
        cls = _import(value["__dataclass__"])
        return cls(**{k: _decode(v) for k, v in value["fields"].items()})
    if isinstance(value, dict):
        return {k: _decode(v) for k, v in value.items()}
    return value


def _qualname(cls: type) -> str:
    return f"{cls.__module__}:{cls.__qualname__}"


def _import(name: str) -> type:
    """The class `module:qualname`; only dynml's own classes are imported from a file."""
    module, _, qual = name.partition(":")
    if module.split(".")[0] != "dynml" or not qual:
        raise ValueError(f"{name!r} is not a dynml class: pass cls= to load_model")
    obj = importlib.import_module(module)
    for part in qual.split("."):
        obj = getattr(obj, part)
    return obj


def _build(cls: type, hyperparams: dict):
    """The skeleton of `cls(**hyperparams)` (dummy `key=` when the constructor takes one).

    Built abstractly (`eqx.filter_eval_shape`): its array leaves are `jax.ShapeDtypeStruct`s,
    so nothing is initialised or compiled; the constructor's argument checks still run.
    """
    import equinox as eqx
    import jax

    kwargs = dict(hyperparams)
    if "key" in inspect.signature(cls).parameters and "key" not in kwargs:
        kwargs["key"] = jax.random.PRNGKey(0)
    return eqx.filter_eval_shape(lambda: cls(**kwargs))


def save_model(path: str | Path, model, hyperparams: dict) -> Path:
    """Write `model` and the constructor arguments that rebuild it to `path` (atomically).

    `hyperparams` are the keyword arguments of `type(model)(..., key=...)` without `key`
    (e.g. `dict(dim=3, width=20)` for `OnsagerNet`); the skeleton they build must have the
    leaves of `model` (checked here, so a wrong dict fails at save time, not at load).
    """
    import equinox as eqx
    import jax

    header = {
        "format": MODEL_FORMAT,
        "class": _qualname(type(model)),
        "hyperparams": _encode(dict(hyperparams)),
    }
    like = _build(type(model), _decode(header["hyperparams"]))
    is_leaf = lambda x: isinstance(x, jax.ShapeDtypeStruct) or eqx.is_array(x)  # noqa: E731
    shapes = lambda m: [  # noqa: E731
        (x.shape, x.dtype) for x in jax.tree_util.tree_leaves(eqx.filter(m, is_leaf))
    ]
    if shapes(like) != shapes(model):
        raise ValueError(
            f"hyperparams {hyperparams} build a {type(model).__name__} whose arrays differ "
            "from the model's: give the arguments the model was built with"
        )
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        f.write((json.dumps(header) + "\n").encode())
        eqx.tree_serialise_leaves(f, model)
    return Path(path)


def load_model(path: str | Path, cls: type | None = None):
    """The model saved by `save_model` at `path`, bitwise equal to the one saved.

    The class is the one named in the file (a dynml class), or `cls`. A missing file raises
    `FileNotFoundError`; a file that is not a model file, or whose arrays do not match the
    class and hyperparameters it names (truncated, overwritten), raises `BadInput` in one line.
    """
    import equinox as eqx

    from .domains import BadInput

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no model file at {path}")
    with open(path, "rb") as f:
        try:
            header = json.loads(f.readline().decode())
            if header.get("format") != MODEL_FORMAT:
                raise ValueError(f"format {header.get('format')!r}")
        except (ValueError, UnicodeDecodeError, AttributeError) as err:
            raise BadInput(f"{path} is not a dynml model file ({err})") from None
        try:
            model_cls = cls or _import(header["class"])
            like = _build(model_cls, _decode(header["hyperparams"]))
        except (ValueError, TypeError, KeyError, ImportError, AttributeError) as err:
            raise BadInput(f"{path}: cannot rebuild {header.get('class')} ({err})") from None
        try:
            model = eqx.tree_deserialise_leaves(f, like)
        except Exception as err:  # numpy/equinox raise several types for bad bytes
            why = (str(err).splitlines() or [""])[0]
            raise BadInput(f"{path}: corrupt model arrays ({type(err).__name__}: {why})") from None
        if f.read(1):
            raise BadInput(f"{path}: trailing bytes after the model arrays (corrupt file)")
    return model

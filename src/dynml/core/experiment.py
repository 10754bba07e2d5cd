"""The experiment contract: `@experiment(...)` on a frozen Config dataclass, plus `run(cfg, run)`.

An experiment module defines a frozen dataclass `Config` (typed fields, a `seed`, and a
`quick()` classmethod that returns a seconds-scale config on the same code path) decorated
with `@experiment(name, paper=..., summary=...)`, and a function `run(cfg, run)` in the
same module that does the real computation and records numbers and figures on `run`.
"""

import dataclasses
import sys
import tempfile
import traceback
import types
import typing
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from .claims import Claim
from .compile import CompileStats
from .domains import BadInput, validate_config
from .io import kill_point, write_text
from .runs import CURRENT_RUN, Run, RunIndex


@dataclass(frozen=True)
class ExperimentSpec:
    """A registered experiment: its name, what it reproduces, and its Config class."""

    name: str
    paper: str
    summary: str
    config_cls: type
    claims: tuple[Claim, ...] = ()

    @property
    def run_fn(self):
        return sys.modules[self.config_cls.__module__].run

    def config(self, quick: bool = False, seed: int | None = None, overrides=()) -> object:
        """The default (or quick) config with `--seed` and `key=value` overrides applied."""
        cfg = self.config_cls.quick() if quick else self.config_cls()
        values = parse_overrides(self.config_cls, overrides, self.name)
        if seed is not None:
            values["seed"] = parse_overrides(self.config_cls, [f"seed={seed}"], self.name)["seed"]
        cfg = dataclasses.replace(cfg, **values)
        validate_config(cfg)
        return cfg

    def config_from_dict(self, values: dict) -> object:
        """A validated config from a run's `config.json` `"config"` object (lists become tuples)."""
        if not isinstance(values, dict):
            raise ValueError(f"a config for {self.name!r} must be a JSON object")
        hints = typing.get_type_hints(self.config_cls)
        unknown = sorted(set(values) - set(hints))
        if unknown:
            raise ValueError(f"unknown config key(s) {unknown} for experiment {self.name!r}")
        typed = {k: _from_json(v, hints[k], k) for k, v in values.items()}
        cfg = dataclasses.replace(self.config_cls(), **typed)
        validate_config(cfg)
        return cfg


REGISTRY: dict[str, ExperimentSpec] = {}


def experiment(name: str, *, paper: str, summary: str, claims: Sequence[Claim] = ()):
    """Register the decorated Config dataclass as the experiment `name`.

    `claims` are the paper's claims this experiment checks (see `dynml.core.claims`); their
    verdicts are computed from the run's metrics when it finishes.
    """

    def register(cls):
        if not dataclasses.is_dataclass(cls):
            raise TypeError(f"@experiment({name!r}) must decorate a dataclass")
        params = getattr(cls, "__dataclass_params__", None)
        if params is None or not params.frozen:
            raise TypeError(f"@experiment({name!r}): the Config dataclass must be frozen")
        if "seed" not in {f.name for f in dataclasses.fields(cls)}:
            raise TypeError(f"@experiment({name!r}): the Config needs a `seed` field")
        if not callable(getattr(cls, "quick", None)):
            raise TypeError(f"@experiment({name!r}): the Config needs a `quick()` classmethod")
        old = REGISTRY.get(name)
        if old is not None and (old.config_cls.__module__, old.config_cls.__qualname__) != (
            cls.__module__,
            cls.__qualname__,
        ):
            raise ValueError(
                f"experiment name {name!r} is already registered by {old.config_cls.__module__}"
            )
        for claim in claims:
            if not isinstance(claim, Claim):
                raise TypeError(f"@experiment({name!r}): claims must be Claim objects")
        REGISTRY[name] = ExperimentSpec(name, paper, summary, cls, tuple(claims))
        return cls

    return register


def get(name: str) -> ExperimentSpec:
    """The registered experiment `name`, or a `ValueError` listing the known ones."""
    if name not in REGISTRY:
        raise ValueError(f"unknown experiment {name!r}; known: {', '.join(sorted(REGISTRY))}")
    return REGISTRY[name]


def _type_name(tp) -> str:
    return getattr(tp, "__name__", str(tp))


def _parse_value(text: str, tp, field: str):
    origin = typing.get_origin(tp)
    if origin in (tuple, list):
        inner = typing.get_args(tp)[0] if typing.get_args(tp) else str
        body = text.strip()
        opened, closed = body[:1] in "([", body[-1:] in ")]"
        if opened != closed or body.count("(") + body.count("[") > int(opened):
            raise ValueError(f"config field {field!r} expects a tuple like (1,2), got {text!r}")
        body = body[1:-1] if opened else body
        items = [s.strip() for s in body.split(",")]
        if items and items[-1] == "" and len(items) > 1:
            items = items[:-1]  # a trailing comma, as in (1,)
        if not items or any(s == "" for s in items):
            raise ValueError(
                f"config field {field!r} expects a non-empty tuple like (1,2), got {text!r}"
            )
        return tuple(_parse_value(s, inner, field) for s in items)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(tp) if a is not type(None)]
        if text.lower() in ("none", "null", ""):
            return None
        return _parse_value(text, options[0], field)
    try:
        if tp is bool:
            if text.lower() in ("1", "true", "yes", "on"):
                return True
            if text.lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError
        if tp is int:
            return int(text)
        if tp is float:
            return float(text)
        return tp(text)
    except ValueError:
        raise ValueError(f"config field {field!r} expects {_type_name(tp)}, got {text!r}") from None


def _from_json(value, tp, field: str):
    origin = typing.get_origin(tp)
    if origin in (tuple, list) and isinstance(value, list):
        inner = typing.get_args(tp)[0] if typing.get_args(tp) else str
        return tuple(_from_json(v, inner, field) for v in value)
    if origin in (typing.Union, types.UnionType):
        if value is None:
            return None
        return _from_json(value, [a for a in typing.get_args(tp) if a is not type(None)][0], field)
    if tp is float and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if tp in (int, str, bool) and type(value) is tp:
        return value
    raise ValueError(f"config field {field!r} expects {_type_name(tp)}, got {value!r}")


def parse_overrides(config_cls: type, overrides, experiment_name: str) -> dict:
    """Turn `["key=value", ...]` into typed values for `config_cls`, refusing unknown keys."""
    hints = typing.get_type_hints(config_cls)
    values = {}
    for item in overrides:
        if "=" not in item:
            raise ValueError(f"--set expects key=value, got {item!r}")
        key, text = item.split("=", 1)
        key = key.strip()
        if key not in hints:
            raise ValueError(
                f"unknown config key {key!r} for experiment {experiment_name!r}; "
                f"known: {', '.join(hints)}"
            )
        values[key] = _parse_value(text.strip(), hints[key], key)
    return values


def check_writable(root: Path) -> Path:
    """Create `root` if needed and check it is a writable folder (`ValueError` otherwise)."""
    root = Path(root)
    try:
        root.mkdir(parents=True, exist_ok=True)
        # a uniquely named probe: runs started together on one folder (a sweep's workers) must
        # not delete each other's probe
        with tempfile.TemporaryFile(dir=root, prefix=".write-test-"):
            pass
    except OSError as err:
        raise ValueError(f"output folder {root} is not writable ({err.strerror})") from None
    return root


class RunFailed(RuntimeError):
    """An experiment raised or diverged; its folder, numbers and traceback are kept."""

    def __init__(self, run: Run, message: str):
        super().__init__(message)
        self.run = run


def new_folder(spec: ExperimentSpec, cfg, out_root: Path, quick: bool) -> Path:
    """A fresh `out_root/NAME/<date>-<time>-s<seed>[-quick][-n]` folder name (not created)."""
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    suffix = "-quick" if quick else ""
    base = f"{stamp}-s{getattr(cfg, 'seed', 0)}{suffix}"
    folder, n = out_root / spec.name / base, 1
    while folder.exists():
        n += 1
        folder = out_root / spec.name / f"{base}-{n}"
    return folder


def execute(
    spec: ExperimentSpec, cfg, out_root: Path, quick: bool, folder: Path | None = None
) -> Run:
    """Run one experiment into a folder under `out_root` and record it in the index.

    With `folder` (an existing run folder) the run resumes there: training that checkpoints
    into `run.checkpoint_dir` continues from its last checkpoint, and the index keeps one row
    for the folder. A failure inside the experiment is recorded (status `failed`, or
    `diverged` when training hit a non-finite loss; the error in the report and
    `traceback.txt`) with every number and figure written so far kept, and raised as
    `RunFailed`. Ctrl-C marks the run `interrupted` (resumable) and is re-raised.
    """
    out_root = check_writable(out_root)
    index = RunIndex(out_root)
    folder = Path(folder) if folder is not None else new_folder(spec, cfg, out_root, quick)
    run = Run(spec.name, spec.summary, spec.paper, cfg, folder, quick, claims=spec.claims)
    clean_stale_temporaries(folder)
    run_id = index.add(run)
    kill_point("after-index-add")
    token = CURRENT_RUN.set(run)
    stats = CompileStats()
    try:
        with stats:
            spec.run_fn(cfg, run)
    except KeyboardInterrupt:
        run.compile_stats = stats.as_dict()
        run.finish("interrupted", "interrupted by the user; resume with dynml resume")
        index.update(run_id, run)
        raise
    except BadInput as err:
        run.compile_stats = stats.as_dict()
        run.finish("failed", f"bad input: {err}")
        index.update(run_id, run)
        raise
    except Exception as err:
        run.compile_stats = stats.as_dict()
        run.finish("diverged" if run.divergences else "failed", f"{type(err).__name__}: {err}")
        write_text(run.folder / "traceback.txt", traceback.format_exc())
        index.update(run_id, run)
        raise RunFailed(run, f"{type(err).__name__}: {err}") from err
    finally:
        CURRENT_RUN.reset(token)
        run.compile_stats = stats.as_dict()
    if run.divergences:
        run.finish("diverged", run.divergences[0])
        index.update(run_id, run)
        raise RunFailed(run, f"training diverged: {run.divergences[0]}")
    run.finish("done")
    kill_point("before-index-update")
    index.update(run_id, run)
    return run


def clean_stale_temporaries(folder: Path) -> int:
    """Remove `.NAME.*.tmp` files left in a run folder by a killed write; return how many."""
    n = 0
    for tmp in Path(folder).rglob(".*.tmp"):
        if tmp.is_file():
            tmp.unlink()
            n += 1
    return n

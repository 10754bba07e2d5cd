"""The experiment contract: `@experiment(...)` on a frozen Config dataclass, plus `run(cfg, run)`.

An experiment module defines a frozen dataclass `Config` (typed fields, a `seed`, and a
`quick()` classmethod that returns a seconds-scale config on the same code path) decorated
with `@experiment(name, paper=..., summary=...)`, and a function `run(cfg, run)` in the
same module that does the real computation and records numbers and figures on `run`.
"""

import dataclasses
import sys
import traceback
import types
import typing
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from .claims import Claim
from .runs import Run, RunIndex


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
        return dataclasses.replace(cfg, **values)


REGISTRY: dict[str, ExperimentSpec] = {}


def experiment(name: str, *, paper: str, summary: str, claims: Sequence[Claim] = ()):
    """Register the decorated Config dataclass as the experiment `name`.

    `claims` are the paper's claims this experiment checks (see `dynml.core.claims`); their
    verdicts are computed from the run's metrics when it finishes.
    """

    def register(cls):
        if not dataclasses.is_dataclass(cls):
            raise TypeError(f"@experiment({name!r}) must decorate a dataclass")
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
        items = [s for s in text.strip("()[] ").split(",") if s.strip()]
        return tuple(_parse_value(s.strip(), inner, field) for s in items)
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
        probe = root / ".write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as err:
        raise ValueError(f"output folder {root} is not writable ({err.strerror})") from None
    return root


def execute(spec: ExperimentSpec, cfg, out_root: Path, quick: bool) -> Run:
    """Run one experiment into a new folder under `out_root` and record it in the index.

    A failure inside the experiment is recorded (status `failed`, the error in the report)
    with every number and figure written so far kept, then re-raised.
    """
    out_root = check_writable(out_root)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    suffix = "-quick" if quick else ""
    folder = out_root / spec.name / f"{stamp}-s{getattr(cfg, 'seed', 0)}{suffix}"
    n = 1
    while folder.exists():
        n += 1
        folder = folder.with_name(f"{stamp}-s{getattr(cfg, 'seed', 0)}{suffix}-{n}")
    run = Run(spec.name, spec.summary, spec.paper, cfg, folder, quick, claims=spec.claims)
    index = RunIndex(out_root)
    run_id = index.add(run)
    try:
        spec.run_fn(cfg, run)
    except BaseException as err:
        run.finish("failed", f"{type(err).__name__}: {err}")
        (run.folder / "traceback.txt").write_text(traceback.format_exc())
        index.update(run_id, run)
        raise
    run.finish("done")
    index.update(run_id, run)
    return run

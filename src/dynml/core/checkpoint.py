"""Checkpoints written as one atomic unit: arrays and metadata together, or neither.

A checkpoint is a folder `step-NNNNNNNNNN/` holding `state.eqx` (equinox-serialised arrays)
and `meta.json`, built under a temporary name and renamed into place in one `rename`, so a
process killed at any moment leaves either the previous complete checkpoint or the new one,
never a state from one step with the metadata of another. Older checkpoints are removed
after the new one is in place; stale temporary folders are removed by the next save.

The points `checkpoint-between-files` and `checkpoint-written` are test hooks
(`dynml.core.io.kill_point`): tests kill a run there and check that it resumes exactly.
"""

import json
import os
import shutil
from pathlib import Path

import equinox as eqx

from .io import kill_point, write_json

STATE, META = "state.eqx", "meta.json"
_PREFIX = "step-"


def _complete(folder: Path) -> list[Path]:
    found = [
        p
        for p in folder.glob(f"{_PREFIX}*")
        if p.is_dir() and (p / STATE).is_file() and (p / META).is_file()
    ]
    return sorted(found, key=lambda p: int(p.name[len(_PREFIX) :]))


def latest(folder: str | Path) -> Path | None:
    """The newest complete checkpoint under `folder`, or None."""
    folder = Path(folder)
    if not folder.is_dir():
        return None
    found = _complete(folder)
    return found[-1] if found else None


def save(folder: str | Path, step: int, arrays, meta: dict) -> Path:
    """Write the checkpoint of `step` (a pytree of arrays and a JSON-able dict) atomically."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob(f".{_PREFIX}*.tmp"):
        shutil.rmtree(stale, ignore_errors=True)
    final = folder / f"{_PREFIX}{step:010d}"
    tmp = folder / f".{final.name}.{os.getpid()}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    eqx.tree_serialise_leaves(tmp / STATE, arrays)
    kill_point("checkpoint-between-files")
    write_json(tmp / META, meta)
    if final.exists():
        shutil.rmtree(final)
    os.replace(tmp, final)
    kill_point("checkpoint-written")
    for old in _complete(folder)[:-1]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def load(folder: str | Path, like) -> tuple[object, dict] | None:
    """`(arrays, meta)` of the newest complete checkpoint under `folder` (None if there is none).

    `like` is a pytree with the structure, shapes and dtypes of the saved arrays.
    """
    path = latest(folder)
    if path is None:
        return None
    arrays = eqx.tree_deserialise_leaves(path / STATE, like)
    return arrays, json.loads((path / META).read_text())

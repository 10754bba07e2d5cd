"""A run killed (SIGKILL) at any moment resumes to bitwise-identical parameters and metrics.

The kill points are test hooks in the library (`dynml.core.io.kill_point`): after the run's
index row is written, between the two files of a checkpoint, after a complete checkpoint,
while metrics.json is being replaced, and after the run finished but before its index row
was updated. Each killed run is resumed with `dynml resume RUN_DIR`.
"""

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

KILL_POINTS = [
    "after-index-add",
    "checkpoint-between-files@2",
    "checkpoint-written@1",
    "before-rename:metrics.json@3",
    "before-index-update",
]
ARGS = ["run", "toy-line", "--quick"]


def _dynml(args, out: Path, kill: str | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "DYNML_PROGRESS": "0"}
    env.pop("DYNML_KILL_AT", None)
    if kill:
        env["DYNML_KILL_AT"] = kill
    code = "import sys; from dynml.cli import main; sys.exit(main())"
    return subprocess.run(
        [sys.executable, "-c", code, *args, "--out", str(out)],
        env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip


def _state(folder: Path) -> tuple[bytes, dict]:
    (ckpt,) = sorted((folder / "checkpoint").glob("step-*"))[-1:]
    metrics = json.loads((folder / "metrics.json").read_text())
    return (ckpt / "state.eqx").read_bytes(), metrics["metrics"]


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    out = tmp_path_factory.mktemp("reference")
    assert _dynml(ARGS, out).returncode == 0
    (folder,) = (out / "toy-line").iterdir()
    return _state(folder)


@pytest.mark.parametrize("kill", KILL_POINTS)
def test_killed_run_resumes_bitwise_identically(kill, reference, tmp_path):
    killed = _dynml(ARGS, tmp_path, kill=kill)
    assert killed.returncode == -9, killed.stderr
    (folder,) = (tmp_path / "toy-line").iterdir()
    rows = sqlite3.connect(tmp_path / "index.sqlite").execute("SELECT status FROM runs").fetchall()
    assert rows == [("running",)]
    listing = _dynml(["runs"], tmp_path)
    assert " interrupted " in listing.stdout  # the dead process's row reads as interrupted
    resumed = _dynml(["resume", str(folder)], tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert _state(folder) == reference
    rows = sqlite3.connect(tmp_path / "index.sqlite").execute("SELECT status FROM runs").fetchall()
    assert rows == [("done",)]  # one row per folder, always
    assert not list(folder.rglob("*.tmp"))


def test_run_resume_finds_the_unfinished_run_of_this_config(reference, tmp_path):
    assert _dynml(ARGS, tmp_path, kill="checkpoint-written@1").returncode == -9
    resumed = _dynml([*ARGS, "--resume"], tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    (folder,) = (tmp_path / "toy-line").iterdir()  # continued in place: still one folder
    assert _state(folder) == reference

"""Every example in docs/examples.md runs as written (Python in one fresh process, in order;
shell lines through the CLI)."""

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
EXAMPLES = ROOT / "docs" / "examples.md"


def _blocks(language: str, page: Path = EXAMPLES) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", page.read_text(), flags=re.S)


def test_examples_exist():
    assert len(_blocks("python")) >= 4 and _blocks("bash")


CODE = [(EXAMPLES, i) for i in range(len(_blocks("python")))] + [(ROOT / "README.md", 0)]


@pytest.mark.parametrize("page, i", CODE, ids=[f"{p.name}-{i}" for p, i in CODE])
def test_python_example_runs(page, i, tmp_path):
    code = _blocks("python", page)[i]
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=900,
        env={**os.environ, "DYNML_PROGRESS": "0"},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]


def test_shell_examples_run(tmp_path):
    from dynml.cli import main

    for block in _blocks("bash"):
        for line in filter(None, (s.strip() for s in block.splitlines())):
            argv = shlex.split(line)
            assert argv[0] == "dynml"
            assert main(argv[1:]) == 0, line

"""The library's layout rules: experiments are short and only compose library code."""

import ast
from pathlib import Path

import dynml

SRC = Path(dynml.__file__).parent
EXPERIMENTS = sorted(p for p in (SRC / "experiments").glob("*.py") if p.name != "__init__.py")


def test_every_experiment_file_is_at_most_250_lines():
    long = {p.name: n for p in EXPERIMENTS if (n := len(p.read_text().splitlines())) > 250}
    assert not long, f"experiment files over 250 lines: {long}"


def test_no_experiment_imports_another_experiment():
    names = {p.stem for p in EXPERIMENTS}
    for path in EXPERIMENTS:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                module = node.module or ""
                # `from .x import` (level 1) inside experiments/ is another experiment
                sibling = node.level == 1 and module.split(".")[0] in names
                absolute = module.startswith("dynml.experiments.")
                assert not (sibling or absolute), f"{path.name} imports {module}"


def test_no_test_imports_from_an_experiment_module():
    # analysis a test needs lives in the library; tests reach experiments through the registry
    tests = Path(__file__).parent
    for path in tests.rglob("test_*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
                "dynml.experiments."
            ):
                raise AssertionError(f"{path.relative_to(tests)} imports {node.module}")

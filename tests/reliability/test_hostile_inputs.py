"""Hostile but fair input: every case exits with status 2 and one line on stderr, no traceback,
and loses nothing already written (the existing run's files and index rows are unchanged)."""

import hashlib
import json
import shutil
import sqlite3
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dynml.cli import main
from dynml.core.experiment import parse_overrides

TOY = ["run", "toy-line", "--quick"]

# (case id, argv after the command, expected text in the error line)
SET_CASES = [
    ("n_train zero", TOY + ["--set", "n_train=0"], "n_train"),
    ("n_train negative", TOY + ["--set", "n_train=-100"], "n_train"),
    ("steps zero", TOY + ["--set", "steps=0"], "steps"),
    ("steps huge", TOY + ["--set", "steps=1000000000000"], "steps"),
    ("steps not an int", TOY + ["--set", "steps=many"], "int"),
    ("steps a float", TOY + ["--set", "steps=1.5"], "steps"),
    ("lr nan", TOY + ["--set", "learning_rate=nan"], "finite"),
    ("lr inf", TOY + ["--set", "learning_rate=inf"], "finite"),
    ("lr overflow", TOY + ["--set", "learning_rate=1e400"], "finite"),
    ("lr negative", TOY + ["--set", "learning_rate=-0.1"], "learning_rate"),
    ("lr zero", TOY + ["--set", "learning_rate=0"], "learning_rate"),
    ("bool garbage", TOY + ["--set", "fail=maybe"], "bool"),
    ("unknown key", TOY + ["--set", "epochz=3"], "epochz"),
    ("no equals", TOY + ["--set", "steps"], "key=value"),
    ("empty key", TOY + ["--set", "=3"], "unknown config key"),
    ("seed 2^64+1", TOY + ["--seed", "18446744073709551617"], "seed"),
    ("seed 2^63", TOY + ["--seed", str(2**63)], "seed"),
    ("seed negative", TOY + ["--seed", "-1"], "seed"),
    ("flow width negative", ["run", "flow-seed", "--set", "width=-3"], "width"),
    ("flow depth negative", ["run", "flow-seed", "--set", "depth=-1"], "depth"),
    ("flow batch zero", ["run", "flow-seed", "--set", "batch_size=0"], "batch_size"),
    ("flow n_steps zero", ["run", "flow-seed", "--set", "n_steps=0"], "n_steps"),
    ("flow box nan", ["run", "flow-seed", "--set", "box=nan"], "box"),
    ("flow box negative", ["run", "flow-seed", "--set", "box=-1"], "box"),
    ("flow horizon zero", ["run", "flow-1d", "--set", "horizon=0"], "horizon"),
    ("tuple unclosed", ["run", "onsager-lorenz", "--set", "rs=(16,28"], "rs"),
    ("tuple only commas", ["run", "onsager-lorenz", "--set", "rs=,,"], "rs"),
    ("tuple empty", ["run", "onsager-lorenz", "--set", "rs=()"], "rs"),
    ("tuple hole", ["run", "onsager-lorenz", "--set", "rs=(16,,28)"], "rs"),
    ("tuple nan", ["run", "onsager-lorenz", "--set", "rs=(nan)"], "rs"),
    ("tuple nested", ["run", "onsager-lorenz", "--set", "rs=((16,28))"], "rs"),
    ("tuple bad element", ["run", "onsager-lorenz", "--set", "rs=(16,x)"], "rs"),
    ("int tuple zero", ["run", "memory-cnn", "--set", "rnn_widths=(0,2)"], "rnn_widths"),
    ("int tuple huge", ["run", "memory-cnn", "--set", "rnn_widths=(10000000000,)"], "rnn_widths"),
    (
        "fraction above one",
        ["run", "csgd-robustness", "--set", "test_fraction=1.5"],
        "test_fraction",
    ),
    ("fraction zero", ["run", "csgd-robustness", "--set", "test_fraction=0"], "test_fraction"),
    ("committor grid zero", ["run", "committor-mueller", "--set", "grid=0"], "grid"),
    ("epochs zero", ["run", "onsager-lorenz", "--set", "epochs=0"], "epochs"),
    ("dt zero", ["run", "memory-cnn", "--set", "dt=0"], "dt"),
    ("dt negative", ["run", "memory-cnn", "--set", "dt=-0.1"], "dt"),
    (
        "mnist file missing",
        ["run", "discrete-msa", "--set", "mnist_path=/no/such.npz"],
        "mnist_path",
    ),
    ("mnist path a folder", ["run", "discrete-msa", "--set", "mnist_path=/tmp"], "mnist_path"),
    ("rbc data missing", ["run", "onsager-rbc", "--set", "data=/no/such.h5"], "data"),
]

CLI_CASES = [
    ("unknown experiment", ["run", "no-such-thing"], "unknown experiment"),
    ("claims unknown", ["claims", "no-such-thing"], "unknown experiment"),
    ("show unknown", ["show", "no-such-thing"], "unknown experiment"),
    ("run nothing", ["run"], "experiment name or --config"),
    ("limit zero", ["runs", "--limit", "0"], "--limit"),
    ("limit negative", ["runs", "--limit", "-1"], "--limit"),
    ("limit not a number", ["runs", "--limit", "x"], "invalid int"),
    ("unknown command", ["frobnicate"], "invalid choice"),
    ("sweep empty grid", ["sweep", "toy-line", "--quick", "--grid", "steps="], "grid"),
    (
        "sweep repeated key",
        ["sweep", "toy-line", "--grid", "steps=1,2", "--grid", "steps=3"],
        "steps",
    ),
    ("sweep grid no equals", ["sweep", "toy-line", "--grid", "steps"], "grid"),
    ("sweep bad seeds", ["sweep", "toy-line", "--seeds", "a,b"], "seed"),
    ("sweep huge seed", ["sweep", "toy-line", "--seeds", "12345678901234567890123"], "seed"),
    ("sweep bad grid value", ["sweep", "toy-line", "--grid", "steps=0,1"], "steps"),
    (
        "sweep task id out of range",
        ["sweep", "toy-line", "--seeds", "0,1", "--task-id", "7"],
        "task",
    ),
]


def _files_digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != "index.html"
    }


@pytest.fixture(scope="module")
def seeded_root(tmp_path_factory):
    """An output root holding one finished toy run: nothing in it may be lost by a bad call."""
    root = tmp_path_factory.mktemp("hostile") / "runs"
    assert main(TOY + ["--out", str(root)]) == 0
    return root


def _assert_refused(capsys, argv, expected, root: Path):
    before = _files_digest(root)
    with_out = argv + ["--out", str(root)] if argv and argv[0] in ("run", "runs", "sweep") else argv
    try:
        code = main(with_out)
    except SystemExit as exit_info:  # argparse's own refusals
        code = exit_info.code
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert code == 2, captured.err
    assert len(lines) == 1 and lines[0].startswith("dynml: error:"), captured.err
    assert "Traceback" not in captured.err + captured.out
    assert expected.lower() in lines[0].lower(), lines[0]
    assert _files_digest(root) == before  # nothing already written was lost or changed


@pytest.mark.parametrize(
    "argv, expected", [c[1:] for c in SET_CASES], ids=[c[0] for c in SET_CASES]
)
def test_bad_config_values_are_refused_before_a_run_starts(capsys, seeded_root, argv, expected):
    _assert_refused(capsys, argv, expected, seeded_root)
    assert [p.name for p in seeded_root.iterdir() if p.is_dir()] == ["toy-line"]


@pytest.mark.parametrize(
    "argv, expected", [c[1:] for c in CLI_CASES], ids=[c[0] for c in CLI_CASES]
)
def test_bad_command_lines_are_refused(capsys, seeded_root, argv, expected):
    _assert_refused(capsys, argv, expected, seeded_root)


def _broken_index(root: Path, kind: str) -> None:
    index = root / "index.sqlite"
    if kind == "garbage":
        index.write_bytes(b"this is not a database at all" * 100)
    elif kind == "truncated":
        index.write_bytes(index.read_bytes()[:300])
    elif kind == "directory":
        index.unlink()
        index.mkdir()
    elif kind == "foreign schema":
        index.unlink()
        with sqlite3.connect(index) as db:
            db.execute("CREATE TABLE runs (name TEXT, value REAL)")
    elif kind == "empty file":
        index.write_bytes(b"")


@pytest.mark.parametrize("kind", ["garbage", "truncated", "directory", "foreign schema"])
@pytest.mark.parametrize("command", [["runs"], ["report"], TOY, ["index"]])
def test_a_corrupt_index_is_reported_naming_the_file(capsys, seeded_root, tmp_path, kind, command):
    root = tmp_path / "runs"
    shutil.copytree(seeded_root, root)
    _broken_index(root, kind)
    before = _files_digest(root)
    code = main(command + ["--out", str(root)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "index.sqlite" in err[0] and "--rebuild" in err[0]
    assert _files_digest(root) == before
    assert [p.name for p in root.iterdir() if p.is_dir() and p.name != "index.sqlite"] == [
        "toy-line"
    ]


@pytest.mark.parametrize("kind", ["garbage", "truncated", "directory", "foreign schema"])
def test_index_rebuild_recreates_the_index_from_the_folders(capsys, seeded_root, tmp_path, kind):
    root = tmp_path / "runs"
    shutil.copytree(seeded_root, root)
    _broken_index(root, kind)
    if kind == "directory":
        shutil.rmtree(root / "index.sqlite")
    assert main(["index", "--rebuild", "--out", str(root)]) == 0
    capsys.readouterr()
    assert main(["runs", "--out", str(root)]) == 0
    out = capsys.readouterr().out
    assert "toy-line" in out and " done " in out and "claims 2/2" in out


def test_empty_index_file_is_a_fresh_index(capsys, seeded_root, tmp_path):
    root = tmp_path / "runs"
    shutil.copytree(seeded_root, root)
    _broken_index(root, "empty file")
    assert main(["runs", "--out", str(root)]) == 0


def _run_folder(root: Path) -> Path:
    return next((root / "toy-line").iterdir())


CONFIG_FILE_CASES = [
    ("missing", None, "does not exist"),
    ("garbage", "{{{not json", "not readable JSON"),
    ("a list", "[1, 2]", "JSON object"),
    ("another experiment", json.dumps({"experiment": "flow-1d", "config": {}}), "not 'toy-line'"),
    ("unknown key", json.dumps({"experiment": "toy-line", "config": {"epochz": 3}}), "epochz"),
    ("bad type", json.dumps({"experiment": "toy-line", "config": {"steps": "many"}}), "steps"),
    ("bad value", json.dumps({"experiment": "toy-line", "config": {"steps": 0}}), "steps"),
    ("null config", json.dumps({"experiment": "toy-line", "config": None}), "JSON object"),
]


@pytest.mark.parametrize(
    "content, expected", [c[1:] for c in CONFIG_FILE_CASES], ids=[c[0] for c in CONFIG_FILE_CASES]
)
def test_bad_config_files_are_refused(capsys, seeded_root, tmp_path, content, expected):
    path = tmp_path / "config.json"
    if content is not None:
        path.write_text(content)
    _assert_refused(capsys, ["run", "toy-line", "--config", str(path)], expected, seeded_root)


def test_config_file_reruns_a_run(capsys, seeded_root, tmp_path):
    config = _run_folder(seeded_root) / "config.json"
    assert main(["run", "--config", str(config), "--out", str(tmp_path)]) == 0
    first = json.loads((_run_folder(seeded_root) / "metrics.json").read_text())["metrics"]
    again = json.loads((_run_folder(tmp_path) / "metrics.json").read_text())["metrics"]
    assert first == again  # same config, same seed: the same numbers


@pytest.mark.parametrize("what", ["not a folder", "no config.json", "corrupt config.json"])
def test_resume_refuses_what_is_not_a_run_folder(capsys, seeded_root, tmp_path, what):
    target = tmp_path / "x"
    if what != "not a folder":
        target.mkdir()
    if what == "corrupt config.json":
        (target / "config.json").write_text("{")
    code = main(["resume", str(target)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and err[0].startswith("dynml: error:")


@pytest.mark.parametrize("content", ["no keys", "not an npz", "nan pixels"])
def test_a_bad_mnist_file_is_bad_input_exit_2(capsys, tmp_path, content):
    import numpy as np

    path = tmp_path / "mnist.npz"
    if content == "no keys":
        np.savez(path, images=np.zeros((2, 784)))
    elif content == "not an npz":
        path.write_bytes(b"PK\x03\x04 garbage")
    else:
        x = np.full((4, 784), np.nan)
        np.savez(path, x_train=x, y_train=np.zeros(4), x_test=x, y_test=np.zeros(4))
    code = main(["run", "csgd-robustness", "--quick", "--set", f"mnist_path={path}",
                 "--out", str(tmp_path / "runs")])  # fmt: skip
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "mnist.npz" in err[0], err
    assert path.is_file()  # input is never written


def test_failure_inside_a_run_exits_1_names_traceback_and_keeps_numbers(capsys, tmp_path):
    assert main(TOY + ["--set", "fail=true", "--out", str(tmp_path)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "traceback.txt" in err[0]
    folder = _run_folder(tmp_path)
    metrics = json.loads((folder / "metrics.json").read_text())
    assert metrics["status"] == "failed" and "slope" in metrics["metrics"]
    assert (folder / "traceback.txt").is_file()


def test_divergence_marks_the_run_diverged_and_exits_1(capsys, tmp_path):
    assert main(TOY + ["--set", "learning_rate=1e30", "--out", str(tmp_path)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert "diverged" in err[-1]
    metrics = json.loads((_run_folder(tmp_path) / "metrics.json").read_text())
    assert metrics["status"] == "diverged"
    assert main(["runs", "--out", str(tmp_path)]) == 0
    assert " diverged " in capsys.readouterr().out


def test_non_tty_output_has_no_carriage_returns(capfd, tmp_path):
    assert main(TOY + ["--out", str(tmp_path)]) == 0
    out, err = capfd.readouterr()
    assert "\r" not in out + err


def test_closed_pipe_is_quiet():
    import subprocess
    import sys

    code = "import sys; from dynml.cli import main; sys.exit(main())"
    proc = subprocess.run(
        f"{sys.executable} -c '{code}' list | head -1", shell=True, capture_output=True,
        text=True, timeout=300,
    )  # fmt: skip
    assert proc.stdout.strip() and "Traceback" not in proc.stderr and "Error" not in proc.stderr


@given(st.text(max_size=40))
def test_set_parser_raises_value_error_or_returns_a_valid_value(text):
    from dataclasses import dataclass

    @dataclass(frozen=True)
    class Config:
        n: int = 1
        x: float = 1.0
        xs: tuple[float, ...] = (1.0,)
        flag: bool = False
        seed: int = 0

    for key, kind in (("n", int), ("x", float), ("flag", bool)):
        try:
            value = parse_overrides(Config, [f"{key}={text}"], "t")[key]
        except ValueError:
            continue
        assert isinstance(value, kind)
    try:
        values = parse_overrides(Config, [f"xs={text}"], "t")["xs"]
    except ValueError:
        return
    assert isinstance(values, tuple) and len(values) >= 1
    assert all(isinstance(v, float) for v in values)

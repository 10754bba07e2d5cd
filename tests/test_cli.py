"""The command line: listing, a full quick run of flow-seed, the index, the gallery, errors."""

import json

import pytest

from dynml.cli import main


def _one_line_error(capsys, argv, expected):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("dynml: error:")
    assert expected in err
    return err


def test_list_shows_experiments_with_papers(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "flow-seed" in out and "flow-1d" in out and "Li, Lin, Shen" in out


def test_unknown_experiment(capsys, tmp_path):
    _one_line_error(capsys, ["run", "no-such-thing", "--out", str(tmp_path)], "unknown experiment")


def test_unknown_config_key(capsys, tmp_path):
    _one_line_error(
        capsys, ["run", "flow-seed", "--set", "epochz=3", "--out", str(tmp_path)], "epochz"
    )


def test_badly_typed_value_names_field_and_type(capsys, tmp_path):
    err = _one_line_error(
        capsys, ["run", "flow-seed", "--set", "steps=many", "--out", str(tmp_path)], "'steps'"
    )
    assert "int" in err


def test_unwritable_output_folder(capsys, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    _one_line_error(
        capsys, ["run", "flow-1d", "--quick", "--out", str(blocker / "sub")], "not writable"
    )


def test_bad_argument_syntax(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["run"])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.strip().startswith("dynml: error:")


def test_sweep_prints_one_command_per_task(capsys):
    argv = [
        "sweep",
        "flow-seed",
        "--quick",
        "--grid",
        "width=8,16",
        "--seeds",
        "0,1",
        "--print-commands",
    ]
    assert main(argv) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 4 and all(line.startswith("dynml run flow-seed --quick") for line in lines)


def test_flow_seed_quick_run_writes_a_complete_run_folder(capsys, tmp_path):
    assert main(["run", "flow-seed", "--quick", "--out", str(tmp_path)]) == 0
    (folder,) = (tmp_path / "flow-seed").iterdir()
    for name in ("config.json", "metrics.json", "report.md"):
        assert (folder / name).is_file()
    figures = {p.stem for p in (folder / "figures").glob("*.png")}
    assert {"data", "decision_boundary", "transport"} <= figures
    config = json.loads((folder / "config.json").read_text())
    assert config["quick"] and "jax" in config["versions"] and config["seed"] == 0
    metrics = json.loads((folder / "metrics.json").read_text())
    assert metrics["status"] == "done"
    assert metrics["metrics"]["test_accuracy"] >= 0.98
    assert "paper" in (folder / "report.md").read_text()

    capsys.readouterr()
    assert main(["runs", "--out", str(tmp_path)]) == 0
    assert "flow-seed" in capsys.readouterr().out
    assert main(["report", "--out", str(tmp_path)]) == 0
    page = (tmp_path / "index.html").read_text()
    assert "flow-seed" in page and "decision_boundary.png" in page


@pytest.mark.slow
def test_reproduce_quick_runs_everything(tmp_path):
    assert main(["reproduce", "--quick", "--out", str(tmp_path)]) == 0

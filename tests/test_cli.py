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
    assert main(["run"]) == 2
    assert capsys.readouterr().err.strip().startswith("dynml: error:")
    with pytest.raises(SystemExit) as exit_info:
        main(["run", "toy-line", "--seed"])
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


def test_quick_run_writes_a_complete_run_folder(capsys, tmp_path):
    assert main(["run", "toy-line", "--quick", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "claims: 2 hold, 0 fail" in out
    (folder,) = (tmp_path / "toy-line").iterdir()
    for name in ("config.json", "metrics.json", "report.md", "figures/loss.png"):
        assert (folder / name).is_file()
    config = json.loads((folder / "config.json").read_text())
    assert config["quick"] and "jax" in config["versions"] and config["seed"] == 0
    metrics = json.loads((folder / "metrics.json").read_text())
    assert metrics["status"] == "done" and metrics["compile"]["executables"] >= 0
    # the process's CPU time over the run: positive, and on 2 cores at most ~2x the wall time
    assert 0 < metrics["cpu_s"] <= 2.5 * metrics["elapsed_s"] + 0.5
    assert [c["verdict"] for c in metrics["claims"]] == ["holds", "holds"]
    assert main(["runs", "--out", str(tmp_path)]) == 0
    listing = capsys.readouterr().out
    assert "toy-line" in listing and str(folder) in listing and "claims 2/2" in listing
    assert main(["report", "--out", str(tmp_path)]) == 0
    page = (tmp_path / "index.html").read_text()
    assert "toy-line" in page and "loss.png" in page


def test_version_show_and_claims(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0 and capsys.readouterr().out.startswith("dynml ")
    assert main(["show", "toy-line"]) == 0
    out = capsys.readouterr().out
    assert "steps" in out and "int" in out and "400" in out and "200" in out
    assert main(["claims", "toy-line"]) == 0
    out = capsys.readouterr().out
    assert "slope recovered to 5 %" in out and "quick band ≤ 0.2" in out


def test_every_registered_experiment_declares_claims_with_sources(capsys):
    from dynml.experiments import load_all

    shipped = [s for s in load_all().values() if s.config_cls.__module__.startswith("dynml.")]
    assert len(shipped) >= 22
    missing = [s.name for s in shipped if not s.claims]
    assert not missing, f"experiments without claims: {missing}"
    for spec in shipped:
        for claim in spec.claims:
            assert claim.text and claim.source, (spec.name, claim.text)


def test_every_config_default_and_quick_value_is_in_its_domain():
    from dynml.experiments import load_all

    for spec in load_all().values():
        spec.config(quick=False)
        spec.config(quick=True)


def test_reproduce_writes_the_scoreboard(capsys, tmp_path):
    assert main(["reproduce", "--quick", "--only", "toy-line", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "scoreboard: 2 claims, 2 hold, 0 fail, 0 not measured" in out
    board = (tmp_path / "scoreboard.md").read_text()
    assert board.count("| toy-line |") == 2 and "Wall and compile time" in board
    assert "cpu s" in board


@pytest.mark.slow
def test_reproduce_quick_runs_everything(tmp_path):
    assert main(["reproduce", "--quick", "--out", str(tmp_path)]) == 0

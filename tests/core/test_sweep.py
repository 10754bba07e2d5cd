"""Sweeps: seeds and grids parsed, tasks run one process each into their own folders, the
aggregate over seeds equal to the members' own numbers, retries, failures and --resume."""

import importlib.util
import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest

from dynml.cli import main
from dynml.core import sweep as sw
from dynml.core.runs import RunIndex

TOY_FILE = Path(__file__).with_name("_sweep_toy.py")


def _toy_spec():
    """Register the `sweep-toy` experiment (tests/core/_sweep_toy.py) in this process."""
    name = "dynml_test_sweep_toy"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, TOY_FILE)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    from dynml.core.experiment import get

    return get("sweep-toy")


def test_seeds_ranges_and_lists():
    assert sw.parse_seeds("0-3") == [0, 1, 2, 3]
    assert sw.parse_seeds("0,2,5-7") == [0, 2, 5, 6, 7]
    assert sw.parse_seeds(None) == [None] and sw.parse_seeds(" ") == [None]
    for bad in ("a", "3-1", "1,1", "-2", "1-"):
        with pytest.raises(ValueError, match="--seeds"):
            sw.parse_seeds(bad)


def test_grid_is_the_product_of_the_axes():
    points = sw.grid_points(["a=1,2", "b=x,y,z"])
    assert len(points) == 6 and points[0] == ("a=1", "b=x") and points[-1] == ("a=2", "b=z")
    assert sw.grid_points([]) == [()]
    with pytest.raises(ValueError, match="--grid"):
        sw.grid_points(["a"])


def test_metric_stats_match_numpy():
    x = np.random.default_rng(0).standard_normal(7)
    s = sw.metric_stats(list(x))
    assert s["n"] == 7 and math.isclose(s["mean"], x.mean(), rel_tol=1e-12)
    assert math.isclose(s["sd"], x.std(ddof=1), rel_tol=1e-12)
    assert s["min"] == x.min() and s["max"] == x.max()
    one = sw.metric_stats([2.0, float("nan")])
    assert one["n"] == 1 and one["sd"] is None and one["n_nonfinite"] == 1


def _row(seed, value, verdict):
    return {
        "seed": seed,
        "metrics": {"value": value, "flag": value > 0, "curve": [1, 2]},
        "claims": [
            {
                "claim": "c",
                "metric": "value",
                "band": "≥ 0",
                "band_used": "full",
                "paper": "",
                "verdict": verdict,
            }
        ],
    }


def test_aggregate_groups_by_grid_point_and_counts_claims():
    tasks = [sw.SweepTask(i, (f"x={i // 2}",), i % 2) for i in range(4)]
    done = {0: _row(0, 1.0, "holds"), 1: _row(1, -3.0, "fails"), 2: _row(0, 5.0, "holds")}
    g0, g1 = sw.aggregate(tasks, done)
    assert g0["grid"] == ["x=0"] and g0["runs"] == 2 and g0["seeds"] == [0, 1]
    assert g0["metrics"]["value"]["mean"] == -1.0 and g0["metrics"]["flag"]["mean"] == 0.5
    assert "curve" not in g0["metrics"]  # lists are not aggregated
    assert (g0["claims"][0]["holds"], g0["claims"][0]["fails"], g0["claims"][0]["n"]) == (1, 1, 2)
    assert g1["runs"] == 1 and g1["metrics"]["value"]["sd"] is None


def _members_mean(root, sweep_id, point, metric):
    index = RunIndex(root)
    tasks = {t.index: t for t in sw.tasks_of(sw.load_record(root, sweep_id))}
    values = []
    for row in index.rows(sweep=sweep_id):
        if row["status"] == "done" and tasks[row["sweep_task"]].overrides == point:
            folder = index.folder_of(row)
            values.append(json.loads((folder / "metrics.json").read_text())["metrics"][metric])
    return float(np.mean(values)), len(values)


def _check_aggregate(root, sweep_id, agg, n_tasks, n_points):
    rows = RunIndex(root).rows(sweep=sweep_id)
    done = [r for r in rows if r["status"] == "done"]
    assert len(done) == n_tasks and agg["finished"] == n_tasks and agg["status"] == "done"
    assert len({r["folder"] for r in rows}) == len(rows)  # never two runs in one folder
    assert len(agg["groups"]) == n_points
    for g in agg["groups"]:
        mean, n = _members_mean(root, sweep_id, tuple(g["grid"]), "value")
        assert n == 2 and g["metrics"]["value"]["n"] == 2
        assert math.isclose(g["metrics"]["value"]["mean"], mean, rel_tol=1e-12)
        assert sum(c["n"] for c in g["claims"]) == 4  # two claims, two seeds
    saved = json.loads((sw.sweep_folder(root, sweep_id) / "aggregate.json").read_text())
    assert saved["groups"] == json.loads(json.dumps(agg["groups"]))


def _sweep(tmp_path, grid, seeds, sets=()):
    spec = _toy_spec()
    root = tmp_path / "runs"
    tasks = sw.plan(spec, grid, seeds, list(sets), quick=True)
    rec = sw.record(root, sw.new_sweep_id(), spec, tasks, grid, seeds, list(sets), quick=True)
    return root, rec


def test_local_sweep_retries_reports_failure_and_resumes(tmp_path, capsys):
    marker = tmp_path / "fail-now"
    marker.write_text("")
    sets = [f"fail_marker={marker}", "fail_x=2", "fail_seed=1"]
    root, rec = _sweep(tmp_path, ["x=1,2"], [0, 1], sets)  # task 3 (x=2, seed 1) raises
    agg, results = sw.run_sweep(root, rec, "local", jobs=2)
    assert [(r.ok, r.attempts) for r in results] == [(True, 1)] * 3 + [(False, 2)]
    assert "toy failure at x=2" in results[3].error  # retried once, then reported
    assert agg["finished"] == 3 and agg["status"] == "incomplete"
    rows = RunIndex(root).rows(sweep=rec["id"])
    assert sorted(r["status"] for r in rows) == ["done"] * 3 + ["failed"] * 2

    marker.unlink()
    before = {r["id"] for r in rows}
    capsys.readouterr()
    argv = ["sweep", "sweep-toy", "--resume", rec["id"], "--jobs", "2", "--out", str(root)]
    assert main(argv) == 0
    assert "1 of 4 tasks to run" in capsys.readouterr().out
    new = [r for r in RunIndex(root).rows(sweep=rec["id"]) if r["id"] not in before]
    assert [r["sweep_task"] for r in new] == [3]  # only the missing task ran again
    agg = json.loads((sw.sweep_folder(root, rec["id"]) / "aggregate.json").read_text())
    _check_aggregate(root, rec["id"], agg, n_tasks=4, n_points=2)

    report = (sw.sweep_folder(root, rec["id"]) / "report.md").read_text()
    assert "4 of 4 tasks finished" in report and "value is positive" in report
    assert main(["runs", "--sweep", rec["id"], "--out", str(root)]) == 0
    listing = capsys.readouterr().out
    assert listing.count(" done ") == 4 and listing.count(" failed ") == 2
    assert "claim holds" in listing


@pytest.mark.slow
def test_two_by_two_grid_two_seeds_gives_eight_runs_and_their_mean(tmp_path):
    root, rec = _sweep(tmp_path, ["x=1,2", "y=1,2"], [0, 1])
    agg, results = sw.run_sweep(root, rec, "local", jobs=2)
    assert all(r.ok and r.attempts == 1 for r in results) and len(results) == 8
    _check_aggregate(root, rec["id"], agg, n_tasks=8, n_points=4)


@pytest.fixture(scope="module")
def local_ray():
    """One local Ray instance (2 CPUs) for this module's Ray tests; the executor joins it."""
    if importlib.util.find_spec("ray") is None:
        pytest.skip("ray not installed")
    from dynml.core.executors import RayExecutor

    ray, _ = RayExecutor(jobs=2).connect()
    yield ray
    ray.shutdown()


def test_ray_sweep_of_toy_line_gives_eight_runs_and_their_mean(tmp_path, local_ray):
    """2 x 2 grid x 2 seeds of `toy-line` (a jitted `fit`) on a local Ray instance."""
    import toy_experiment  # tests/support, on the path of this process and of Ray's workers

    from dynml.core.experiment import get

    assert toy_experiment.Config.quick().steps == 200
    spec, root = get("toy-line"), tmp_path / "runs"
    grid, seeds = ["learning_rate=0.05,0.1", "n_train=32,64"], [0, 1]
    tasks = sw.plan(spec, grid, seeds, [], quick=True)
    rec = sw.record(root, sw.new_sweep_id(), spec, tasks, grid, seeds, [], quick=True)
    agg, results = sw.run_sweep(root, rec, "ray", jobs=2)
    assert [(r.ok, r.attempts) for r in results] == [(True, 1)] * 8, [r.error for r in results]
    rows = RunIndex(root).rows(sweep=rec["id"])
    assert sorted(r["status"] for r in rows) == ["done"] * 8 and agg["finished"] == 8
    assert len({r["folder"] for r in rows}) == 8 and len(agg["groups"]) == 4
    for g in agg["groups"]:
        mean, n = _members_mean(root, rec["id"], tuple(g["grid"]), "slope")
        assert n == 2 and math.isclose(g["metrics"]["slope"]["mean"], mean, rel_tol=1e-12)
        holds = {c["claim"]: c["holds"] for c in g["claims"]}
        assert holds["slope recovered to 5 %"] == 2  # the quick band holds for every seed


def test_ray_run_that_kills_its_worker_is_retried_and_reported(tmp_path, local_ray):
    marker = tmp_path / "fail-now"
    marker.write_text("")
    sets = [f"fail_marker={marker}", "fail_x=1", "fail_seed=1", "fail_how=kill"]
    root, rec = _sweep(tmp_path, [], [0, 1], sets)  # seed 1 SIGKILLs the Ray worker
    agg, results = sw.run_sweep(root, rec, "ray", jobs=2)
    assert (results[0].ok, results[0].attempts) == (True, 1)
    assert (results[1].ok, results[1].attempts) == (False, 2)
    assert "ray task failed" in results[1].error
    assert agg["finished"] == 1 and agg["status"] == "incomplete"


def test_sweep_card_escapes_every_value(tmp_path):
    root = tmp_path
    folder = sw.sweep_folder(root, "s1")
    folder.mkdir(parents=True)
    group = {
        "grid": ["name=<b>"],
        "seeds": [0, 1],
        "runs": 2,
        "tasks": [0, 1],
        "metrics": {"<script>": {**sw.metric_stats([1.0, 3.0]), "values": [1.0, 3.0]}},
        "claims": [{"claim": "a < b & c", "band": "≤ 1", "paper": "<i>", "holds": 1, "n": 2}],
    }
    agg = {"experiment": "<exp>", "quick": True, "finished": 2, "tasks": 2, "status": "done"}
    (folder / "aggregate.json").write_text(json.dumps({**agg, "groups": [group]}))
    card = sw.sweep_card(root, "s1")
    assert "<script>" not in card and "<b>" not in card and "<i>" not in card
    assert "&lt;script&gt;" in card and "a &lt; b &amp; c" in card and "1/2" in card
    assert card.count("<circle") == 2 and "2 ± 1.414" in card


def test_slurm_array_elements_share_one_sweep(tmp_path, monkeypatch, capsys):
    _toy_spec()
    root = tmp_path / "runs"
    monkeypatch.setenv("SLURM_ARRAY_JOB_ID", "77")
    for element in ("1", "0"):  # each array element runs its own task, in its own process
        monkeypatch.setenv("SLURM_ARRAY_TASK_ID", element)
        assert main(["sweep", "sweep-toy", "--seeds", "3-4", "--out", str(root)]) == 0
    rows = RunIndex(root).rows(sweep="slurm-77")
    assert sorted((r["sweep_task"], r["seed"], r["status"]) for r in rows) == [
        (0, 3, "done"),
        (1, 4, "done"),
    ]
    monkeypatch.delenv("SLURM_ARRAY_TASK_ID")
    capsys.readouterr()
    assert main(["sweep", "sweep-toy", "--resume", "slurm-77", "--out", str(root)]) == 0
    assert "0 of 2 tasks to run" in capsys.readouterr().out
    agg = json.loads((sw.sweep_folder(root, "slurm-77") / "aggregate.json").read_text())
    assert agg["status"] == "done" and agg["groups"][0]["metrics"]["value"]["n"] == 2


def test_index_rebuild_restores_sweeps_and_their_members(tmp_path, capsys):
    root, rec = _sweep(tmp_path, ["x=1,2"], [0, 1])
    for t in sw.tasks_of(rec):  # the tasks in this process: cheap, and the same records
        assert sw.run_task(sw.task_payload(root, rec, t)) == 0
    agg = sw.write_aggregate(root, rec["id"])
    index = RunIndex(root)
    before = sorted((r["folder"], r["sweep_id"], r["sweep_task"]) for r in index.rows())
    assert len(before) == 4 and all(r[1] == rec["id"] for r in before)
    (root / "index.sqlite").write_bytes(b"not a database")
    assert main(["index", "--rebuild", "--out", str(root)]) == 0
    index = RunIndex(root)
    after = sorted((r["folder"], r["sweep_id"], r["sweep_task"]) for r in index.rows())
    assert after == before
    assert index.sweep(rec["id"])["status"] == "done" == agg["status"]
    assert sw.finished(root, rec["id"]).keys() == {0, 1, 2, 3}
    capsys.readouterr()
    assert main(["runs", "--sweep", rec["id"], "--out", str(root)]) == 0
    assert capsys.readouterr().out.count(" done ") == 4

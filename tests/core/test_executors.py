"""Executors: every task in its own process, `jobs` at a time, failures retried once and
reported without stopping the others (local process pool and a local Ray instance)."""

import importlib.util
import os
import sys

import pytest

from dynml.core.executors import LocalExecutor, RayExecutor, Task, make_executor


def _py(code: str) -> tuple[str, ...]:
    return (sys.executable, "-c", code)


def _rendezvous(folder, i: int, parties: int) -> tuple[str, ...]:
    """A task that waits until `parties` tasks have started: it finishes only if they overlap."""
    return _py(
        "import pathlib, time, sys\n"
        f"d = pathlib.Path({str(folder)!r}); (d / 'start-{i}').write_text('')\n"
        "t0 = time.time()\n"
        f"while len(list(d.glob('start-*'))) < {parties}:\n"
        "    time.sleep(0.05)\n"
        "    if time.time() - t0 > 60: sys.exit(3)\n"
    )


def _flaky(counter) -> tuple[str, ...]:
    """Fails on its first attempt, succeeds on its second."""
    return _py(
        "import pathlib, sys\n"
        f"p = pathlib.Path({str(counter)!r}); n = int(p.read_text()) if p.exists() else 0\n"
        "p.write_text(str(n + 1)); sys.exit(0 if n >= 1 else 1)\n"
    )


def _tasks(tmp_path):
    logs = tmp_path / "logs"
    return [
        Task(0, _py("print('fine')"), logs / "t0"),
        Task(1, _py("import sys; print('something broke'); sys.exit(5)"), logs / "t1"),
        Task(2, _py("import os, signal; os.kill(os.getpid(), signal.SIGKILL)"), logs / "t2"),
        Task(3, _flaky(tmp_path / "counter"), logs / "t3"),
        Task(4, _py("import os; print(os.environ['TOY_VALUE'])"), logs / "t4", {"TOY_VALUE": "42"}),
    ]


def _check_failures_are_isolated(results, tmp_path):
    by = {r.index: r for r in results}
    assert [r.index for r in results] == [0, 1, 2, 3, 4]
    assert by[0].ok and by[0].attempts == 1
    assert not by[1].ok and by[1].returncode == 5 and by[1].attempts == 2
    assert "something broke" in by[1].error and by[1].log.name == "t1.a2.log"
    assert not by[2].ok and by[2].returncode == -9 and by[2].attempts == 2
    assert "signal 9" in by[2].error
    assert by[3].ok and by[3].attempts == 2 and (tmp_path / "counter").read_text() == "2"
    assert by[4].ok and by[4].log.read_text().strip() == "42"


def test_local_executor_retries_once_and_isolates_crashes(tmp_path):
    seen = []
    results = LocalExecutor(jobs=2, retries=1).run(_tasks(tmp_path), on_result=seen.append)
    _check_failures_are_isolated(results, tmp_path)
    assert sorted(r.index for r in seen) == [0, 1, 2, 3, 4]


def test_local_executor_without_retries_runs_each_task_once(tmp_path):
    results = LocalExecutor(jobs=1, retries=0).run(
        [Task(0, _flaky(tmp_path / "c"), tmp_path / "t")]
    )
    assert not results[0].ok and results[0].attempts == 1


def test_local_executor_runs_jobs_at_a_time(tmp_path):
    tasks = [Task(i, _rendezvous(tmp_path, i, 2), tmp_path / f"t{i}") for i in range(2)]
    results = LocalExecutor(jobs=2).run(tasks)
    assert all(r.ok for r in results)  # both were running at once, or neither could finish


def test_python_command_uses_the_running_interpreter(tmp_path):
    (result,) = LocalExecutor().run(
        [Task(0, ("python", "-c", "import sys; print(sys.executable)"), tmp_path / "t")]
    )
    assert result.ok and result.log.read_text().strip() == sys.executable


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="--jobs"):
        LocalExecutor(jobs=0)
    with pytest.raises(ValueError, match="unknown executor"):
        make_executor("slurm")
    with pytest.raises(ValueError, match="--address"):
        make_executor("local", address="auto")


needs_ray = pytest.mark.skipif(importlib.util.find_spec("ray") is None, reason="ray not installed")


@pytest.mark.slow
@needs_ray
@pytest.mark.skipif(os.cpu_count() is None, reason="unknown CPU count")
def test_ray_executor_retries_once_and_isolates_crashes(tmp_path):
    tasks = _tasks(tmp_path) + [
        Task(5 + i, _rendezvous(tmp_path / "meet", i, 2), tmp_path / f"m{i}") for i in range(2)
    ]
    (tmp_path / "meet").mkdir()
    results = RayExecutor(jobs=2, retries=1).run(tasks)
    _check_failures_are_isolated(results[:5], tmp_path)
    assert results[5].ok and results[6].ok  # two Ray tasks ran at once


def test_output_folder_check_is_safe_for_runs_started_together(tmp_path):
    """Workers of one sweep check the same output folder at once (the Ray test's flake): no
    probe of one may be removed by another, and none is left behind."""
    from concurrent.futures import ThreadPoolExecutor

    from dynml.core.experiment import check_writable

    def many(_):
        for _ in range(300):
            check_writable(tmp_path)

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(many, range(8)))
    assert list(tmp_path.iterdir()) == []

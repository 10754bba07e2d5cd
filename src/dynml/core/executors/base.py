"""The executor interface: run a list of shell-free commands, each in its own process.

A sweep turns every (grid point, seed) into a `Task`: a command line (`argv`) with extra
environment variables and a log file. An executor runs the tasks, at most a fixed number at a
time, each as a separate operating-system process, so one run that crashes (an exception, a
segfault, running out of memory) cannot take down the others. A task whose process exits with
a non-zero status is retried `retries` times (once by default) and then reported failed; it
never stops the other tasks.
"""

import abc
import os
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

_TAIL = 2000  # characters of a failed attempt's log kept in its result


@dataclass(frozen=True)
class Task:
    """One command to run: `argv`, extra `env` variables, and a log path stem.

    Attempt `k` writes its standard output and error to `<log>.a<k>.log`.
    """

    index: int
    argv: tuple[str, ...]
    log: Path
    env: dict[str, str] = field(default_factory=dict)

    def log_path(self, attempt: int) -> Path:
        return Path(f"{self.log}.a{attempt}.log")


@dataclass(frozen=True)
class TaskResult:
    """What became of a task: its exit status, how many attempts it took, where its log is."""

    index: int
    returncode: int
    attempts: int
    log: Path
    elapsed_s: float
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.returncode == 0


def run_attempt(task: Task, attempt: int) -> tuple[int, str, float]:
    """Run `task` once in a child process; return (exit status, log tail if failed, seconds).

    A negative status is a signal (`-9`: killed). The child inherits this process's
    environment plus `task.env`. A command starting with `python` runs with the interpreter
    of the process that runs the attempt (on a cluster: the worker node's).
    """
    argv = list(task.argv)
    if argv and argv[0] == "python":
        argv[0] = sys.executable
    log = task.log_path(attempt)
    log.parent.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    with open(log, "wb") as out:
        try:
            proc = subprocess.run(
                argv,
                env={**os.environ, **task.env},
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
            code = proc.returncode
        except OSError as err:  # the command itself could not start
            out.write(f"could not start {task.argv[0]!r}: {err}\n".encode())
            code = 127
    elapsed = time.perf_counter() - start
    tail = "" if code == 0 else log.read_text(errors="replace")[-_TAIL:]
    return code, tail, elapsed


def _last_line(tail: str, code: int) -> str:
    lines = [s for s in tail.strip().splitlines() if s.strip()]
    what = f"killed by signal {-code}" if code < 0 else f"exit status {code}"
    return f"{what}: {lines[-1].strip()}" if lines else what


class AbstractExecutor(abc.ABC):
    """Runs tasks, each in its own process, with up to `jobs` at a time and `retries` retries.

    `run(tasks, on_result)` returns one `TaskResult` per task, in task order, after all of
    them have finished or failed; `on_result` is called as each one completes.
    """

    name: str = "abstract"
    jobs: int
    retries: int

    @abc.abstractmethod
    def run(
        self, tasks: Sequence[Task], on_result: Callable[[TaskResult], None] | None = None
    ) -> list[TaskResult]: ...

    def _result(self, task: Task, code: int, tail: str, attempts: int, elapsed: float):
        error = "" if code == 0 else _last_line(tail, code)
        return TaskResult(task.index, code, attempts, task.log_path(attempts), elapsed, error)


def check_jobs(jobs: int, retries: int) -> None:
    if not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f"--jobs expects a positive integer, got {jobs!r}")
    if not isinstance(retries, int) or retries < 0:
        raise ValueError(f"retries must be a non-negative integer, got {retries!r}")

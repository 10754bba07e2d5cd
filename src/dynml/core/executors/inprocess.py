"""Running a `python -m MODULE ARGS` task inside the current (worker) process.

A long-lived worker (a Ray worker) that runs many tasks pays for importing the library, JAX
and the experiment once, not once per task: a task whose command is `python -m MODULE ARGS`,
where `MODULE` defines `main(argv) -> int`, is run as `MODULE.main(ARGS)` in the worker with
the task's environment variables set and file descriptors 1 and 2 sent to the attempt's log.
Any other command runs as a child process (`run_attempt`). A Python exception inside `main`
is that attempt's failure (exit status 1, traceback in the log); a crash of the interpreter
itself kills only the worker, which the scheduler reports as a failed attempt.
"""

import contextlib
import importlib
import importlib.util
import os
import sys
import time
import traceback

from .base import _TAIL, Task, run_attempt


def entry_point(task: Task):
    """`MODULE.main` for a task `python -m MODULE ...` whose module has a `main`, else `None`."""
    argv = task.argv
    if len(argv) < 3 or argv[0] not in ("python", sys.executable) or argv[1] != "-m":
        return None
    try:
        if importlib.util.find_spec(argv[2]) is None:
            return None
        main = getattr(importlib.import_module(argv[2]), "main", None)
    except ImportError:
        return None
    return main if callable(main) else None


@contextlib.contextmanager
def _environment(extra: dict[str, str]):
    old = {k: os.environ.get(k) for k in extra}
    os.environ.update(extra)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@contextlib.contextmanager
def _output_to(path):
    """Send file descriptors 1 and 2 (C-level writes included) to `path`, then restore them."""
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    saved = [os.dup(1), os.dup(2)]
    with open(path, "wb") as out:
        os.dup2(out.fileno(), 1)
        os.dup2(out.fileno(), 2)
        try:
            yield
        finally:
            for stream in (sys.stdout, sys.stderr):
                stream.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for fd in saved:
                os.close(fd)


def run_in_process(task: Task, attempt: int) -> tuple[int, str, float]:
    """Run `task` once in this process if it is `python -m MODULE` with a `main`; else as a
    child process. Returns (exit status, log tail if failed, seconds) like `run_attempt`."""
    main = entry_point(task)
    if main is None:
        return run_attempt(task, attempt)
    log = task.log_path(attempt)
    log.parent.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    with _output_to(log), _environment(task.env):
        try:
            code = main(list(task.argv[3:]))
            code = 0 if code is None else int(code)
        except SystemExit as err:
            code = err.code if isinstance(err.code, int) else (0 if err.code is None else 1)
        except Exception:
            traceback.print_exc()
            code = 1
    elapsed = time.perf_counter() - start
    tail = "" if code == 0 else log.read_text(errors="replace")[-_TAIL:]
    return code, tail, elapsed

"""The Ray executor: tasks on a Ray cluster (or a Ray instance it starts on this machine).

Ray (`pip install dynml[ray]`) is imported only here. Without an address a local Ray
instance with `jobs` CPUs is started and stopped again; with `address="auto"` or
`"HOST:PORT"` the executor joins a running cluster, where every node must have dynml
installed and see the output folder at the same path (a shared file system).
Each task is a Ray task of one CPU. By default (`in_worker=True`) a task `python -m MODULE
ARGS` whose module has a `main` (every sweep task) runs inside the Ray worker, which Ray
keeps for later tasks, so the library and JAX are imported once per worker rather than once
per run (`executors.inprocess`); a run that crashes the interpreter kills only its worker,
which Ray reports (the attempt failed) and replaces. With `in_worker=False`, or for any other
command, the worker runs the command in a child process, exactly as the local executor does.
"""

from collections.abc import Callable, Sequence

from .base import AbstractExecutor, Task, TaskResult, check_jobs, run_attempt
from .inprocess import run_in_process


def _remote_attempt(task: Task, attempt: int, in_worker: bool) -> tuple[int, str, float]:
    return run_in_process(task, attempt) if in_worker else run_attempt(task, attempt)


class RayExecutor(AbstractExecutor):
    """Run tasks as one-CPU Ray tasks; a failed attempt is resubmitted up to `retries` times."""

    name = "ray"

    def __init__(
        self, jobs: int = 1, retries: int = 1, address: str | None = None, in_worker: bool = True
    ):
        check_jobs(jobs, retries)
        self.jobs, self.retries, self.address = jobs, retries, address
        self.in_worker = bool(in_worker)

    def connect(self):
        """`(ray, started)`: join the running Ray instance, the cluster at `address`, or start a
        local instance with `jobs` CPUs (`started` is then true: `run` stops it when done)."""
        try:
            import ray
        except ImportError:
            raise ValueError(
                "the ray executor needs Ray: pip install 'dynml[ray]' (or ray>=2.30)"
            ) from None
        started = False
        if not ray.is_initialized():
            if self.address:
                ray.init(address=self.address, log_to_driver=False)
            else:
                ray.init(
                    num_cpus=self.jobs,
                    include_dashboard=False,
                    log_to_driver=False,
                    object_store_memory=100 * 1024**2,
                )
                started = True
        return ray, started

    def run(
        self, tasks: Sequence[Task], on_result: Callable[[TaskResult], None] | None = None
    ) -> list[TaskResult]:
        if not tasks:
            return []
        ray, started = self.connect()
        try:
            remote = ray.remote(num_cpus=1, max_retries=0)(_remote_attempt)
            pending = {remote.remote(t, 1, self.in_worker): (t, 1, 0.0) for t in tasks}
            results = []
            while pending:
                done, _ = ray.wait(list(pending), num_returns=1)
                ref = done[0]
                task, attempt, before = pending.pop(ref)
                try:
                    code, tail, elapsed = ray.get(ref)
                except Exception as err:  # the Ray worker itself died
                    code, tail, elapsed = 1, f"ray task failed: {type(err).__name__}: {err}", 0.0
                if code != 0 and attempt <= self.retries:
                    pending[remote.remote(task, attempt + 1, self.in_worker)] = (
                        task,
                        attempt + 1,
                        before + elapsed,
                    )
                    continue
                result = self._result(task, code, tail, attempt, before + elapsed)
                results.append(result)
                if on_result is not None:
                    on_result(result)
        finally:
            if started:
                ray.shutdown()
        return sorted(results, key=lambda r: r.index)

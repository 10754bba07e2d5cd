"""The local executor: a pool of `jobs` worker slots on this machine, one process per task."""

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

from .base import AbstractExecutor, Task, TaskResult, check_jobs, run_attempt


class LocalExecutor(AbstractExecutor):
    """Run tasks as child processes of this one, at most `jobs` at a time.

    Each slot is a thread that starts a task's process and waits for it (the work happens
    in the child, so the threads cost nothing); a failed attempt is retried in the same slot
    up to `retries` times.
    """

    name = "local"

    def __init__(self, jobs: int = 1, retries: int = 1):
        check_jobs(jobs, retries)
        self.jobs, self.retries = jobs, retries

    def run(
        self, tasks: Sequence[Task], on_result: Callable[[TaskResult], None] | None = None
    ) -> list[TaskResult]:
        lock = threading.Lock()

        def one(task: Task) -> TaskResult:
            total = 0.0
            for attempt in range(1, self.retries + 2):
                code, tail, elapsed = run_attempt(task, attempt)
                total += elapsed
                if code == 0:
                    break
            result = self._result(task, code, tail, attempt, total)
            if on_result is not None:
                with lock:
                    on_result(result)
            return result

        if not tasks:
            return []
        with ThreadPoolExecutor(max_workers=min(self.jobs, len(tasks))) as pool:
            results = list(pool.map(one, tasks))
        return sorted(results, key=lambda r: r.index)

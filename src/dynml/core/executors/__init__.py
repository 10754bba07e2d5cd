"""Executors for sweeps: run tasks (one process each) locally or on Ray, behind one interface."""

from .base import AbstractExecutor, Task, TaskResult, run_attempt
from .local import LocalExecutor
from .ray import RayExecutor

EXECUTORS = {"local": LocalExecutor, "ray": RayExecutor}


def make_executor(
    name: str = "local", jobs: int = 1, retries: int = 1, address: str | None = None
) -> AbstractExecutor:
    """The executor `name` (`local` or `ray`) with `jobs` slots and `retries` retries."""
    if name == "local":
        if address:
            raise ValueError("--address is for --executor ray")
        return LocalExecutor(jobs, retries)
    if name == "ray":
        return RayExecutor(jobs, retries, address)
    raise ValueError(f"unknown executor {name!r}; known: {', '.join(EXECUTORS)}")


__all__ = [
    "EXECUTORS",
    "AbstractExecutor",
    "LocalExecutor",
    "RayExecutor",
    "Task",
    "TaskResult",
    "make_executor",
    "run_attempt",
]

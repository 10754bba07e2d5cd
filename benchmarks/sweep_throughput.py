"""Throughput of the sweep executors: runs per minute of a quick experiment at 1, 2, 4 workers.

    python benchmarks/sweep_throughput.py [--experiment flow-1d] [--tasks 4] [--jobs 1,2,4]
                                          [--executors local,ray] [--out /tmp/sweep-bench]
                                          [--set KEY=VALUE ...]

Each setting runs a fresh sweep of `--tasks` seeds of the experiment's quick config and
prints the wall time, runs per minute, and the CPU time (user + system) of this process tree
during the sweep: the runs and the executor's own processes (for Ray: its daemons and
workers, read from /proc). Executors: `local` (one process per run), `ray` (runs inside the
Ray workers, the default) and `ray-proc` (Ray workers start one process per run). A fresh
local Ray instance with `jobs` CPUs is started for each Ray setting; its start-up is timed
apart (`start s`) and not counted in the sweep. `runs/CPU-min` = runs per minute of CPU, what
the rate would be per fully available core. The load average at the start is printed: on a
machine with fewer free cores than workers the runs share the cores, so runs/min stops
growing at the number of free cores.
"""

import argparse
import importlib
import os
import shutil
import time
from pathlib import Path

from dynml.core import sweep as sw
from dynml.core.executors import RayExecutor
from dynml.core.experiment import get

_TICK = os.sysconf("SC_CLK_TCK")


def tree_cpu() -> float:
    """CPU seconds (user + system, own and of waited children) of this process and all its
    live descendants, from /proc/PID/stat."""
    stats = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            stats[int(entry.name)] = (int(fields[1]), sum(int(x) for x in fields[11:15]))
    total, todo = 0, [os.getpid()]
    while todo:
        pid = todo.pop()
        total += stats.get(pid, (0, 0))[1]
        todo += [c for c, (parent, _) in stats.items() if parent == pid]
    return total / _TICK


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--experiment", default="flow-1d")
    parser.add_argument("--tasks", type=int, default=4)
    parser.add_argument("--jobs", default="1,2,4")
    parser.add_argument("--executors", default="local,ray,ray-proc")
    parser.add_argument("--out", default="/tmp/sweep-bench")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    args = parser.parse_args()
    importlib.import_module("dynml.experiments." + args.experiment.replace("-", "_"))
    spec = get(args.experiment)
    seeds = list(range(args.tasks))
    extra = "".join(f" --set {kv}" for kv in args.set)
    load = os.getloadavg()
    print(
        f"{args.experiment} --quick{extra}, {args.tasks} runs per setting; {os.cpu_count()} "
        f"cores, load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}"
    )
    print(
        f"{'executor':<9} {'jobs':>4} {'start s':>8} {'wall s':>8} {'runs/min':>9} "
        f"{'CPU s':>7} {'runs/CPU-min':>13}"
    )
    for executor in args.executors.split(","):
        for jobs in (int(j) for j in args.jobs.split(",")):
            root = Path(args.out) / f"{executor}-{jobs}"
            shutil.rmtree(root, ignore_errors=True)
            tasks = sw.plan(spec, [], seeds, args.set, quick=True)
            rec = sw.record(root, sw.new_sweep_id(), spec, tasks, [], seeds, args.set, True)
            ray, start_s, runner = None, 0.0, executor
            if executor.startswith("ray"):
                start = time.perf_counter()
                ray, _ = RayExecutor(jobs).connect()  # the sweep joins this instance
                start_s = time.perf_counter() - start
                runner = RayExecutor(jobs, in_worker=executor == "ray")
            cpu, start = tree_cpu(), time.perf_counter()
            agg, results = sw.run_sweep(root, rec, runner, jobs=jobs, log=lambda _: None)
            wall = time.perf_counter() - start
            cpu = tree_cpu() - cpu
            if ray is not None:
                ray.shutdown()
            ok = sum(r.ok for r in results)
            print(
                f"{executor:<9} {jobs:>4} {start_s:8.1f} {wall:8.1f} {60 * ok / wall:9.2f} "
                f"{cpu:7.1f} {60 * ok / cpu:13.2f}"
                + ("" if ok == len(results) else f"  ({len(results) - ok} failed)"),
                flush=True,
            )


if __name__ == "__main__":
    main()

"""Throughput of the sweep executors: runs per minute of a quick experiment at 1, 2, 4 workers.

    python benchmarks/sweep_throughput.py [--experiment flow-1d] [--tasks 4] [--jobs 1,2,4]
                                          [--executors local,ray] [--out /tmp/sweep-bench]
                                          [--set KEY=VALUE ...]

Each setting runs a fresh sweep of `--tasks` seeds of the experiment's quick config (one
process per run) and prints the wall time, runs per minute, and the CPU time of the runs
(children of this process: the local executor only; Ray's workers are not our children).
On a machine with fewer free cores than workers the runs share the cores, so runs/min stops
growing at the number of free cores.
"""

import argparse
import importlib
import resource
import shutil
import time
from pathlib import Path

from dynml.core import sweep as sw
from dynml.core.experiment import get


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--experiment", default="flow-1d")
    parser.add_argument("--tasks", type=int, default=4)
    parser.add_argument("--jobs", default="1,2,4")
    parser.add_argument("--executors", default="local,ray")
    parser.add_argument("--out", default="/tmp/sweep-bench")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    args = parser.parse_args()
    importlib.import_module("dynml.experiments." + args.experiment.replace("-", "_"))
    spec = get(args.experiment)
    seeds = list(range(args.tasks))
    extra = "".join(f" --set {kv}" for kv in args.set)
    print(f"{args.experiment} --quick{extra}, {args.tasks} runs per setting")
    print(f"{'executor':<9} {'jobs':>4} {'wall s':>8} {'runs/min':>9} {'run CPU s':>10}")
    for executor in args.executors.split(","):
        for jobs in (int(j) for j in args.jobs.split(",")):
            root = Path(args.out) / f"{executor}-{jobs}"
            shutil.rmtree(root, ignore_errors=True)
            tasks = sw.plan(spec, [], seeds, args.set, quick=True)
            rec = sw.record(root, sw.new_sweep_id(), spec, tasks, [], seeds, args.set, True)
            cpu, start = _children_cpu(), time.perf_counter()
            agg, results = sw.run_sweep(root, rec, executor, jobs=jobs, log=lambda _: None)
            wall = time.perf_counter() - start
            cpu = _children_cpu() - cpu
            ok = sum(r.ok for r in results)
            cpu_text = f"{cpu:10.1f}" if executor == "local" else f"{'-':>10}"
            print(
                f"{executor:<9} {jobs:>4} {wall:8.1f} {60 * ok / wall:9.2f} {cpu_text}"
                + ("" if ok == len(results) else f"  ({len(results) - ok} failed)"),
                flush=True,
            )


if __name__ == "__main__":
    main()

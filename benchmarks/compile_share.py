"""Compile share of quick runs: per experiment, wall, CPU and compile seconds (target <= 25 %).

Reads the newest quick run of each experiment under `--runs` (its metrics.json records
`elapsed_s`, `cpu_s` and `compile`, counted by `dynml.core.compile.CompileStats`), and prints
one row each with the costliest compiled function. With `--run NAME ...` it first runs those
experiments' quick configurations one after another (each in its own process), against a
fresh compile cache with `--cold` (what a first `make demo` pays) or the user's cache.

    .venv/bin/python benchmarks/compile_share.py [--runs runs] [--run flow-seed msa-toy] [--cold]
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

TARGET = 0.25


def newest_quick(runs: Path) -> dict[str, dict]:
    """experiment name -> metrics of its newest `*-quick` run folder."""
    out = {}
    for folder in sorted(runs.glob("*/*-quick")):
        path = folder / "metrics.json"
        if path.is_file():
            out[folder.parent.name] = json.loads(path.read_text())
    return out


def row(name: str, m: dict) -> str:
    comp = m.get("compile", {})
    wall, cpu, jit = m.get("elapsed_s", 0.0), m.get("cpu_s", 0.0), comp.get("compile_seconds", 0.0)
    share = jit / wall if wall else float("nan")
    top = comp.get("top_compiles") or [["?", 0, 0.0]]
    flag = "ok" if share <= TARGET else "over"
    return (
        f"{name:24s} {wall:7.1f} {cpu:7.1f} {jit:8.1f} {share:6.0%} {flag:4s} "
        f"{comp.get('compilations', 0):5d} {top[0][0]} x{top[0][1]} {top[0][2]:.1f}s"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=Path, default=Path("runs"))
    ap.add_argument("--run", nargs="*", default=[], help="experiments to run (quick) first")
    ap.add_argument("--cold", action="store_true", help="run them against an empty compile cache")
    args = ap.parse_args()
    env = dict(os.environ, DYNML_PROGRESS="0")
    if args.cold:
        env["DYNML_COMPILE_CACHE"] = tempfile.mkdtemp(prefix="dynml-cold-")
    dynml = Path(sys.executable).with_name("dynml")
    for name in args.run:
        subprocess.run([str(dynml), "run", name, "--quick"], env=env, check=False)
    metrics = newest_quick(args.runs)
    if not metrics:
        sys.exit(f"no quick runs under {args.runs}")
    print(
        f"{'experiment':24s} {'wall s':>7s} {'CPU s':>7s} {'jit s':>8s} {'share':>6s}      "
        f"{'comp':>5s} costliest compile"
    )
    for name in args.run or sorted(metrics):
        if name in metrics:
            print(row(name, metrics[name]))


if __name__ == "__main__":
    main()

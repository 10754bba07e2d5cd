"""`dynml`: list, run, runs, report, sweep and reproduce experiments.

Bad input (unknown experiment, unknown config key, badly typed value, unwritable folder,
missing file) is reported in one line on stderr with exit status 2.
"""

import argparse
import itertools
import os
import sys
from pathlib import Path

EXIT_USAGE = 2
DEFAULT_OUT = "runs"


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        print(f"dynml: error: {message}", file=sys.stderr)
        raise SystemExit(EXIT_USAGE)


def _out(args) -> Path:
    return Path(args.out or os.environ.get("DYNML_OUT", DEFAULT_OUT))


def _cmd_list(args) -> int:
    from .experiments import load_all

    registry = load_all()
    width = max((len(n) for n in registry), default=10)
    for name in sorted(registry):
        spec = registry[name]
        print(f"{name:<{width}}  {spec.summary}  [{spec.paper}]")
    return 0


def _run_one(spec, cfg, out: Path, quick: bool) -> object:
    from .core.experiment import execute

    run = execute(spec, cfg, out, quick)
    print(f"{spec.name}: done in {run.folder}")
    for key, value in run.metrics.items():
        paper = run.paper_values.get(key)
        beside = f"   (paper: {paper})" if paper is not None else ""
        print(f"  {key:<32} {value}{beside}")
    return run


def _cmd_run(args) -> int:
    from .core.experiment import check_writable
    from .experiments import get, load_all

    load_all()
    spec = get(args.name)
    cfg = spec.config(quick=args.quick, seed=args.seed, overrides=args.set)
    _run_one(spec, cfg, check_writable(_out(args)), args.quick)
    return 0


def _cmd_runs(args) -> int:
    from .core.runs import RunIndex

    rows = RunIndex(_out(args)).rows(args.experiment) if _out(args).is_dir() else []
    if not rows:
        print(f"no runs in {_out(args)}")
        return 0
    for r in rows[: args.limit]:
        headline = ", ".join(
            f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
            for k, v in list(r["metrics"].items())[:4]
        )
        mode = "quick" if r["quick"] else "full"
        print(
            f"{r['id']:>4}  {r['started']}  {r['experiment']:<24} {mode:<5} {r['status']:<7} {headline}"
        )
    return 0


def _cmd_report(args) -> int:
    from .core.experiment import check_writable
    from .core.gallery import write_gallery

    path = write_gallery(check_writable(_out(args)), latest_only=args.latest)
    print(f"wrote {path}")
    return 0


def _grid(items: list[str]) -> list[list[str]]:
    axes = []
    for item in items:
        if "=" not in item:
            raise ValueError(f"--grid expects key=v1,v2,..., got {item!r}")
        key, values = item.split("=", 1)
        axes.append([f"{key}={v}" for v in values.split(",") if v])
    return [list(combo) for combo in itertools.product(*axes)] if axes else [[]]


def _cmd_sweep(args) -> int:
    from .core.experiment import check_writable
    from .experiments import get, load_all

    load_all()
    spec = get(args.name)
    seeds = [int(s) for s in args.seeds.split(",")] if args.seeds else [None]
    tasks = [(combo, seed) for combo in _grid(args.grid) for seed in seeds]
    configs = [spec.config(args.quick, seed, args.set + combo) for combo, seed in tasks]
    if args.print_commands:
        for combo, seed in tasks:
            parts = ["dynml", "run", spec.name] + (["--quick"] if args.quick else [])
            parts += ["--seed", str(seed)] if seed is not None else []
            parts += [p for kv in args.set + combo for p in ("--set", kv)]
            print(" ".join(parts))
        return 0
    task_id = args.task_id if args.task_id is not None else os.environ.get("SLURM_ARRAY_TASK_ID")
    selected = range(len(tasks)) if task_id is None else [int(task_id)]
    out = check_writable(_out(args))
    for i in selected:
        if not 0 <= i < len(tasks):
            raise ValueError(f"task id {i} out of range: the sweep has {len(tasks)} tasks")
        _run_one(spec, configs[i], out, args.quick)
    return 0


def _cmd_claims(args) -> int:
    from .experiments import get, load_all

    load_all()
    spec = get(args.name)
    if not spec.claims:
        print(f"{spec.name} declares no claims")
        return 0
    for claim in spec.claims:
        quick = f"; quick band {claim.quick.describe()}" if claim.quick is not None else ""
        print(f"- {claim.text}")
        print(f"    metric {', '.join(claim.metrics)}: {claim.relation.describe()}{quick}")
        print(f"    paper: {claim.paper or '-'}  [{claim.source or 'no source given'}]")
    return 0


def _cmd_reproduce(args) -> int:
    from .core.claims import scoreboard_markdown, scoreboard_rows, scoreboard_text
    from .core.experiment import check_writable
    from .core.io import write_text
    from .experiments import get, load_all

    registry = load_all()
    names = args.only or sorted(registry)
    specs = [get(n) for n in names]
    out = check_writable(_out(args))
    failed, finished = [], []
    mode = "quick" if args.quick else "full"
    for spec in specs:
        try:
            run = _run_one(spec, spec.config(quick=args.quick), out, args.quick)
            finished.append((spec.name, mode, run.claim_results()))
        except Exception as err:  # one failure must not stop the others
            print(f"{spec.name}: FAILED: {type(err).__name__}: {err}", file=sys.stderr)
            failed.append(spec.name)
    print(f"reproduced {len(specs) - len(failed)} of {len(specs)} experiments in {out}")
    rows = scoreboard_rows(finished)
    write_text(out / "scoreboard.md", scoreboard_markdown(rows, f"Scoreboard ({mode} runs)"))
    print(scoreboard_text(rows))
    print(f"scoreboard written to {out / 'scoreboard.md'}")
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="dynml", description="Machine learning and dynamical systems in JAX.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = sub.add_parser("list", help="list registered experiments")
    p.set_defaults(func=_cmd_list)

    def add_out(p):
        p.add_argument("--out", help=f"output root (default ${{DYNML_OUT}} or ./{DEFAULT_OUT})")

    def add_config(p):
        p.add_argument("--quick", action="store_true", help="seconds-scale config, same code")
        p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")

    p = sub.add_parser("run", help="run one experiment")
    p.add_argument("name")
    add_config(p)
    p.add_argument("--seed", type=int)
    add_out(p)
    p.set_defaults(func=_cmd_run)

    p = sub.add_parser("runs", help="list past runs from the index")
    p.add_argument("--experiment")
    p.add_argument("--limit", type=int, default=50)
    add_out(p)
    p.set_defaults(func=_cmd_runs)

    p = sub.add_parser("report", help="write the HTML gallery of runs (index.html)")
    p.add_argument("--latest", action="store_true", help="only the newest run of each experiment")
    add_out(p)
    p.set_defaults(func=_cmd_report)

    p = sub.add_parser("sweep", help="run a grid of configs and seeds (or print it for a cluster)")
    p.add_argument("name")
    add_config(p)
    p.add_argument("--grid", action="append", default=[], metavar="KEY=V1,V2,...")
    p.add_argument("--seeds", help="comma-separated seeds")
    p.add_argument("--task-id", type=int, help="run only this task (default $SLURM_ARRAY_TASK_ID)")
    p.add_argument("--print-commands", action="store_true", help="print one command per task")
    add_out(p)
    p.set_defaults(func=_cmd_sweep)

    p = sub.add_parser("claims", help="list an experiment's paper claims without running it")
    p.add_argument("name")
    p.set_defaults(func=_cmd_claims)

    p = sub.add_parser("reproduce", help="run every registered experiment")
    p.add_argument("--quick", action="store_true")
    p.add_argument("--only", nargs="+", metavar="NAME")
    add_out(p)
    p.set_defaults(func=_cmd_reproduce)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, TypeError, FileNotFoundError, PermissionError) as err:
        message = str(err).splitlines()[0] if str(err) else type(err).__name__
        print(f"dynml: error: {message}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("dynml: interrupted; results written so far are kept", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())

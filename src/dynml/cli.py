"""`dynml`: list, run, runs, report, sweep and reproduce experiments.

Bad input (unknown experiment, unknown config key, badly typed or out-of-domain value,
unwritable folder, missing or corrupt file) is reported in one line on stderr with exit
status 2; a run that fails inside the experiment exits 1 and names its traceback.txt.
"""

import argparse
import json
import os
import shlex
import sys
import time
from pathlib import Path

EXIT_USAGE = 2
EXIT_FAILED = 1
_COMPUTING = ("run", "resume", "reproduce", "sweep")  # commands that compile: cache on
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


class _RunError(Exception):
    """A run failed inside the experiment (exit status 1); its folder is kept."""

    def __init__(self, message: str, run=None):
        super().__init__(message)
        self.run = run


def _print_run(run) -> None:
    from .core.claims import count_verdicts

    wall = time.time() - run.started
    jit = run.compile_stats.get("compile_seconds")
    jit_text = f", {jit:.1f} s compiling" if jit is not None else ""
    cpu_text = f", {run.cpu_seconds():.1f} s CPU"
    print(f"{run.name}: {run.status} in {run.folder} ({wall:.1f} s{cpu_text}{jit_text})")
    for key, value in run.metrics.items():
        paper = run.paper_values.get(key)
        beside = f"   (paper: {paper})" if paper is not None else ""
        print(f"  {key:<32} {_short(value)}{beside}")
    results = run.claim_results()
    if results:
        c = count_verdicts(results)
        print(f"  claims: {c['holds']} hold, {c['fails']} fail, {c['not measured']} not measured")
        for r in results:
            print(f"    {r['verdict']:<12} {r['claim']}: ours {r['ours']} (band {r['band']})")


def _short(value) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, list) and len(value) > 8:
        return "[" + ", ".join(_short(v) for v in value[:8]) + ", …]"
    return str(value)


def _run_one(spec, cfg, out: Path, quick: bool, folder: Path | None = None) -> object:
    from .core.experiment import RunFailed, execute

    print(f"{spec.name}: running ({'quick' if quick else 'full'}, seed {cfg.seed})", flush=True)
    try:
        run = execute(spec, cfg, out, quick, folder=folder)
    except RunFailed as err:
        _print_run(err.run)
        raise _RunError(
            f"{spec.name} {err.run.status}: {err}; see {err.run.folder / 'traceback.txt'}"
            if err.run.status == "failed"
            else f"{spec.name} {err.run.status}: {err}; numbers so far kept in {err.run.folder}",
            err.run,
        ) from None
    _print_run(run)
    return run


def _load_config_file(spec_name: str | None, path: str):
    """`(spec, cfg, quick)` from a run's config.json (or a bare config object)."""
    from .experiments import get, load_all

    load_all()
    file = Path(path)
    try:
        data = json.loads(file.read_text())
    except FileNotFoundError:
        raise ValueError(f"config file {file} does not exist") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(
            f"config file {file} is not readable JSON ({type(err).__name__})"
        ) from None
    if not isinstance(data, dict):
        raise ValueError(f"config file {file} must hold a JSON object")
    name = data.get("experiment", spec_name) if "config" in data else spec_name
    if spec_name is not None and name != spec_name:
        raise ValueError(f"config file {file} is for experiment {name!r}, not {spec_name!r}")
    if not isinstance(name, str):
        raise ValueError(f"config file {file} does not name its experiment")
    spec = get(name)
    values = data["config"] if "config" in data else data
    return spec, spec.config_from_dict(values), bool(data.get("quick", False))


def _cmd_run(args) -> int:
    from .core.experiment import check_writable
    from .experiments import get, load_all

    load_all()
    if args.config:
        spec, cfg, quick = _load_config_file(args.name, args.config)
        quick = quick or args.quick
        if args.set or args.seed is not None:
            import dataclasses

            extra = spec.config(quick=quick, seed=args.seed, overrides=args.set)
            changed = {k: getattr(extra, k) for k in _given_keys(args)}
            cfg = dataclasses.replace(cfg, **changed)
    else:
        spec = get(args.name)
        quick = args.quick
        cfg = spec.config(quick=quick, seed=args.seed, overrides=args.set)
    out = check_writable(_out(args))
    folder = _unfinished_folder(out, spec.name, cfg) if args.resume else None
    if args.resume and folder is None:
        print(f"{spec.name}: no unfinished run with this config in {out}; starting a new one")
    _run_one(spec, cfg, out, quick, folder=folder)
    return 0


def _given_keys(args) -> list[str]:
    keys = [item.split("=", 1)[0].strip() for item in args.set]
    return keys + (["seed"] if args.seed is not None else [])


def _unfinished_folder(out: Path, name: str, cfg) -> Path | None:
    """The newest run folder of `name` with this exact config that did not finish."""
    from dataclasses import asdict

    from .core.runs import RunIndex

    index = RunIndex(out)
    wanted = json.loads(json.dumps(asdict(cfg), default=str))
    for row in index.rows(name):
        if row["status"] not in ("interrupted", "failed", "diverged"):
            continue
        folder = index.folder_of(row)
        try:
            saved = json.loads((folder / "config.json").read_text()).get("config")
        except (OSError, ValueError, AttributeError):
            continue
        if saved == wanted:
            return folder
    return None


def _cmd_resume(args) -> int:
    from .core.runs import INDEX_NAME

    folder = Path(args.run_dir)
    if not (folder / "config.json").is_file():
        raise ValueError(f"{folder} is not a run folder (no config.json)")
    spec, cfg, quick = _load_config_file(None, str(folder / "config.json"))
    root = folder.parent.parent
    if not (root / INDEX_NAME).exists() and args.out is None:
        print(f"note: no index in {root}; a new one is created there")
    out = Path(args.out) if args.out else root
    _run_one(spec, cfg, out, quick, folder=folder)
    return 0


def _cmd_show(args) -> int:
    import dataclasses
    import typing

    from .experiments import get, load_all

    load_all()
    spec = get(args.name)
    hints = typing.get_type_hints(spec.config_cls)
    full, quick = spec.config_cls(), spec.config_cls.quick()
    print(f"{spec.name}: {spec.summary}  [{spec.paper}]")
    rows = [("field", "type", "default", "quick")]
    for f in dataclasses.fields(spec.config_cls):
        tp = hints[f.name]
        tname = getattr(tp, "__name__", str(tp)) if typing.get_origin(tp) is None else str(tp)
        a, b = getattr(full, f.name), getattr(quick, f.name)
        rows.append((f.name, tname, repr(a), repr(b) if b != a else "="))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())
    return 0


def _cmd_index(args) -> int:
    from .core.runs import RunIndex

    out = _out(args)
    if not out.is_dir():
        raise ValueError(f"output folder {out} does not exist")
    if not args.rebuild:
        rows = RunIndex(out, create=False).rows()
        print(f"{out / 'index.sqlite'}: {len(rows)} run(s) indexed")
        return 0
    n = RunIndex.rebuilt(out)
    print(f"rebuilt {out / 'index.sqlite'} from {n} run folder(s)")
    return 0


def _cmd_runs(args) -> int:
    from .core.runs import RunIndex

    if args.limit < 1:
        raise ValueError(f"--limit must be a positive number of runs, got {args.limit}")
    out = _out(args)
    if args.sweep:
        from .core.sweep import sweep_listing

        print(sweep_listing(out, args.sweep))
        return 0
    index = RunIndex(out, create=False) if out.is_dir() else None
    rows = index.rows(args.experiment) if index is not None else []
    if not rows:
        print(f"no runs in {out}")
        return 0
    for r in rows[: args.limit]:
        headline = ", ".join(
            f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={_short(v)}"
            for k, v in list(r["metrics"].items())[:3]
        )
        claims = r.get("claims") or []
        held = sum(1 for c in claims if isinstance(c, dict) and c.get("verdict") == "holds")
        verdicts = f"claims {held}/{len(claims)}" if claims else "no claims"
        wall, comp = r.get("elapsed_s"), r.get("compile_s")
        timing = f"{wall:.0f}s" if wall else "-"
        timing += f" ({comp:.0f}s jit)" if comp is not None and wall else ""
        mode = "quick" if r["quick"] else "full"
        print(
            f"{r['id']:>4}  {r['started']}  {r['experiment']:<24} {mode:<5} {r['status']:<11} "
            f"{verdicts:<11} {timing:<14} {index.folder_of(r)}  {headline}"
        )
    return 0


def _cmd_report(args) -> int:
    from .core.experiment import check_writable
    from .core.gallery import write_gallery

    path = write_gallery(check_writable(_out(args)), latest_only=args.latest)
    print(f"wrote {path}")
    return 0


def _grid(items: list[str]) -> list[list[str]]:
    from .core.sweep import grid_points

    return [list(point) for point in grid_points(items)]


def _cmd_sweep(args) -> int:
    from .core import sweep as sw
    from .core.experiment import check_writable
    from .experiments import get, load_all

    load_all()
    spec = get(args.name)
    if args.resume and (args.grid or args.seeds or args.set):
        raise ValueError(
            "--resume ID takes the grid, seeds and --set values recorded with sweep ID"
        )
    seeds = sw.parse_seeds(args.seeds)
    if args.print_commands:
        for combo in _grid(args.grid):
            for seed in seeds:
                spec.config(args.quick, seed, args.set + combo)
                parts = ["dynml", "run", spec.name] + (["--quick"] if args.quick else [])
                parts += ["--seed", str(seed)] if seed is not None else []
                parts += [p for kv in args.set + combo for p in ("--set", kv)]
                print(" ".join(shlex.quote(p) for p in parts))
        return 0
    out = check_writable(_out(args))
    task_id = args.task_id if args.task_id is not None else os.environ.get("SLURM_ARRAY_TASK_ID")
    if args.resume:
        rec = sw.load_record(out, args.resume)
        if rec["experiment"] != spec.name:
            raise ValueError(f"sweep {args.resume} is of {rec['experiment']!r}, not {spec.name!r}")
    else:
        tasks = sw.plan(spec, args.grid, seeds, args.set, args.quick)
        if task_id is not None and not 0 <= int(task_id) < len(tasks):
            raise ValueError(f"task id {task_id} out of range: the sweep has {len(tasks)} tasks")
        job = os.environ.get("SLURM_ARRAY_JOB_ID") if task_id is not None else None
        sweep_id = f"slurm-{job}" if job else sw.new_sweep_id()
        rec = sw.record(out, sweep_id, spec, tasks, args.grid, seeds, args.set, args.quick)
    if task_id is not None:  # one task of a scheduler's array, in this process
        tasks = sw.tasks_of(rec)
        i = int(task_id)
        if not 0 <= i < len(tasks):
            raise ValueError(f"task id {i} out of range: the sweep has {len(tasks)} tasks")
        print(f"sweep {rec['id']}: task {i} ({tasks[i].label()})", flush=True)
        return sw.run_task(sw.task_payload(out, rec, tasks[i]))
    agg, results = sw.run_sweep(out, rec, args.executor, args.jobs, args.retries, args.address)
    print(sw.summary_text(agg))
    print(f"sweep report: {sw.sweep_folder(out, rec['id']) / 'report.md'}")
    failed = [r for r in results if not r.ok]
    if failed:
        print(
            f"dynml: {len(failed)} task(s) failed; re-run only those with: "
            f"dynml sweep {spec.name} --resume {rec['id']} --out {out}",
            file=sys.stderr,
        )
    return EXIT_FAILED if failed else 0


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


def _timing_table(timing: list) -> str:
    """Per run: wall and CPU seconds, compile seconds and their share of wall; the totals."""
    lines = [
        f"{'experiment':<24} {'status':<9} {'wall s':>8} {'cpu s':>8} {'jit s':>7} {'jit %':>6} "
        f"{'compiles':>8}"
    ]
    total_wall = total_cpu = total_jit = 0.0
    for name, status, wall, cpu, stats in timing:
        jit = float(stats.get("compile_seconds") or 0.0)
        total_wall, total_cpu, total_jit = total_wall + wall, total_cpu + cpu, total_jit + jit
        share = 100 * jit / wall if wall else 0.0
        lines.append(
            f"{name:<24} {status:<9} {wall:>8.1f} {cpu:>8.1f} {jit:>7.1f} {share:>5.0f}% "
            f"{stats.get('compilations', '-'):>8}"
        )
    share = 100 * total_jit / total_wall if total_wall else 0.0
    lines.append(
        f"{'total':<24} {'':<9} {total_wall:>8.1f} {total_cpu:>8.1f} {total_jit:>7.1f} {share:>5.0f}%"
    )
    return "\n".join(lines)


def _cmd_reproduce(args) -> int:
    from .core.claims import scoreboard_markdown, scoreboard_rows, scoreboard_text
    from .core.experiment import check_writable
    from .core.io import write_text
    from .experiments import get, load_all

    registry = load_all()
    names = args.only or sorted(registry)
    specs = [get(n) for n in names]
    out = check_writable(_out(args))
    failed, finished, timing = [], [], []
    mode = "quick" if args.quick else "full"
    for spec in specs:
        try:
            run = _run_one(spec, spec.config(quick=args.quick), out, args.quick)
        except _RunError as err:  # one failure must not stop the others
            print(f"dynml: {err}", file=sys.stderr)
            failed.append(spec.name)
            run = err.run
        if run is not None:
            finished.append((spec.name, mode, run.claim_results()))
            wall = (run.finished or time.time()) - run.started
            timing.append((spec.name, run.status, wall, run.cpu_seconds(), run.compile_stats))
    print(f"reproduced {len(specs) - len(failed)} of {len(specs)} experiments in {out}")
    print(_timing_table(timing))
    rows = scoreboard_rows(finished)
    board = scoreboard_markdown(rows, f"Scoreboard ({mode} runs)")
    board += "\n## Wall and compile time per run\n\n```\n" + _timing_table(timing) + "\n```\n"
    write_text(out / "scoreboard.md", board)
    print(scoreboard_text(rows))
    print(f"scoreboard written to {out / 'scoreboard.md'}")
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="dynml", description="Machine learning and dynamical systems in JAX.")
    parser.add_argument("--version", action="version", version=f"dynml {_version()}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = sub.add_parser("list", help="list registered experiments")
    p.set_defaults(func=_cmd_list)

    def add_out(p):
        p.add_argument("--out", help=f"output root (default ${{DYNML_OUT}} or ./{DEFAULT_OUT})")

    def add_config(p):
        p.add_argument("--quick", action="store_true", help="seconds-scale config, same code")
        p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")

    p = sub.add_parser("run", help="run one experiment")
    p.add_argument("name", nargs="?", help="experiment (optional with --config)")
    add_config(p)
    p.add_argument("--seed", type=int)
    p.add_argument("--config", metavar="FILE", help="re-run from a run's config.json")
    p.add_argument(
        "--resume", action="store_true", help="continue the newest unfinished run of this config"
    )
    add_out(p)
    p.set_defaults(func=_cmd_run)

    p = sub.add_parser("resume", help="continue an interrupted run in its folder")
    p.add_argument("run_dir", metavar="RUN_DIR")
    add_out(p)
    p.set_defaults(func=_cmd_resume)

    p = sub.add_parser(
        "show", help="print an experiment's config fields, defaults and quick values"
    )
    p.add_argument("name")
    p.set_defaults(func=_cmd_show)

    p = sub.add_parser("index", help="check the run index, or --rebuild it from the run folders")
    p.add_argument("--rebuild", action="store_true")
    add_out(p)
    p.set_defaults(func=_cmd_index)

    p = sub.add_parser("runs", help="list past runs from the index")
    p.add_argument("--experiment")
    p.add_argument("--limit", type=int, default=50)
    p.add_argument("--sweep", metavar="ID", help="the members and aggregate of sweep ID")
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
    p.add_argument("--seeds", help="seeds: a range 0-9, a list 0,3,7, or both (0-2,5)")
    p.add_argument("--executor", choices=["local", "ray"], default="local")
    p.add_argument("--jobs", type=int, default=1, help="runs at a time (one process each)")
    p.add_argument("--address", help="Ray cluster to join (auto or HOST:PORT); default: local Ray")
    p.add_argument("--retries", type=int, default=1, help="retries of a failed task (default 1)")
    p.add_argument("--resume", metavar="ID", help="run only sweep ID's unfinished tasks")
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


def _version() -> str:
    from . import __version__

    return __version__


def _one_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "run" and not args.name and not args.config:
        print("dynml: error: run needs an experiment name or --config FILE", file=sys.stderr)
        return EXIT_USAGE
    if not sys.stderr.isatty():
        os.environ.setdefault("DYNML_PROGRESS", "0")  # progress bars only on a terminal
    if args.command in _COMPUTING:
        from .core.compile import enable_persistent_cache

        enable_persistent_cache()
    try:
        return args.func(args)
    except _RunError as err:
        print(f"dynml: {err}", file=sys.stderr)
        return EXIT_FAILED
    except (ValueError, TypeError, FileNotFoundError, PermissionError, OverflowError) as err:
        print(f"dynml: error: {_one_line(err)}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as err:
        if isinstance(err, BrokenPipeError):
            return _closed_pipe()
        print(f"dynml: error: {_one_line(err)}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("dynml: interrupted; results written so far are kept", file=sys.stderr)
        return 130
    except Exception as err:  # a bug, not bad input: one line, exit 1, traceback on request
        if os.environ.get("DYNML_DEBUG"):
            raise
        print(
            f"dynml: internal error: {type(err).__name__}: {_one_line(err)} "
            "(set DYNML_DEBUG=1 to see the traceback)",
            file=sys.stderr,
        )
        return EXIT_FAILED


def _closed_pipe() -> int:
    """The reader went away (`dynml list | head`): stop quietly, as Unix tools do."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except OSError:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Sweeps: a grid of configs × seeds run on an executor, and their aggregate over seeds.

A sweep of experiment `NAME` is the product of grid points (`--grid key=v1,v2 ...`) and seeds
(`--seeds 0-9`); every (grid point, seed) is a task, numbered in that order, run by an
executor (`dynml.core.executors`) as its own process, into its own run folder
`<out>/NAME/<sweep id>-t<task>-s<seed>[-quick][-n]`, with its own index row tagged with the
sweep id and task number. The sweep itself is recorded in the index and in
`<out>/sweeps/<sweep id>/`: `sweep.json` (experiment, grid, seeds, tasks), `logs/` (one log
per task attempt), and, when its tasks have run, `aggregate.json` and `report.md`.

The aggregate groups the finished runs by grid point and gives, for every scalar metric, the
statistics over seeds of its values `x_1..x_n`:

    mean = (1/n) Σ x_i,    sd = sqrt( Σ (x_i − mean)² / (n − 1) )   (none when n < 2),

with `min`, `max` and `n`; and, for every claim, how many seeds hold it (and fail it, or
leave it not measured). Papers state claims about means and spreads over seeds; the sweep
shows both the per-seed verdicts and the spread.
"""

import html
import importlib
import importlib.util
import json
import math
import os
import secrets
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from .executors import AbstractExecutor, TaskResult, make_executor
from .executors.base import Task
from .io import write_json, write_text
from .runs import SWEEPS_DIR, RunIndex


@dataclass(frozen=True)
class SweepTask:
    """One task of a sweep: its number, its grid point (`key=value` overrides) and seed."""

    index: int
    overrides: tuple[str, ...]
    seed: int | None

    def label(self) -> str:
        seed = "" if self.seed is None else f"seed={self.seed}"
        return " ".join([*self.overrides, seed]).strip() or "default"


def parse_seeds(text: str | None) -> list[int | None]:
    """Seeds from `"0-9"`, `"0,3,7"` or a mix (`"0-2,5"`); `None` (the config's seed) if empty."""
    if text is None or not text.strip():
        return [None]
    seeds: list[int] = []
    for part in (p.strip() for p in text.split(",")):
        try:
            if "-" in part:
                low, high = (int(s) for s in part.split("-", 1))
                if high < low:
                    raise ValueError
                seeds += range(low, high + 1)
            elif part:
                seeds.append(int(part))
            else:
                raise ValueError
        except ValueError:
            raise ValueError(
                f"--seeds expects non-negative integers and ranges like 0-9 or 0,2,5-7, "
                f"got {text!r}"
            ) from None
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"--seeds lists a seed twice: {text!r}")
    return list(seeds) or [None]


def grid_points(items: Sequence[str]) -> list[tuple[str, ...]]:
    """The product of `key=v1,v2,...` axes as tuples of `key=value` overrides."""
    import itertools

    axes, keys = [], set()
    for item in items:
        if "=" not in item:
            raise ValueError(f"--grid expects key=v1,v2,..., got {item!r}")
        key, values = (part.strip() for part in item.split("=", 1))
        if key in keys:
            raise ValueError(f"--grid names {key!r} twice: give all its values in one --grid")
        keys.add(key)
        points = [v.strip() for v in values.split(",")]
        if not key or not values.strip() or any(not v for v in points):
            raise ValueError(f"--grid {item!r} needs a key and non-empty values: key=v1,v2")
        axes.append([f"{key}={v}" for v in points])
    return [tuple(combo) for combo in itertools.product(*axes)] if axes else [()]


def plan(spec, grid: Sequence[str], seeds: Sequence[int | None], sets: Sequence[str], quick: bool):
    """The tasks of a sweep (grid points × seeds); every config is built (and checked) first."""
    tasks = [
        SweepTask(i, combo, seed)
        for i, (combo, seed) in enumerate((c, s) for c in grid_points(grid) for s in seeds)
    ]
    for t in tasks:
        spec.config(quick, t.seed, [*sets, *t.overrides])
    return tasks


def new_sweep_id() -> str:
    """A fresh sweep id: `<date>-<time>-<4 hex digits>`."""
    return datetime.now().strftime("%Y%m%d-%H%M%S") + "-" + secrets.token_hex(2)


def sweep_folder(root: Path, sweep_id: str) -> Path:
    return Path(root) / SWEEPS_DIR / sweep_id


def record(root: Path, sweep_id: str, spec, tasks, grid, seeds, sets, quick: bool) -> dict:
    """Write `sweep.json` and register the sweep in the index; return the record."""
    module = sys.modules[spec.config_cls.__module__]
    rec = {
        "id": sweep_id,
        "experiment": spec.name,
        "module": module.__name__,
        "module_file": getattr(module, "__file__", None),
        "quick": quick,
        "grid": list(grid),
        "seeds": list(seeds),
        "set": list(sets),
        "tasks": [asdict(t) for t in tasks],
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    write_json(sweep_folder(root, sweep_id) / "sweep.json", rec)
    RunIndex(root).add_sweep(sweep_id, spec.name, quick, rec)
    return rec


def load_record(root: Path, sweep_id: str) -> dict:
    """The record of sweep `sweep_id` (`ValueError` if there is none under `root`)."""
    path = sweep_folder(root, sweep_id) / "sweep.json"
    if not path.is_file():
        row = RunIndex(root).sweep(sweep_id)
        if row is None:
            raise ValueError(f"no sweep {sweep_id!r} in {root}")
        return row["spec"]
    return json.loads(path.read_text())


def tasks_of(rec: dict) -> list[SweepTask]:
    return [SweepTask(t["index"], tuple(t["overrides"]), t["seed"]) for t in rec["tasks"]]


def members(root: Path, sweep_id: str) -> dict[int, list[dict]]:
    """The index rows of a sweep's runs by task number, newest first."""
    out: dict[int, list[dict]] = {}
    for row in RunIndex(root).rows(sweep=sweep_id):
        out.setdefault(row["sweep_task"], []).append(row)
    return out


def finished(root: Path, sweep_id: str) -> dict[int, dict]:
    """For each task with a finished (`done`) run, its newest such row."""
    done = {}
    for task, rows in members(root, sweep_id).items():
        ok = [r for r in rows if r["status"] == "done"]
        if ok:
            done[task] = ok[0]
    return done


# --- one task, in its own process -------------------------------------------------------------


def task_payload(root: Path, rec: dict, task: SweepTask) -> dict:
    return {
        "experiment": rec["experiment"],
        "module": rec["module"],
        "module_file": rec["module_file"],
        "quick": rec["quick"],
        "seed": task.seed,
        "overrides": [*rec["set"], *task.overrides],
        "out": str(Path(root).resolve()),
        "sweep_id": rec["id"],
        "task": task.index,
    }


def _import_experiment(payload: dict):
    from .experiment import REGISTRY

    name = payload["module"]
    try:
        importlib.import_module(name)
    except ModuleNotFoundError:
        file = payload.get("module_file")
        if not file:
            raise
        module_spec = importlib.util.spec_from_file_location(name, file)
        module = importlib.util.module_from_spec(module_spec)
        sys.modules[name] = module
        module_spec.loader.exec_module(module)
    return REGISTRY[payload["experiment"]]


def run_task(payload: dict) -> int:
    """Run one sweep task in this process into its own folder; 0 if it finished, 1 if not."""
    from .experiment import RunFailed, execute

    spec = _import_experiment(payload)
    quick, seed = payload["quick"], payload["seed"]
    cfg = spec.config(quick, seed, payload["overrides"])
    root = Path(payload["out"])
    seed_part = f"-s{getattr(cfg, 'seed', 0)}" + ("-quick" if quick else "")
    base = f"{payload['sweep_id']}-t{payload['task']:03d}{seed_part}"
    folder, n = root / spec.name / base, 1
    while True:  # claim a folder nobody else uses: mkdir fails if it exists
        try:
            folder.mkdir(parents=True)
            break
        except FileExistsError:
            n += 1
            folder = root / spec.name / f"{base}-{n}"
    index = RunIndex(root)
    try:
        run = execute(spec, cfg, root, quick, folder=folder)
    except RunFailed as err:
        print(f"{spec.name}: FAILED in {folder}: {err}", file=sys.stderr)
        return 1
    finally:
        index.tag_run(folder, payload["sweep_id"], payload["task"])
    print(f"{spec.name}: done in {run.folder}")
    return 0


def task_command(root: Path, rec: dict, task: SweepTask) -> Task:
    """The executor task running sweep task `task` as `python -m dynml.core.sweep PAYLOAD`."""
    payload = json.dumps(task_payload(root, rec, task))
    log = sweep_folder(root, rec["id"]) / "logs" / f"task-{task.index:03d}"
    env = {"DYNML_PROGRESS": os.environ.get("DYNML_PROGRESS", "0")}
    return Task(task.index, ("python", "-m", "dynml.core.sweep", payload), log, env)


# --- aggregation -------------------------------------------------------------------------------


def metric_stats(values: Sequence[float]) -> dict:
    """Mean, sample standard deviation (n − 1; none for n < 2), min, max and n of the finite
    values; `n_nonfinite` counts the values left out."""
    finite = [float(v) for v in values if math.isfinite(float(v))]
    n = len(finite)
    out: dict = {"n": n, "mean": None, "sd": None, "min": None, "max": None}
    if n:
        mean = math.fsum(finite) / n
        out.update(mean=mean, min=min(finite), max=max(finite))
        if n > 1:
            out["sd"] = math.sqrt(math.fsum((v - mean) ** 2 for v in finite) / (n - 1))
    if n < len(values):
        out["n_nonfinite"] = len(values) - n
    return out


def _scalar(value) -> float | None:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float):
        return float(value)
    return None


def aggregate(tasks: Sequence[SweepTask], done: dict[int, dict]) -> list[dict]:
    """One group per grid point: per-seed values and `metric_stats` of every scalar metric
    (booleans count as 0/1; lists are not aggregated) and per-claim verdict counts."""
    groups: dict[tuple, dict] = {}
    for t in tasks:
        g = groups.setdefault(
            t.overrides, {"grid": list(t.overrides), "tasks": [], "seeds": [], "runs": 0}
        )
        g["tasks"].append(t.index)
        row = done.get(t.index)
        if row is None:
            continue
        g["runs"] += 1
        g["seeds"].append(t.seed if t.seed is not None else row.get("seed"))
        g.setdefault("_rows", []).append(row)
    out = []
    for g in groups.values():
        rows = g.pop("_rows", [])
        names: list[str] = []
        for r in rows:
            names += [k for k in r["metrics"] if k not in names]
        metrics = {}
        for name in names:
            per_seed = [_scalar(r["metrics"].get(name)) for r in rows]
            if any(v is None for v in per_seed):
                continue
            metrics[name] = {**metric_stats(per_seed), "values": per_seed}
        claims: dict[str, dict] = {}
        for r in rows:
            for c in r["claims"]:
                entry = claims.setdefault(
                    c["claim"],
                    {k: c.get(k, "") for k in ("claim", "metric", "band", "band_used", "paper")}
                    | {"holds": 0, "fails": 0, "not measured": 0, "n": 0},
                )
                entry[c["verdict"]] = entry.get(c["verdict"], 0) + 1
                entry["n"] += 1
        out.append({**g, "metrics": metrics, "claims": list(claims.values())})
    return out


def _fmt(value) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _md(text) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def report_markdown(rec: dict, groups: list[dict], results: dict[int, dict]) -> str:
    """The sweep's report: tasks, claim hold counts and metric statistics per grid point."""
    tasks = tasks_of(rec)
    n_done = sum(g["runs"] for g in groups)
    mode = "quick" if rec["quick"] else "full"
    lines = [
        f"# sweep {rec['id']}: {rec['experiment']}",
        "",
        f"Mode: {mode}; grid: {' '.join(rec['grid']) or '(none)'}; seeds: "
        f"{', '.join(_fmt(s) for s in rec['seeds'])}; fixed: {' '.join(rec['set']) or '(none)'}.  ",
        f"{n_done} of {len(tasks)} tasks finished.",
        "",
        "## Claims: seeds that hold each claim",
        "",
        "| grid point | claim | band | paper | holds | fails | not measured |",
        "|---|---|---|---|---|---|---|",
    ]
    for g in groups:
        point = " ".join(g["grid"]) or "default"
        for c in g["claims"]:
            band = f"{c['band']} ({c['band_used']})"
            lines.append(
                "| "
                + " | ".join(
                    _md(x)
                    for x in (
                        point,
                        c["claim"],
                        band,
                        c["paper"],
                        f"{c['holds']}/{c['n']}",
                        c["fails"],
                        c["not measured"],
                    )
                )
                + " |"
            )
    if not any(g["claims"] for g in groups):
        lines.append("| (no claims measured) | | | | | | |")
    lines += ["", "## Metrics over seeds", ""]
    for g in groups:
        lines += [
            f"### {' '.join(g['grid']) or 'default'} ({g['runs']} runs; seeds "
            f"{', '.join(_fmt(s) for s in g['seeds'])})",
            "",
            "| metric | mean | sd | min | max | n | per seed |",
            "|---|---|---|---|---|---|---|",
        ]
        for name, s in g["metrics"].items():
            per_seed = ", ".join(_fmt(v) for v in s["values"])
            cells = (name, s["mean"], s["sd"], s["min"], s["max"], s["n"], per_seed)
            lines.append("| " + " | ".join(_md(_fmt(c)) for c in cells) + " |")
        lines.append("")
    lines += ["## Tasks", "", "| task | grid point, seed | status | attempts | run folder or log |"]
    lines.append("|---|---|---|---|---|")
    for t in tasks:
        r = results.get(t.index, {})
        where = r.get("folder") or r.get("log") or ""
        lines.append(
            f"| {t.index} | {_md(t.label())} | {r.get('status', 'not run')} | "
            f"{r.get('attempts', '')} | {_md(where)} |"
        )
    return "\n".join(lines) + "\n"


def write_aggregate(root: Path, sweep_id: str, results: dict[int, dict] | None = None) -> dict:
    """Aggregate the sweep's finished runs into `aggregate.json` and `report.md`."""
    root = Path(root)
    rec = load_record(root, sweep_id)
    tasks = tasks_of(rec)
    done = finished(root, sweep_id)
    table = {t: dict(v) for t, v in (results or {}).items()}
    runs_by_task = members(root, sweep_id)
    for t in tasks:
        entry = table.setdefault(t.index, {})
        rows = runs_by_task.get(t.index, [])
        if t.index in done:
            entry.update(status="done", folder=done[t.index]["folder"])
        elif rows:
            entry.setdefault("status", rows[0]["status"])
            entry.setdefault("folder", rows[0]["folder"])
    groups = aggregate(tasks, done)
    status = "done" if len(done) == len(tasks) else "incomplete"
    agg = {
        "id": sweep_id,
        "experiment": rec["experiment"],
        "quick": rec["quick"],
        "status": status,
        "tasks": len(tasks),
        "finished": len(done),
        "groups": groups,
    }
    folder = sweep_folder(root, sweep_id)
    write_json(folder / "aggregate.json", agg)
    write_text(folder / "report.md", report_markdown(rec, groups, table))
    RunIndex(root).set_sweep_status(sweep_id, status)
    return agg


# --- running a sweep ---------------------------------------------------------------------------


def run_sweep(
    root: Path,
    rec: dict,
    executor: str | AbstractExecutor = "local",
    jobs: int = 1,
    retries: int = 1,
    address: str | None = None,
    log=None,
) -> tuple[dict, list[TaskResult]]:
    """Run the tasks of sweep `rec` that have no finished run, then write its aggregate.

    `executor` is a name (`local`, `ray`: made with `jobs`, `retries`, `address`) or an
    executor object."""
    root = Path(root)
    log = log or (lambda line: print(line, flush=True))
    done = finished(root, rec["id"])
    todo = [t for t in tasks_of(rec) if t.index not in done]
    runner = (
        executor
        if isinstance(executor, AbstractExecutor)
        else make_executor(executor, jobs, retries, address)
    )
    log(
        f"sweep {rec['id']}: {rec['experiment']}, {len(todo)} of {len(rec['tasks'])} tasks to "
        f"run on {runner.name} ({runner.jobs} at a time)"
    )
    labels = {t.index: t.label() for t in todo}
    count = [0]

    def report(r: TaskResult) -> None:
        count[0] += 1
        what = "done" if r.ok else f"FAILED after {r.attempts} attempts ({r.error}); log {r.log}"
        log(
            f"  [{count[0]}/{len(todo)}] task {r.index} ({labels[r.index]}): {what} "
            f"in {r.elapsed_s:.1f} s"
        )

    results = runner.run([task_command(root, rec, t) for t in todo], on_result=report)
    table = {
        r.index: {
            "status": "done" if r.ok else "failed",
            "attempts": r.attempts,
            "log": str(r.log),
            "error": r.error,
        }
        for r in results
    }
    return write_aggregate(root, rec["id"], table), results


def summary_text(agg: dict) -> str:
    """The aggregate for the terminal: claims' hold counts, then mean ± sd of each metric."""
    out = [
        f"sweep {agg['id']} ({agg['experiment']}): {agg['finished']} of {agg['tasks']} tasks "
        f"finished, status {agg['status']}"
    ]
    for g in agg["groups"]:
        out.append(f"  {' '.join(g['grid']) or 'default'}: {g['runs']} runs")
        for c in g["claims"]:
            out.append(f"    claim holds {c['holds']}/{c['n']}: {c['claim']} ({c['band']})")
        for name, s in g["metrics"].items():
            sd = f" ± {_fmt(s['sd'])}" if s["sd"] is not None else ""
            out.append(
                f"    {name:<32} {_fmt(s['mean'])}{sd}  [{_fmt(s['min'])}, {_fmt(s['max'])}] "
                f"n={s['n']}"
            )
    return "\n".join(out)


def sweep_listing(root: Path, sweep_id: str) -> str:
    """`dynml runs --sweep ID`: the sweep's member runs, then its aggregate over seeds."""
    root = Path(root)
    rec = load_record(root, sweep_id)
    index = RunIndex(root)
    lines = [f"sweep {sweep_id}: {rec['experiment']} ({'quick' if rec['quick'] else 'full'})"]
    by_task = members(root, sweep_id)
    for t in tasks_of(rec):
        rows = by_task.get(t.index, [])
        if not rows:
            lines.append(f"  task {t.index:>3}  {t.label():<30} not run")
        for r in rows:
            lines.append(
                f"  task {t.index:>3}  {t.label():<30} {r['status']:<11} run {r['id']:>4}  "
                f"{index.folder_of(r)}"
            )
    groups = aggregate(tasks_of(rec), finished(root, sweep_id))
    n_done = sum(g["runs"] for g in groups)
    agg = {
        "id": sweep_id,
        "experiment": rec["experiment"],
        "finished": n_done,
        "tasks": len(rec["tasks"]),
        "status": "done" if n_done == len(rec["tasks"]) else "incomplete",
        "groups": groups,
    }
    return "\n".join(lines) + "\n" + summary_text(agg)


# --- the gallery card --------------------------------------------------------------------------


def _strip_svg(values: Sequence[float], seeds: Sequence) -> str:
    """A per-seed strip plot: one dot per seed on a line from min to max, the mean marked."""
    finite = [(v, s) for v, s in zip(values, seeds, strict=False) if math.isfinite(v)]
    if not finite:
        return ""
    low, high = min(v for v, _ in finite), max(v for v, _ in finite)
    span = (high - low) or 1.0
    mean = math.fsum(v for v, _ in finite) / len(finite)

    def x(v: float) -> float:
        return 6 + 148 * (v - low) / span if high > low else 80.0

    dots = "".join(
        f'<circle cx="{x(v):.1f}" cy="9" r="3" fill="#36c" fill-opacity="0.6">'
        f"<title>seed {html.escape(str(s))}: {html.escape(_fmt(v))}</title></circle>"
        for v, s in finite
    )
    return (
        '<svg width="160" height="18" role="img">'
        '<line x1="6" y1="9" x2="154" y2="9" stroke="#ccc"/>'
        f'<line x1="{x(mean):.1f}" y1="2" x2="{x(mean):.1f}" y2="16" stroke="#c33"/>'
        f"{dots}</svg>"
    )


def sweep_card(root: Path, sweep: str | dict) -> str:
    """An HTML card for one sweep (its id or index row): per grid point, each claim's hold
    count and each metric's mean ± sd with a per-seed strip plot. Every value is escaped."""
    root = Path(root)
    sweep_id = sweep if isinstance(sweep, str) else sweep["id"]
    path = sweep_folder(root, sweep_id) / "aggregate.json"
    esc = html.escape
    if not path.is_file():
        return (
            f'<div class="run sweep"><h3>sweep {esc(str(sweep_id))}</h3>'
            f"<p>no aggregate yet</p></div>"
        )
    agg = json.loads(path.read_text())
    mode = "quick" if agg.get("quick") else "full"
    rel = f"{SWEEPS_DIR}/{sweep_id}/report.md"
    parts = [
        f'<div class="run sweep"><h3>{esc(str(agg["experiment"]))}: sweep {esc(str(sweep_id))}'
        f'</h3><div class="meta">{mode} · {esc(str(agg["finished"]))} of '
        f"{esc(str(agg['tasks']))} tasks finished · {esc(str(agg['status']))} · "
        f'<a href="{esc(rel)}">report.md</a></div>'
    ]
    for g in agg["groups"]:
        point = " ".join(g["grid"]) or "default"
        seeds = ", ".join(_fmt(s) for s in g["seeds"])
        parts.append(f"<h4>{esc(point)} ({esc(str(g['runs']))} runs; seeds {esc(seeds)})</h4>")
        if g["claims"]:
            rows = "".join(
                f"<tr><td>{esc(c['claim'])}</td><td>{esc(c['band'])}</td>"
                f"<td>{esc(c['paper'])}</td><td>{esc(str(c['holds']))}/{esc(str(c['n']))}</td></tr>"
                for c in g["claims"]
            )
            parts.append(
                "<table><tr><th>claim</th><th>band</th><th>paper</th><th>seeds holding</th></tr>"
                f"{rows}</table>"
            )
        rows = ""
        for name, s in g["metrics"].items():
            sd = f" ± {_fmt(s['sd'])}" if s["sd"] is not None else ""
            rows += (
                f"<tr><td>{esc(name)}</td><td>{esc(_fmt(s['mean']) + sd)}</td>"
                f"<td>{esc(_fmt(s['min']))} … {esc(_fmt(s['max']))}</td><td>{esc(str(s['n']))}</td>"
                f"<td>{_strip_svg(s['values'], g['seeds'])}</td></tr>"
            )
        parts.append(
            "<table><tr><th>metric</th><th>mean ± sd</th><th>range</th><th>n</th>"
            f"<th>per seed</th></tr>{rows}</table>"
        )
    parts.append("</div>")
    return "".join(parts)


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m dynml.core.sweep PAYLOAD`: run one sweep task (the executors call this, as a
    child process or, on Ray, inside a worker). Compiled code is cached on disk as in the CLI."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if len(argv) != 1:
        print("usage: python -m dynml.core.sweep PAYLOAD_JSON", file=sys.stderr)
        return 2
    from .compile import enable_persistent_cache

    enable_persistent_cache()
    return run_task(json.loads(argv[0]))


if __name__ == "__main__":
    sys.exit(main())

"""A `Run`: one experiment's output folder and its entry in the SQLite index of runs.

Folder layout: `config.json` (config, seed, package versions, git revision), `metrics.json`
(headline numbers, the paper's numbers beside them, tables), `figures/*.png`, `report.md`,
and `checkpoint/` where training is long. Every file is written atomically, and
`metrics.json` is rewritten after each new number, so a run that fails later keeps them.
"""

import contextvars
import importlib.metadata
import json
import os
import platform
import sqlite3
import subprocess
import time
from collections.abc import Sequence
from contextlib import closing, contextmanager
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from .claims import Claim, claims_markdown, evaluate_claims
from .io import atomic_path, write_json, write_text

INDEX_NAME = "index.sqlite"
SWEEPS_DIR = "sweeps"  # <root>/sweeps/<sweep id>/sweep.json: the record of each sweep
SWEEP_MEMBER = "sweep_member.json"  # in a run folder: the sweep id and task it belongs to
_PACKAGES = ("dynml", "jax", "jaxlib", "equinox", "diffrax", "optax", "numpy", "scipy", "pysindy")


def _package_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def _git_revision() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=Path(__file__).parent,
            capture_output=True,
            text=True,
            timeout=5,
        )
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def _scalar(value):
    """A JSON-friendly scalar or list from numbers and arrays."""
    arr = np.asarray(value)
    return arr.item() if arr.ndim == 0 else arr.tolist()


class Run:
    """Collects one experiment run's numbers, tables, figures and notes, and writes them."""

    def __init__(
        self,
        name: str,
        summary: str,
        paper: str,
        config,
        folder: Path,
        quick: bool,
        claims: Sequence[Claim] = (),
    ):
        self.name, self.summary, self.paper = name, summary, paper
        self.claims = tuple(claims)
        self.config, self.folder, self.quick = config, Path(folder), quick
        self.metrics: dict[str, object] = {}
        self.paper_values: dict[str, object] = {}
        self.metric_notes: dict[str, str] = {}
        self.tables: dict[str, dict] = {}
        self.figures: list[tuple[str, str]] = []
        self.notes: list[str] = []
        self.divergences: list[str] = []
        self.compile_stats: dict[str, float] = {}
        self.started = time.time()
        self.cpu_started = time.process_time()
        self.cpu_total: float | None = None
        self.finished: float | None = None
        self.status = "running"
        self.folder.mkdir(parents=True, exist_ok=True)
        write_json(
            self.folder / "config.json",
            {
                "experiment": name,
                "config": asdict(config),
                "seed": getattr(config, "seed", None),
                "quick": quick,
                "versions": _package_versions(),
                "git_revision": _git_revision(),
                "started": datetime.now(UTC).isoformat(timespec="seconds"),
            },
        )

    @property
    def checkpoint_dir(self) -> Path:
        return self.folder / "checkpoint"

    def metric(self, name: str, value, *, paper=None, note: str = "") -> None:
        """Record a headline number, with the paper's (or lecture's) value beside it if any."""
        self.metrics[name] = _scalar(value)
        if paper is not None:
            self.paper_values[name] = paper
        if note:
            self.metric_notes[name] = note
        self._write_metrics()

    def table(self, name: str, rows: list[dict], caption: str = "") -> None:
        """Record a table (a list of rows with the same keys); shown in the report."""
        clean = [
            {k: _scalar(v) if not isinstance(v, str) else v for k, v in r.items()} for r in rows
        ]
        self.tables[name] = {"caption": caption, "rows": clean}
        self._write_metrics()

    def figure(self, name: str, fig, caption: str = "") -> Path:
        """Save a matplotlib figure to `figures/NAME.png` and close it."""
        import matplotlib.pyplot as plt

        path = self.folder / "figures" / f"{name}.png"
        with atomic_path(path) as tmp:
            fig.savefig(tmp, dpi=110, bbox_inches="tight", format="png")
        plt.close(fig)
        self.figures = [f for f in self.figures if f[0] != name] + [(name, caption)]
        return path

    def note(self, text: str) -> None:
        """Add a paragraph to the report (what was run, why a number differs from the paper)."""
        self.notes.append(text)
        self._write_metrics()

    def mark_diverged(self, message: str) -> None:
        """Record that training hit a non-finite loss: the run will be marked `diverged`."""
        self.divergences.append(message)
        self.note(f"**Diverged:** {message}")

    def cpu_seconds(self) -> float:
        """CPU seconds (user + system, all threads) this process spent since the run began.

        Beside the wall time it tells what a run costs on a machine shared with other jobs:
        on an idle 2-core machine the wall time is at most this and at least half of it.
        """
        if self.cpu_total is not None:
            return self.cpu_total
        return time.process_time() - self.cpu_started

    def claim_results(self) -> list[dict]:
        """The verdict of every declared claim on the metrics recorded so far."""
        return evaluate_claims(self.claims, self.metrics, self.quick)

    def _write_metrics(self) -> None:
        write_json(
            self.folder / "metrics.json",
            {
                "experiment": self.name,
                "status": self.status,
                "elapsed_s": round(time.time() - self.started, 2),
                "cpu_s": round(self.cpu_seconds(), 2),
                "metrics": self.metrics,
                "paper": self.paper_values,
                "metric_notes": self.metric_notes,
                "tables": self.tables,
                "claims": self.claim_results(),
                "notes": self.notes,
                "figures": self.figures,
                "compile": self.compile_stats,
            },
        )

    def finish(self, status: str = "done", error: str = "") -> None:
        """Write `metrics.json` and `report.md` with the final status."""
        self.status = status
        self.finished = time.time()
        self.cpu_total = time.process_time() - self.cpu_started
        if error:
            self.notes.append(f"**Run failed:** {error}")
        self._write_metrics()
        write_text(self.folder / "report.md", self.report_markdown())

    def report_markdown(self) -> str:
        """The run's report: what was run, our numbers beside the paper's, tables, figures."""
        mode = "quick" if self.quick else "full"
        lines = [
            f"# {self.name}: {self.summary}",
            "",
            f"Reproduces: {self.paper}.  ",
            f"Mode: {mode}; seed {getattr(self.config, 'seed', '-')}; status: {self.status}; "
            f"wall time {time.time() - self.started:.1f} s.",
            "",
            "## Claims",
            "",
            f"Bands used: {mode} (a claim without a quick band uses its full band).",
            "",
            *claims_markdown(self.claim_results()),
            "",
            "## Results",
            "",
            "| metric | ours | paper | note |",
            "|---|---|---|---|",
        ]
        for key, value in self.metrics.items():
            paper = self.paper_values.get(key, "")
            lines.append(
                f"| {key} | {_fmt(value)} | {_fmt(paper)} | {self.metric_notes.get(key, '')} |"
            )
        for name, tab in self.tables.items():
            lines += ["", f"### {name}", ""]
            if tab["caption"]:
                lines += [tab["caption"], ""]
            lines += _markdown_table(tab["rows"])
        if self.notes:
            lines += ["", "## Notes", ""] + [n + "\n" for n in self.notes]
        if self.figures:
            lines += ["", "## Figures", ""]
            for name, caption in self.figures:
                lines += [f"![{name}](figures/{name}.png)", "", f"*{caption or name}*", ""]
        config = json.dumps(asdict(self.config), indent=2, default=str)
        lines += ["", "## Config", "", "```json", config, "```", ""]
        return "\n".join(lines)


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list):
        return "[" + ", ".join(_fmt(v) for v in value[:8]) + (", …" if len(value) > 8 else "") + "]"
    return str(value)


def _markdown_table(rows: list[dict]) -> list[str]:
    if not rows:
        return ["(empty)"]
    keys = list(rows[0])
    out = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    out += ["| " + " | ".join(_fmt(r.get(k, "")) for k in keys) + " |" for r in rows]
    return out


CURRENT_RUN: contextvars.ContextVar[Run | None] = contextvars.ContextVar("run", default=None)


_EXPECTED_DIVERGENCE: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "expected_divergence", default=False
)


def report_divergence(message: str) -> None:
    """Mark the run being executed (if any) as diverged; called by training loops' NaN guards.

    Inside `expected_divergence()` (a study that trains at unstable settings on purpose, such
    as a learning-rate sweep) the report is ignored.
    """
    run = CURRENT_RUN.get()
    if run is not None and not _EXPECTED_DIVERGENCE.get():
        run.mark_diverged(message)


@contextmanager
def expected_divergence():
    """Training inside this block may diverge without failing the run (it is the experiment)."""
    token = _EXPECTED_DIVERGENCE.set(True)
    try:
        yield
    finally:
        _EXPECTED_DIVERGENCE.reset(token)


class StoreError(ValueError):
    """The run index or a run folder's file is unreadable (named in the message)."""


_COLUMNS = {
    "experiment": "TEXT",
    "folder": "TEXT",
    "started": "TEXT",
    "finished": "TEXT",
    "status": "TEXT",
    "quick": "INTEGER",
    "seed": "INTEGER",
    "elapsed_s": "REAL",
    "metrics": "TEXT",
    "claims": "TEXT",
    "pid": "INTEGER",
    "host": "TEXT",
    "sweep_id": "TEXT",
    "sweep_task": "INTEGER",
    "compile_s": "REAL",
    "compilations": "INTEGER",
}
_REQUIRED = ("experiment", "folder", "status", "metrics")


def _process_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):
        return True
    return True


def _load_json(text: str | None, default):
    try:
        value = json.loads(text) if text else default
    except (TypeError, ValueError):
        return default
    return value if isinstance(value, type(default)) else default


class RunIndex:
    """The SQLite index of runs kept in the output root (`index.sqlite`).

    The run folders are the source of truth; the index is a cache of them that
    `RunIndex.rebuild` recreates. Folders are stored relative to the root, so a copied or
    moved runs folder indexes its own runs. A corrupt or foreign index raises `StoreError`
    naming the file. A `running` row whose process is gone reads as `interrupted`.
    """

    def __init__(self, root: Path, create: bool = True, check: bool = True):
        self.root = Path(root)
        self.path = self.root / INDEX_NAME
        if not check or (not create and not self.path.exists()):
            return
        self._check_file()
        with self._db() as db:
            db.execute(
                "CREATE TABLE IF NOT EXISTS runs (id INTEGER PRIMARY KEY AUTOINCREMENT, "
                + ", ".join(f"{k} {v}" for k, v in _COLUMNS.items())
                + ")"
            )
            columns = {row[1] for row in db.execute("PRAGMA table_info(runs)")}
            missing = [c for c in _REQUIRED if c not in columns]
            if missing:
                raise StoreError(self._broken(f"a table 'runs' without columns {missing}"))
            for name, kind in _COLUMNS.items():
                if name not in columns:
                    db.execute(f"ALTER TABLE runs ADD COLUMN {name} {kind}")
            db.execute(
                "CREATE TABLE IF NOT EXISTS sweeps (id TEXT PRIMARY KEY, experiment TEXT, "
                "created TEXT, quick INTEGER, status TEXT, spec TEXT)"
            )

    def _broken(self, what: str) -> str:
        return (
            f"run index {self.path} is not a dynml index ({what}); "
            f"recreate it from the run folders with: dynml index --rebuild --out {self.root}"
        )

    def _check_file(self) -> None:
        if self.path.exists() and not self.path.is_file():
            raise StoreError(self._broken("not a regular file"))

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=30)

    @contextmanager
    def _db(self):
        """A connection in a transaction; SQLite errors become `StoreError` naming the file."""
        try:
            with closing(self._connect()) as db, db:
                yield db
        except sqlite3.DatabaseError as err:
            raise StoreError(self._broken(str(err))) from None

    def _relative(self, folder: Path) -> str:
        folder = Path(folder)
        try:
            return folder.resolve().relative_to(self.root.resolve()).as_posix()
        except ValueError:
            return str(folder.resolve())

    def folder_of(self, row: dict) -> Path:
        """The absolute folder of an index row."""
        folder = Path(row["folder"])
        return folder if folder.is_absolute() else self.root / folder

    def add(self, run: Run) -> int:
        """Index `run` (one row per folder: an existing row of the same folder is reused)."""
        folder = self._relative(run.folder)
        values = (
            run.name,
            datetime.now(UTC).isoformat(timespec="seconds"),
            run.status,
            int(run.quick),
            getattr(run.config, "seed", None),
            os.getpid(),
            platform.node(),
        )
        with self._db() as db:
            old = db.execute("SELECT id FROM runs WHERE folder = ?", (folder,)).fetchone()
            if old is not None:
                db.execute(
                    "UPDATE runs SET experiment = ?, started = ?, status = ?, quick = ?, "
                    "seed = ?, pid = ?, host = ?, finished = NULL WHERE id = ?",
                    (*values, old[0]),
                )
                return int(old[0])
            cur = db.execute(
                "INSERT INTO runs (experiment, started, status, quick, seed, pid, host, "
                "folder, metrics, claims) VALUES (?, ?, ?, ?, ?, ?, ?, ?, '{}', '[]')",
                (*values, folder),
            )
            return int(cur.lastrowid)

    def update(self, run_id: int, run: Run) -> None:
        with self._db() as db:
            db.execute(
                "UPDATE runs SET finished = ?, status = ?, elapsed_s = ?, metrics = ?, claims = ?, "
                "compile_s = ?, compilations = ? WHERE id = ?",
                (
                    datetime.now(UTC).isoformat(timespec="seconds"),
                    run.status,
                    round(time.time() - run.started, 2),
                    json.dumps(run.metrics, default=str),
                    json.dumps(run.claim_results(), default=str),
                    run.compile_stats.get("compile_seconds"),
                    run.compile_stats.get("compilations"),
                    run_id,
                ),
            )

    def rows(self, experiment: str | None = None, sweep: str | None = None) -> list[dict]:
        """All runs, newest first (optionally of one experiment, or members of one sweep)."""
        if not self.path.exists():
            return []
        self._check_file()
        where = [(c, v) for c, v in (("experiment", experiment), ("sweep_id", sweep)) if v]
        query = "SELECT * FROM runs" + (
            " WHERE " + " AND ".join(f"{c} = ?" for c, _ in where) if where else ""
        )
        params: tuple = tuple(v for _, v in where)
        with self._db() as db:
            db.row_factory = sqlite3.Row
            rows = [dict(r) for r in db.execute(query + " ORDER BY id DESC", params)]
        here = platform.node()
        for r in rows:
            r["metrics"] = _load_json(r.get("metrics"), {})
            r["claims"] = _load_json(r.get("claims"), [])
            if (
                r["status"] == "running"
                and r.get("host") == here
                and not _process_alive(r.get("pid"))
            ):
                r["status"] = "interrupted"
        return rows

    def tag_run(self, folder: Path, sweep_id: str, task: int) -> None:
        """Mark the run in `folder` as task `task` of sweep `sweep_id`: in the index and in
        the folder (`sweep_member.json`, which `rebuild` reads back)."""
        write_json(Path(folder) / SWEEP_MEMBER, {"sweep_id": sweep_id, "sweep_task": int(task)})
        with self._db() as db:
            db.execute(
                "UPDATE runs SET sweep_id = ?, sweep_task = ? WHERE folder = ?",
                (sweep_id, task, self._relative(folder)),
            )

    def add_sweep(self, sweep_id: str, experiment: str, quick: bool, spec: dict) -> None:
        """Record a sweep (its grid, seeds and tasks in `spec`); an existing id is kept."""
        with self._db() as db:
            db.execute(
                "INSERT OR IGNORE INTO sweeps (id, experiment, created, quick, status, spec) "
                "VALUES (?, ?, ?, ?, 'running', ?)",
                (
                    sweep_id,
                    experiment,
                    datetime.now(UTC).isoformat(timespec="seconds"),
                    int(quick),
                    json.dumps(spec, default=str),
                ),
            )

    def set_sweep_status(self, sweep_id: str, status: str) -> None:
        with self._db() as db:
            db.execute("UPDATE sweeps SET status = ? WHERE id = ?", (status, sweep_id))

    def sweeps(self) -> list[dict]:
        """All recorded sweeps, newest first (`spec` parsed)."""
        if not self.path.exists():
            return []
        with self._db() as db:
            db.row_factory = sqlite3.Row
            rows = [dict(r) for r in db.execute("SELECT * FROM sweeps ORDER BY created DESC")]
        for r in rows:
            r["spec"] = _load_json(r.get("spec"), {})
        return rows

    def sweep(self, sweep_id: str) -> dict | None:
        """The recorded sweep `sweep_id`, or `None`."""
        return next((r for r in self.sweeps() if r["id"] == sweep_id), None)

    @classmethod
    def rebuilt(cls, root: Path) -> int:
        """Rebuild the index of `root` without reading the (possibly corrupt) old one."""
        return cls(root, check=False).rebuild()

    def rebuild(self) -> int:
        """Recreate the index from the run folders under the root; return the number of runs.

        A corrupt index file is moved aside to `index.sqlite.broken` first. Folders are found
        as `<root>/<experiment>/<run>/config.json`; a folder whose files are unreadable is
        indexed with status `broken`. Sweeps come back from `<root>/sweeps/<id>/sweep.json`
        (status from its `aggregate.json`) and their members from each run's
        `sweep_member.json`.
        """
        if self.path.exists():
            aside = self.path.with_name(INDEX_NAME + ".broken")
            if aside.is_dir() or self.path.is_dir():
                raise StoreError(self._broken("a folder is in the way"))
            os.replace(self.path, aside)
        index = RunIndex(self.root)
        found = sorted(self.root.glob("*/*/config.json"), key=lambda p: p.stat().st_mtime)
        with index._db() as db:
            for config_path in found:
                db.execute(
                    "INSERT INTO runs (experiment, folder, started, finished, status, quick, "
                    "seed, elapsed_s, metrics, claims, sweep_id, sweep_task) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    _row_from_folder(config_path.parent, index._relative(config_path.parent))
                    + _sweep_member(config_path.parent),
                )
        index._restore_sweeps()
        return len(found)

    def _restore_sweeps(self) -> None:
        """Re-register the sweeps recorded under `<root>/sweeps/` (part of `rebuild`)."""
        for path in sorted(self.root.glob(f"{SWEEPS_DIR}/*/sweep.json")):
            rec = _load_json(_read(path), {})
            if not rec.get("id") or not rec.get("experiment"):
                continue
            self.add_sweep(rec["id"], rec["experiment"], bool(rec.get("quick")), rec)
            agg = _load_json(_read(path.with_name("aggregate.json")), {})
            if agg.get("status"):
                self.set_sweep_status(rec["id"], str(agg["status"]))


def _read(path: Path) -> str | None:
    try:
        return path.read_text()
    except OSError:
        return None


def _sweep_member(folder: Path) -> tuple:
    """(sweep id, task) from a run folder's `sweep_member.json`, or (None, None)."""
    tag = _load_json(_read(folder / SWEEP_MEMBER), {})
    task = tag.get("sweep_task")
    if not isinstance(tag.get("sweep_id"), str) or not isinstance(task, int):
        return (None, None)
    return (tag["sweep_id"], task)


def _row_from_folder(folder: Path, rel: str) -> tuple:
    try:
        config = json.loads((folder / "config.json").read_text())
        metrics = json.loads((folder / "metrics.json").read_text())
        if not isinstance(config, dict) or not isinstance(metrics, dict):
            raise ValueError
    except (OSError, ValueError):
        return (folder.parent.name, rel, None, None, "broken", 0, None, None, "{}", "[]")
    status = metrics.get("status", "interrupted")
    status = "interrupted" if status == "running" else status
    return (
        str(config.get("experiment", folder.parent.name)),
        rel,
        config.get("started"),
        None,
        str(status),
        int(bool(config.get("quick"))),
        config.get("seed") if isinstance(config.get("seed"), int) else None,
        metrics.get("elapsed_s"),
        json.dumps(metrics.get("metrics") if isinstance(metrics.get("metrics"), dict) else {}),
        json.dumps(metrics.get("claims") if isinstance(metrics.get("claims"), list) else []),
    )

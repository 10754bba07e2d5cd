"""A `Run`: one experiment's output folder and its entry in the SQLite index of runs.

Folder layout: `config.json` (config, seed, package versions, git revision), `metrics.json`
(headline numbers, the paper's numbers beside them, tables), `figures/*.png`, `report.md`,
and `checkpoint/` where training is long. Every file is written atomically, and
`metrics.json` is rewritten after each new number, so a run that fails later keeps them.
"""

import importlib.metadata
import json
import platform
import sqlite3
import subprocess
import time
from collections.abc import Sequence
from contextlib import closing
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from .claims import Claim, claims_markdown, evaluate_claims
from .io import atomic_path, write_json, write_text

INDEX_NAME = "index.sqlite"
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
        self.started = time.time()
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
                "metrics": self.metrics,
                "paper": self.paper_values,
                "metric_notes": self.metric_notes,
                "tables": self.tables,
                "claims": self.claim_results(),
            },
        )

    def finish(self, status: str = "done", error: str = "") -> None:
        """Write `metrics.json` and `report.md` with the final status."""
        self.status = status
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


class RunIndex:
    """The SQLite index of runs kept in the output root (`index.sqlite`)."""

    def __init__(self, root: Path):
        self.path = Path(root) / INDEX_NAME
        with closing(self._connect()) as db, db:
            db.execute(
                "CREATE TABLE IF NOT EXISTS runs (id INTEGER PRIMARY KEY AUTOINCREMENT, "
                "experiment TEXT, folder TEXT, started TEXT, finished TEXT, status TEXT, "
                "quick INTEGER, seed INTEGER, elapsed_s REAL, metrics TEXT)"
            )
            columns = {row[1] for row in db.execute("PRAGMA table_info(runs)")}
            if "claims" not in columns:
                db.execute("ALTER TABLE runs ADD COLUMN claims TEXT")

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=30)

    def add(self, run: Run) -> int:
        with closing(self._connect()) as db, db:
            cur = db.execute(
                "INSERT INTO runs (experiment, folder, started, status, quick, seed, metrics) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    run.name,
                    str(run.folder),
                    datetime.now(UTC).isoformat(timespec="seconds"),
                    run.status,
                    int(run.quick),
                    getattr(run.config, "seed", None),
                    "{}",
                ),
            )
            return int(cur.lastrowid)

    def update(self, run_id: int, run: Run) -> None:
        with closing(self._connect()) as db, db:
            db.execute(
                "UPDATE runs SET finished = ?, status = ?, elapsed_s = ?, metrics = ?, claims = ? "
                "WHERE id = ?",
                (
                    datetime.now(UTC).isoformat(timespec="seconds"),
                    run.status,
                    round(time.time() - run.started, 2),
                    json.dumps(run.metrics),
                    json.dumps(run.claim_results()),
                    run_id,
                ),
            )

    def rows(self, experiment: str | None = None) -> list[dict]:
        """All runs, newest first (optionally of one experiment)."""
        if not self.path.is_file():
            return []
        query = "SELECT * FROM runs"
        params: tuple = ()
        if experiment:
            query += " WHERE experiment = ?"
            params = (experiment,)
        with closing(self._connect()) as db:
            db.row_factory = sqlite3.Row
            rows = [dict(r) for r in db.execute(query + " ORDER BY id DESC", params)]
        for r in rows:
            r["metrics"] = json.loads(r["metrics"] or "{}")
            r["claims"] = json.loads(r.get("claims") or "[]")
        return rows

"""`dynml report`: an HTML gallery (index.html) of every run in the index."""

import html
import json
from pathlib import Path

from .io import write_text
from .runs import RunIndex

_STYLE = """
body{font-family:system-ui,sans-serif;margin:2em;max-width:1200px}
.run{border:1px solid #ccc;border-radius:6px;padding:1em;margin:1em 0}
.failed{border-color:#c33}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ddd;padding:2px 8px}
img{max-width:380px;margin:4px;border:1px solid #eee}
.meta{color:#666;font-size:90%}
"""


def _cell(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list):
        return html.escape(
            ", ".join(_cell(v) for v in value[:6]) + (" …" if len(value) > 6 else "")
        )
    return html.escape(str(value))


def _run_card(root: Path, row: dict) -> str:
    folder = Path(row["folder"])
    rel = folder.relative_to(root) if folder.is_relative_to(root) else folder
    info = {}
    if (folder / "metrics.json").is_file():
        info = json.loads((folder / "metrics.json").read_text())
    metrics = info.get("metrics", row["metrics"])
    paper = info.get("paper", {})
    rows = "".join(
        f"<tr><td>{html.escape(k)}</td><td>{_cell(v)}</td><td>{_cell(paper.get(k, ''))}</td></tr>"
        for k, v in metrics.items()
    )
    figures = sorted((folder / "figures").glob("*.png")) if (folder / "figures").is_dir() else []
    images = "".join(
        f'<a href="{rel}/figures/{f.name}"><img src="{rel}/figures/{f.name}" title="{f.stem}"></a>'
        for f in figures
    )
    mode = "quick" if row["quick"] else "full"
    status = html.escape(str(row["status"]))
    return (
        f'<div class="run {status}"><h3>{html.escape(row["experiment"])}</h3>'
        f'<div class="meta">{html.escape(str(row["started"]))} · {mode} · seed {row["seed"]} · '
        f'{status} · {row["elapsed_s"] or 0:.1f} s · <a href="{rel}/report.md">report.md</a></div>'
        f"<table><tr><th>metric</th><th>ours</th><th>paper</th></tr>{rows}</table>{images}</div>"
    )


def write_gallery(root: Path, latest_only: bool = False) -> Path:
    """Write `root/index.html`: one card per run (newest first) with metrics and figures."""
    root = Path(root)
    rows = RunIndex(root).rows()
    if latest_only:
        seen: set[str] = set()
        rows = [r for r in rows if not (r["experiment"] in seen or seen.add(r["experiment"]))]
    cards = "\n".join(_run_card(root, r) for r in rows) or "<p>No runs yet: try dynml run.</p>"
    page = (
        f"<!doctype html><html><head><meta charset='utf-8'><title>dynml runs</title>"
        f"<style>{_STYLE}</style></head><body><h1>dynml runs</h1>"
        f"<p>{len(rows)} run(s) in {html.escape(str(root))}</p>{cards}</body></html>"
    )
    return write_text(root / "index.html", page)

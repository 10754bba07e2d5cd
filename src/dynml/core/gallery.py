"""`dynml report`: the HTML gallery of runs, opening on the scoreboard of paper claims.

`index.html` in the output root shows the scoreboard (the claims of the newest run of each
experiment and mode, with their verdicts), then one card per run with its claims, headline
numbers and thumbnails. Each run also gets `report.html` in its folder: the claims, numbers,
tables, notes, every figure at full size and the config. Every link is relative to the page
that holds it, so a copied or moved runs folder shows its own runs, and every value written
into the page is HTML-escaped. A run folder whose `metrics.json` is missing or unreadable
becomes a card that names the file, never an aborted gallery.
"""

import html
import json
from pathlib import Path
from urllib.parse import quote

from .claims import FAILS, HOLDS, NOT_MEASURED, count_verdicts
from .io import write_text
from .runs import RunIndex

_STYLE = """
body{font-family:system-ui,sans-serif;margin:2em;max-width:1250px;color:#222}
.run{border:1px solid #ccc;border-radius:6px;padding:1em;margin:1em 0}
.run.failed,.run.diverged,.run.broken{border-color:#c33}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ddd;padding:2px 8px;
text-align:left;vertical-align:top}
img.thumb{max-width:360px;margin:4px;border:1px solid #eee}
img.full{max-width:100%;border:1px solid #eee;margin:.5em 0}
.meta{color:#666;font-size:90%}
.holds{background:#e3f6e3}.fails{background:#fbe3e3}.notmeasured{background:#f3f3f3}
.counts span{margin-right:1.5em;font-weight:600}
pre{background:#f7f7f7;padding:.5em;overflow:auto}
"""


def _esc(value) -> str:
    return html.escape(str(value), quote=True)


def _href(path: str) -> str:
    """A relative path as an attribute value: URL-quoted, then HTML-escaped."""
    return _esc(quote(path.replace("\\", "/")))


def _cell(value) -> str:
    if isinstance(value, bool):
        return _esc(value)
    if isinstance(value, float):
        return _esc(f"{value:.4g}")
    if isinstance(value, list):
        return _esc(", ".join(_plain(v) for v in value[:6]) + (" …" if len(value) > 6 else ""))
    return _esc(value)


def _plain(value) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _verdict_class(verdict: str) -> str:
    return {HOLDS: "holds", FAILS: "fails", NOT_MEASURED: "notmeasured"}.get(verdict, "")


def _page(title: str, body: str) -> str:
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{_esc(title)}</title>"
        f"<style>{_STYLE}</style></head><body>{body}</body></html>"
    )


def _read_run(root: Path, row: dict) -> tuple[Path, dict | None, str]:
    """The run's folder, its parsed metrics.json (None if unreadable) and the problem, if any."""
    folder = Path(row["folder"])
    if not folder.is_absolute():
        folder = root / folder
    path = folder / "metrics.json"
    try:
        info = json.loads(path.read_text())
    except FileNotFoundError:
        return folder, None, f"{path} is missing"
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        return folder, None, f"{path} is unreadable ({type(err).__name__})"
    if not isinstance(info, dict) or not isinstance(info.get("metrics"), dict):
        return folder, None, f"{path} does not hold a metrics object"
    return folder, info, ""


def _rel(folder: Path, root: Path) -> str:
    try:
        return folder.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return folder.as_posix()


def _claims_table(results: list, with_experiment: bool = False) -> str:
    if not results:
        return "<p class='meta'>No claims declared.</p>"
    head = "<tr>" + ("<th>experiment</th><th>mode</th>" if with_experiment else "")
    head += "<th>claim</th><th>band</th><th>paper</th><th>ours</th><th>verdict</th></tr>"
    rows = []
    for r in results:
        if not isinstance(r, dict):
            continue
        lead = (
            f"<td>{_esc(r.get('experiment', ''))}</td><td>{_esc(r.get('mode', ''))}</td>"
            if with_experiment
            else ""
        )
        paper = _esc(r.get("paper", ""))
        if r.get("source"):
            paper += f" <span class='meta'>[{_esc(r['source'])}]</span>"
        verdict = str(r.get("verdict", ""))
        rows.append(
            f"<tr class='{_verdict_class(verdict)}'>{lead}<td>{_esc(r.get('claim', ''))}</td>"
            f"<td>{_esc(r.get('band', ''))} ({_esc(r.get('band_used', ''))})</td>"
            f"<td>{paper}</td><td>{_esc(r.get('ours', ''))}</td><td>{_esc(verdict)}</td></tr>"
        )
    return f"<table class='claims'>{head}{''.join(rows)}</table>"


def _counts(results: list) -> str:
    counts = count_verdicts([r for r in results if isinstance(r, dict)])
    return (
        f"<p class='counts'><span>{len(results)} claims</span>"
        f"<span class='holds'>{counts[HOLDS]} hold</span>"
        f"<span class='fails'>{counts[FAILS]} fail</span>"
        f"<span class='notmeasured'>{counts[NOT_MEASURED]} not measured</span></p>"
    )


def _metrics_table(info: dict) -> str:
    metrics, paper = info.get("metrics", {}), info.get("paper", {}) or {}
    rows = "".join(
        f"<tr><td>{_esc(k)}</td><td>{_cell(v)}</td><td>{_cell(paper.get(k, ''))}</td></tr>"
        for k, v in metrics.items()
    )
    return f"<table><tr><th>metric</th><th>ours</th><th>paper</th></tr>{rows}</table>"


def _figures(folder: Path) -> list[Path]:
    return sorted((folder / "figures").glob("*.png")) if (folder / "figures").is_dir() else []


def _meta_line(row: dict, status: str) -> str:
    mode = "quick" if row.get("quick") else "full"
    elapsed = row.get("elapsed_s") or 0.0
    return (
        f"{_esc(row.get('started', ''))} · {mode} · seed {_esc(row.get('seed'))} · "
        f"{_esc(status)} · {float(elapsed):.1f} s"
    )


def _run_page(folder: Path, row: dict, info: dict) -> str:
    """The full page of one run (links relative to the run folder)."""
    status = str(info.get("status", row.get("status", "")))
    parts = [
        "<p><a href='../../index.html'>← all runs</a></p>",
        f"<h1>{_esc(row['experiment'])}</h1>",
        f"<p class='meta'>{_meta_line(row, status)} · {_esc(folder.name)}</p>",
        "<h2>Claims</h2>",
        _claims_table(info.get("claims") or []),
        "<h2>Results</h2>",
        _metrics_table(info),
    ]
    for name, tab in (info.get("tables") or {}).items():
        rows = tab.get("rows", []) if isinstance(tab, dict) else []
        parts.append(f"<h3>{_esc(name)}</h3>")
        if isinstance(tab, dict) and tab.get("caption"):
            parts.append(f"<p>{_esc(tab['caption'])}</p>")
        if rows and isinstance(rows[0], dict):
            keys = list(rows[0])
            head = "".join(f"<th>{_esc(k)}</th>" for k in keys)
            body = "".join(
                "<tr>" + "".join(f"<td>{_cell(r.get(k, ''))}</td>" for k in keys) + "</tr>"
                for r in rows
                if isinstance(r, dict)
            )
            parts.append(f"<table><tr>{head}</tr>{body}</table>")
    notes = info.get("notes") or []
    if notes:
        parts.append("<h2>Notes</h2>" + "".join(f"<p>{_esc(n)}</p>" for n in notes))
    captions = dict(info.get("figures") or [])
    figures = _figures(folder)
    if figures:
        parts.append("<h2>Figures</h2>")
        for f in figures:
            caption = captions.get(f.stem, f.stem)
            parts.append(
                f"<figure><img class='full' src='{_href('figures/' + f.name)}' "
                f"alt='{_esc(f.stem)}'><figcaption>{_esc(caption)}</figcaption></figure>"
            )
    config_path = folder / "config.json"
    if config_path.is_file():
        parts.append(f"<h2>Config</h2><pre>{_esc(config_path.read_text())}</pre>")
    parts.append(
        "<p><a href='report.md'>report.md</a> · <a href='metrics.json'>metrics.json</a></p>"
    )
    return _page(f"{row['experiment']} run", "".join(parts))


def _run_card(root: Path, row: dict) -> tuple[str, list]:
    """One card for the index (and the run's own page written beside it); its claim results."""
    folder, info, problem = _read_run(root, row)
    rel = _rel(folder, root)
    if info is None:
        card = (
            f"<div class='run broken'><h3>{_esc(row['experiment'])}</h3>"
            f"<div class='meta'>{_meta_line(row, str(row.get('status', '')))}</div>"
            f"<p>Broken run: {_esc(problem)}</p></div>"
        )
        return card, []
    status = str(info.get("status", row.get("status", "")))
    claims = [c for c in (info.get("claims") or []) if isinstance(c, dict)]
    try:
        write_text(folder / "report.html", _run_page(folder, row, info))
        page = f"<a href='{_href(rel + '/report.html')}'>full report</a> · "
    except OSError:
        page = ""
    images = "".join(
        f"<a href='{_href(rel + '/report.html')}'><img class='thumb' "
        f"src='{_href(rel + '/figures/' + f.name)}' title='{_esc(f.stem)}' alt='{_esc(f.stem)}'></a>"
        for f in _figures(folder)
    )
    summary = count_verdicts(claims)
    claim_line = (
        f"claims: {summary[HOLDS]} hold, {summary[FAILS]} fail, {summary[NOT_MEASURED]} not measured"
        if claims
        else "no claims declared"
    )
    card = (
        f"<div class='run {_esc(status)}'><h3>{_esc(row['experiment'])}</h3>"
        f"<div class='meta'>{_meta_line(row, status)} · {page}"
        f"<a href='{_href(rel + '/report.md')}'>report.md</a> · {_esc(claim_line)}</div>"
        f"{_claims_table(claims)}{_metrics_table(info)}{images}</div>"
    )
    return card, claims


def latest_per_experiment(rows: list[dict]) -> list[dict]:
    """The newest row of each (experiment, mode) pair, newest first."""
    seen: set[tuple] = set()
    out = []
    for r in rows:
        key = (r["experiment"], bool(r.get("quick")))
        if key not in seen:
            seen.add(key)
            out.append(r)
    return out


def _sweep_cards(index: RunIndex) -> list[str]:
    from .sweep import sweep_card

    cards = []
    for sweep in index.sweeps():
        try:
            cards.append(sweep_card(index.root, sweep))
        except (OSError, ValueError, KeyError, TypeError) as err:
            cards.append(
                f"<div class='run broken'><h3>sweep {_esc(sweep.get('id', '?'))}</h3>"
                f"<p>Broken sweep record: {_esc(type(err).__name__)}: {_esc(err)}</p></div>"
            )
    return cards


def write_gallery(root: Path, latest_only: bool = False, extra_cards: list[str] = ()) -> Path:
    """Write `root/index.html`: the scoreboard, one card per sweep, one card per run (newest first)."""
    root = Path(root)
    index = RunIndex(root)
    rows = index.rows()
    extra_cards = list(extra_cards) + _sweep_cards(index)
    newest = latest_per_experiment(rows)
    shown = newest if latest_only else rows
    cards, board = [], []
    newest_ids = {r["id"] for r in newest}
    for r in shown:
        card, claims = _run_card(root, r)
        cards.append(card)
        if r["id"] in newest_ids:
            mode = "quick" if r.get("quick") else "full"
            board += [{"experiment": r["experiment"], "mode": mode, **c} for c in claims]
    board.sort(key=lambda c: (c["mode"], c["experiment"]))
    body = (
        f"<h1>dynml: the papers' claims, reproduced</h1>"
        f"<p class='meta'>{len(rows)} run(s) in this folder; the scoreboard reads the newest "
        f"run of each experiment and mode.</p><h2>Scoreboard</h2>{_counts(board)}"
        f"{_claims_table(board, with_experiment=True)}"
        + ("<h2>Sweeps</h2>" + "".join(extra_cards) if extra_cards else "")
        + "<h2>Runs</h2>"
        + ("".join(cards) or "<p>No runs yet: try <code>dynml run</code>.</p>")
    )
    return write_text(root / "index.html", _page("dynml runs", body))

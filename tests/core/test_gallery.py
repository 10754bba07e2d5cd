"""The gallery: the scoreboard first, one page per run, links that resolve, escaped values."""

import json
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote

import pytest

from dynml.cli import main


class _Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.links, self.claim_rows, self._table = [], 0, None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag in ("a", "img") and (attrs.get("href") or attrs.get("src")):
            self.links.append(attrs.get("href") or attrs.get("src"))
        if tag == "table" and attrs.get("class") == "claims" and self._table is None:
            self._table = "scoreboard"
        if tag == "tr" and self._table == "scoreboard":
            self.claim_rows += 1

    def handle_endtag(self, tag):
        if tag == "table" and self._table == "scoreboard":
            self._table = "done"


def _parse(page: Path) -> _Links:
    parser = _Links()
    parser.feed(page.read_text())
    return parser


@pytest.fixture(scope="module")
def runs_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("gallery") / "runs"
    assert main(["run", "toy-line", "--quick", "--out", str(root)]) == 0
    assert main(["run", "toy-line", "--quick", "--set", "fail=true", "--out", str(root)]) == 1
    return root


def _check_links_resolve(page: Path):
    for link in _parse(page).links:
        assert not link.startswith("/"), f"absolute link {link}"
        assert (page.parent / unquote(link)).exists(), f"{link} does not resolve from {page}"


def test_gallery_opens_on_the_scoreboard_with_one_row_per_claim(runs_root, capsys):
    assert main(["report", "--out", str(runs_root)]) == 0
    page = runs_root / "index.html"
    text = page.read_text()
    assert text.index("Scoreboard") < text.index("<h2>Runs")
    # newest toy-line quick run (the failed one) declares 2 claims; header row + 2
    assert _parse(page).claim_rows == 1 + 2
    _check_links_resolve(page)
    (run_page,) = [p for p in runs_root.glob("toy-line/*/report.html") if "fail" not in p.name][:1]
    _check_links_resolve(run_page)


def test_gallery_links_resolve_from_another_directory_and_after_a_move(
    runs_root, tmp_path, monkeypatch
):
    moved = tmp_path / "elsewhere" / "copy"
    shutil.copytree(runs_root, moved)
    monkeypatch.chdir(tmp_path)
    assert main(["report", "--out", "elsewhere/copy"]) == 0
    page = moved / "index.html"
    _check_links_resolve(page)
    assert str(runs_root) not in page.read_text()  # shows its own runs, not the original's


def test_a_bad_metrics_file_becomes_a_broken_card_naming_it(runs_root, tmp_path):
    copy = tmp_path / "runs"
    shutil.copytree(runs_root, copy)
    victim = sorted(copy.glob("toy-line/*/metrics.json"))[0]
    victim.write_text("[]")
    assert main(["report", "--out", str(copy)]) == 0
    text = (copy / "index.html").read_text()
    assert "Broken run" in text and "metrics.json" in text


def test_hostile_folder_names_are_escaped(tmp_path):
    root = tmp_path / 'x" onmouseover="alert(1)'
    assert main(["run", "toy-line", "--quick", "--set", "steps=10", "--out", str(root)]) == 0
    assert main(["report", "--out", str(root)]) == 0
    text = (root / "index.html").read_text()
    assert 'onmouseover="alert' not in text
    assert not re.search(r"<[^>]*\sonmouseover=", text)


def test_run_report_has_claims_table_first(runs_root):
    report = sorted(runs_root.glob("toy-line/*/report.md"))[0].read_text()
    assert report.index("## Claims") < report.index("## Results")
    assert "| slope recovered to 5 % |" in report
    metrics = json.loads(sorted(runs_root.glob("toy-line/*/metrics.json"))[0].read_text())
    assert {c["verdict"] for c in metrics["claims"]} <= {"holds", "fails", "not measured"}


def test_gallery_renders_in_headless_chromium(runs_root, tmp_path):
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.skip("chromium is not installed (Debian package `chromium`): page not rendered")
    main(["report", "--out", str(runs_root)])
    shot = tmp_path / "gallery.png"
    subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", f"--screenshot={shot}",
         "--window-size=1280,1600", (runs_root / "index.html").as_uri()],
        capture_output=True, timeout=120, check=False,
    )  # fmt: skip
    assert shot.is_file() and shot.stat().st_size > 10_000

"""`wikiarchive report`: the HTML report of a real history, as headless Chromium shows it.

A fresh wiki is crawled, edited (tests/test_incremental.py's edits, plus a page and an
edit carrying HTML and script in their text) and crawled again; the report is written by
the command, then Chromium dumps the DOM it built and takes a screenshot. What a person
would see is checked against the edits, never against the crawler's output.

Set WIKIARCHIVE_REPORT_SCREENSHOT=docs/report.png to keep the screenshot (for the README).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from bs4 import BeautifulSoup
from corpus_expect import expected_by_id, footnotes
from helpers import corpus_wiki, wikiarchive
from test_incremental import (
    ADDED,
    BODY_EDIT,
    DELETED,
    GAINS_FOOTNOTE,
    TYPO_FIX,
    crawl_id_of,
    crawl_once,
    edit_wiki,
    source,
)

CHROMIUM = Path("/usr/bin/chromium")
HOSTILE_PAGE = "hostile"
HOSTILE_TITLE = '<script>alert("title")</script> & <em>stressed</em>'
HOSTILE_NOTE = "Evil <img src=x onerror=alert(1)> et al. PMID: 7654321."
HOSTILE_EDIT = "glasgow_coma_scale"
HOSTILE_LINE = "Injected <script>alert(2)</script> and <iframe src=x></iframe> here."


def chromium(*args: str, profile: Path) -> subprocess.CompletedProcess:
    if not CHROMIUM.exists():
        pytest.fail("Chromium is missing: apt-get install chromium", pytrace=False)
    command = [
        str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
        "--no-first-run", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", f"--user-data-dir={profile}", *args,
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=90)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def report_command(*args: str) -> subprocess.CompletedProcess:
    """`wikiarchive report` through the real command line."""
    return wikiarchive("report", *args)


@pytest.fixture(scope="module")
def history(tmp_path_factory):
    bed = corpus_wiki(tmp_path_factory.mktemp("report-wiki"))
    out = tmp_path_factory.mktemp("report") / "out"
    try:
        first = crawl_once(bed, out)
        time.sleep(1.1)  # edits come after the crawl, as on a live wiki
        now = datetime.now(UTC)
        hostile = f"====== {HOSTILE_TITLE} ======\nText((({HOSTILE_NOTE})).\n".replace(
            "(((", "(("
        )
        bed.write_page(HOSTILE_PAGE, hostile, when=now)
        bed.write_page(HOSTILE_EDIT, source(HOSTILE_EDIT) + f"\n{HOSTILE_LINE}\n", when=now)
        edited = edit_wiki(bed)  # reindexes
        time.sleep(1.1)
        second = crawl_once(bed, out)
    finally:
        bed.stop()
    return {"out": out, "ids": [crawl_id_of(first), crawl_id_of(second)], "edited": edited}


@pytest.fixture(scope="module")
def rendered(history, tmp_path_factory):
    """The report as written by the command, Chromium's DOM of it and its screenshot."""
    work = tmp_path_factory.mktemp("render")
    html = work / "report.html"
    result = report_command(str(history["out"]), "--output", str(html))
    assert result.returncode == 0, result.stderr[-3000:]
    assert str(html) in result.stdout
    dom = chromium("--dump-dom", html.as_uri(), profile=work / "profile").stdout
    shot = work / "report.png"
    chromium(
        f"--screenshot={shot}", "--window-size=1280,2000", "--hide-scrollbars", html.as_uri(),
        profile=work / "profile",
    )
    keep = os.environ.get("WIKIARCHIVE_REPORT_SCREENSHOT")
    if keep:
        Path(keep).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, keep)
    return {"html": html, "soup": BeautifulSoup(dom, "lxml"), "dom": dom, "png": shot}


def rows(soup: BeautifulSoup, table_id: str) -> list[list[str]]:
    table = soup.find("table", id=table_id)
    assert table is not None, f"no table #{table_id}"
    return [
        [cell.get_text(" ", strip=True) for cell in tr.find_all("td")]
        for tr in table.find("tbody").find_all("tr")
    ]


def test_crawl_history_rows(history, rendered):
    got = rows(rendered["soup"], "crawls")
    assert [r[0] for r in got] == history["ids"][::-1]  # newest first
    assert [r[1] for r in got] == ["incremental", "full"]
    assert all(r[4] == "finished" for r in got)
    header = [th.get_text() for th in rendered["soup"].find("table", id="crawls").find_all("th")]
    pages_after = [int(r[header.index("pages")]) for r in got]
    manifest = set(expected_by_id())
    assert pages_after == [len(manifest) + len(ADDED) + 1 - 1, len(manifest)]


def test_changed_pages_listed(history, rendered):
    got = {(r[0], r[1]) for r in rows(rendered["soup"], "changes")}
    modified = {GAINS_FOOTNOTE, BODY_EDIT, TYPO_FIX, HOSTILE_EDIT}
    assert got == (
        {("modified", p) for p in modified}
        | {("added", p) for p in [*ADDED, HOSTILE_PAGE]}
        | {("removed", DELETED)}
    )
    links = {a.get_text(): a["href"] for a in rendered["soup"].find(id="changes").find_all("a")}
    assert links["stroke"].endswith("/wiki/doku.php?id=stroke")


def test_added_and_removed_citations_link_to_pubmed(rendered):
    soup = rendered["soup"]
    added = {a.get_text(): a["href"] for a in soup.find(id="citations-added").find_all("a")}
    # stroke gained PMID 33813542; the new moyamoya page cites 1234567
    for pmid in ("33813542", "1234567", "7654321"):
        assert added[pmid] == f"https://pubmed.ncbi.nlm.nih.gov/{pmid}/"
    removed = {a.get_text(): a["href"] for a in soup.find(id="citations-removed").find_all("a")}
    gone = footnotes(source(DELETED))
    for note in gone:
        if note.pmid:
            assert removed[note.pmid] == f"https://pubmed.ncbi.nlm.nih.gov/{note.pmid}/"
        if note.doi:
            assert removed[note.doi] == f"https://doi.org/{note.doi}"
    assert any(note.pmid for note in gone)


def test_diff_lines_shown(rendered):
    soup = rendered["soup"]
    added = [d.get_text() for d in soup.select("div.diff div.a")]
    removed = [d.get_text() for d in soup.select("div.diff div.d")]
    assert "+Targeted temperature management is debated." in added
    assert any(line.startswith("-") for line in removed)  # the typo fix in seizure
    assert any("Feigin VL et al. Global burden of stroke." in line for line in added)


def test_wiki_text_is_escaped(rendered):
    soup = rendered["soup"]
    assert soup.find_all(["script", "img", "em", "iframe"]) == []  # no markup from the wiki
    assert f"+{HOSTILE_LINE}" in [d.get_text() for d in soup.select("div.diff div.a")]
    titles = [r[2] for r in rows(soup, "changes")]
    assert any("<script>" in title and "<em>stressed</em>" in title for title in titles)
    assert not re.search(r"<(script|img|em|iframe)\b", rendered["html"].read_text(encoding="utf-8"))


def test_charts_drawn(history, rendered):
    svgs = rendered["soup"].find_all("svg")
    assert len(svgs) == 3
    labels = {svg["aria-label"]: svg for svg in svgs}
    pages = labels["Pages in the wiki"]
    values = [int(t.get_text()) for t in pages.find_all("text") if t.get("fill") == "#1d2433"
              and t.get_text().isdigit()]
    manifest = set(expected_by_id())
    assert values == [len(manifest), len(manifest) + len(ADDED)]
    assert len(pages.find_all("circle")) == 2 and pages.find("polyline") is not None


def test_screenshot_is_a_real_picture(rendered):
    from PIL import Image

    png = rendered["png"]
    assert png.stat().st_size > 50_000
    with Image.open(png) as image:
        assert image.size == (1280, 2000)
        pixels = image.convert("RGB").resize((320, 500))
        colors = pixels.getcolors(maxcolors=1_000_000)
    background = max(colors)[0]
    assert len(colors) > 100  # text, charts and tables, not a blank page
    assert background < 0.9 * 320 * 500


def test_bad_input_is_one_line_error(tmp_path):
    result = report_command(str(tmp_path / "nothing"))
    assert result.returncode == 1
    assert result.stderr.startswith("Error: ") and result.stderr.count("\n") == 1
    tmp_path.joinpath("empty").mkdir()
    result = report_command(str(tmp_path / "empty"))
    assert result.returncode == 1
    assert "does not exist: crawl first" in result.stderr and result.stderr.count("\n") == 1

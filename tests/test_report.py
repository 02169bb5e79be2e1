"""`wikiarchive report`: the HTML report of a real history, as headless Chromium shows it.

The session's history (tests/conftest.py): a fresh wiki crawled, edited (tests/edits.py,
a new page and an edit carrying HTML and script in their text among them) and crawled
again. The report is written by the command, then Chromium dumps the DOM it built and
takes a screenshot. What a person would see is checked against the edits and the
report's own stylesheet, never against the crawler's output.

Set WIKIARCHIVE_REPORT_SCREENSHOT=docs/report.png to keep the screenshot (for the README).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from bs4 import BeautifulSoup
from corpus_expect import expected_by_id, footnotes
from edits import (
    ADDED,
    DELETED,
    HISTORY_CHANGES,
    HOSTILE_EDIT,
    HOSTILE_LINE,
    HOSTILE_PAGE,
    HOSTILE_TITLE,
    source,
)
from helpers import wikiarchive

CHROMIUM = Path("/usr/bin/chromium")
WINDOW = (1280, 2000)


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
def rendered(history, tmp_path_factory):
    """The report as written by the command, Chromium's DOM of it and its screenshot."""
    work = tmp_path_factory.mktemp("render")
    html = work / "report.html"
    result = report_command(str(history.out), "--output", str(html))
    assert result.returncode == 0, result.stderr[-3000:]
    assert str(html) in result.stdout
    dom = chromium("--dump-dom", html.as_uri(), profile=work / "profile").stdout
    shot = screenshot(html, work / "report.png")
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
    assert [r[0] for r in got] == history.ids[::-1]  # newest first
    assert [r[1] for r in got] == ["incremental", "full"]
    assert all(r[4] == "finished" for r in got)
    header = [th.get_text() for th in rendered["soup"].find("table", id="crawls").find_all("th")]
    pages_after = [int(r[header.index("pages")]) for r in got]
    manifest = set(expected_by_id())
    assert pages_after == [len(manifest) + len(ADDED) + 1 - 1, len(manifest)]


def test_changed_pages_listed(rendered):
    got = {(r[0], r[1]) for r in rows(rendered["soup"], "changes")}
    assert got == {(change, page_id) for page_id, change in HISTORY_CHANGES.items()}
    assert {("modified", HOSTILE_EDIT), ("added", HOSTILE_PAGE)} <= got
    links = {a.get_text(): a["href"] for a in rendered["soup"].find(id="changes").find_all("a")}
    assert links["stroke"].endswith("/wiki/doku.php?id=stroke")


def test_added_and_removed_citations_link_to_pubmed(rendered):
    soup = rendered["soup"]
    added = {a.get_text(): a["href"] for a in soup.find(id="citations-added").find_all("a")}
    # stroke gained PMID 33813542, the new moyamoya and hostile pages cite 1234567 and
    # 7654321, the retitled page's new footnote 12345678
    for pmid in ("33813542", "1234567", "7654321", "12345678"):
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
    assert HOSTILE_TITLE in titles  # shown as the text it is
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


def test_screenshot_shows_the_report(rendered):
    """The screenshot shows what the report's stylesheet and charts draw, in their order;
    the same check refuses a blank page and the report without its stylesheet."""
    look = report_look(rendered["html"].read_text(encoding="utf-8"), rendered["soup"])
    assert what_is_missing(rendered["png"], look) == []
    work = rendered["png"].parent
    blank = work / "blank.html"
    blank.write_text("<!doctype html><title>blank</title>", encoding="utf-8")
    unstyled = work / "unstyled.html"
    html = rendered["html"].read_text(encoding="utf-8")
    unstyled.write_text(re.sub(r"<style>.*?</style>", "", html, flags=re.S), encoding="utf-8")
    for page in (blank, unstyled):
        shot = screenshot(page, work / f"{page.stem}.png")
        assert "the page background" in what_is_missing(shot, look), page.name
        assert len(what_is_missing(shot, look)) >= 3, page.name


def screenshot(html: Path, png: Path) -> Path:
    chromium(
        f"--screenshot={png}", f"--window-size={WINDOW[0]},{WINDOW[1]}", "--hide-scrollbars",
        html.as_uri(), profile=html.parent / "profile",
    )
    return png


def rgb(colour: str) -> tuple[int, int, int]:
    colour = colour.lstrip("#")
    if len(colour) == 3:
        colour = "".join(c * 2 for c in colour)
    return int(colour[0:2], 16), int(colour[2:4], 16), int(colour[4:6], 16)


def report_look(html: str, soup: BeautifulSoup) -> dict[str, tuple[int, int, int]]:
    """The colours the report sets: backgrounds in its stylesheet, text colour, and the
    fill of the bar chart's first series (pages added)."""
    style = re.search(r"<style>(.*?)</style>", html, re.S).group(1)
    look = {}
    for selectors, body in re.findall(r"([^{}]+)\{([^{}]*)\}", style):
        for prop, value in re.findall(r"(background|color):\s*(#[0-9a-fA-F]{3,6})", body):
            for selector in selectors.split(","):
                look[f"{selector.strip()} {prop}"] = rgb(value)
    bars = soup.find("svg", attrs={"aria-label": "Pages changed per crawl"})
    look["bars"] = rgb(bars.find("rect", attrs={"height": re.compile(r"^[1-9]")})["fill"])
    return look


def what_is_missing(png: Path, look: dict[str, tuple[int, int, int]]) -> list[str]:
    """What of the report's look the picture lacks; empty when it shows the report:
    its page background in the margin, text, table headers above and below the charts,
    the charts' bars, the diff's added lines below the charts."""
    import numpy as np
    from PIL import Image

    with Image.open(png) as image:
        assert image.size == WINDOW
        pixels = np.asarray(image.convert("RGB"))
    width = WINDOW[0]

    def per_row(colour: tuple[int, int, int]) -> np.ndarray:
        return (pixels == colour).all(axis=2).sum(axis=1)

    def band(colour: tuple[int, int, int], least: int) -> list[int]:
        """The rows where the colour fills at least `least` pixels."""
        return np.flatnonzero(per_row(colour) >= least).tolist()

    missing = []
    if tuple(pixels[0, 0]) != look["body background"] or not band(
        look["body background"], width // 20
    ):
        missing.append("the page background")
    if per_row(look["body color"]).sum() < 2000:
        missing.append("text in the report's colour")
    headers, bars = band(look["th background"], width // 4), band(look["bars"], 20)
    added = band(look[".diff .a background"], width // 2)
    if not bars:
        missing.append("the bar chart")
    if not headers or not bars or not (min(headers) < min(bars) < max(headers)):
        missing.append("table headers above and below the charts")
    if not added or not bars or min(added) < max(bars):
        missing.append("added diff lines below the charts")
    return missing


def test_bad_input_is_one_line_error(tmp_path):
    result = report_command(str(tmp_path / "nothing"))
    assert result.returncode == 1
    assert result.stderr.startswith("Error: ") and result.stderr.count("\n") == 1
    tmp_path.joinpath("empty").mkdir()
    result = report_command(str(tmp_path / "empty"))
    assert result.returncode == 1
    assert "does not exist: crawl first" in result.stderr and result.stderr.count("\n") == 1

"""The export's warnings about pages read badly: how many, and an example page."""

from __future__ import annotations

from pathlib import Path

from crawler.page import LAYOUT_RENDERER, LAYOUT_UNKNOWN, Page
from exports.export import ExportResult, _unrecognised


def test_no_warning_when_every_page_reads_well():
    result = ExportResult({"pages": 3}, [], [], [], rewritten=["pages.csv"])
    assert result.render(Path("t")) == "Tables in t: 3 pages"


def test_one_warning_line_per_kind_with_an_example():
    result = ExportResult({"pages": 9}, ["a", "b"], ["c"], ["d", "e", "f"], rewritten=["pages.csv"])
    lines = result.render(Path("t")).splitlines()
    assert lines[0] == "Tables in t: 9 pages"
    assert lines[1].startswith("Warning: 2 pages show a date that could not be read (e.g. a;")
    assert lines[2].startswith("Warning: 1 pages show no date where DokuWiki's templates put "
                               "it (e.g. c)")
    assert lines[3].startswith("Warning: 3 pages have an empty body or no DokuWiki page "
                               "structure (e.g. d)")
    assert [pages for _, pages in result.problems()] == [["a", "b"], ["c"], ["d", "e", "f"]]


def page(body: str, layout: str | None) -> Page:
    return Page("x", "u", "x", "", True, body, None, None, (), (), None, layout)


def test_unrecognised_pages():
    assert not _unrecognised(page("Text.", LAYOUT_RENDERER))
    assert _unrecognised(page("Text and the template's menus.", LAYOUT_UNKNOWN))
    assert _unrecognised(page(" \n", LAYOUT_RENDERER))  # nothing in it
    assert not _unrecognised(page("Text.", None))  # packed before layouts were recorded

"""The parsed copy of a page kept in the catalog gives back exactly the parsed page."""

from __future__ import annotations

from pathlib import Path

import pytest

from crawler.page import pack_page, unpack_page
from crawler.parse import parse_page

HTML_DIR = Path(__file__).parent / "html"
BED = "http://127.0.0.1:37453/wiki/"  # where the samples were served (tests/html/README.md)


@pytest.mark.parametrize("sample", sorted(p.name for p in HTML_DIR.glob("*.html")))
def test_pack_unpack_round_trip(sample):
    page = parse_page(BED + "doku.php?id=x", (HTML_DIR / sample).read_bytes(), site=BED)
    assert unpack_page(pack_page(page)) == page


def test_pages_packed_before_the_later_fields_still_unpack():
    import json
    import zlib

    # A catalog written before last_modified_utc and layout existed: ten values.
    old = ["x", "u", "X", "", True, "Text.", "2024-06-07T03:00:00", "2024/06/07 03:00",
           [[1, [1], "Note.", "1", None, None, []]], [["y", "page", "Y"]]]
    page = unpack_page(zlib.compress(json.dumps(old).encode()))
    assert (page.title, page.body_text, page.footnotes[0].pmid) == ("X", "Text.", "1")
    assert (page.last_modified_utc, page.layout) == (None, None)


def test_a_gist_names_the_pages_linked_in_order_and_counts_every_link():
    from crawler.page import Link, Page, gist_of

    links = (Link("b", "page", "B"), Link("https://x.org/", "external", "x"),
             Link("gone", "missing_page", "Gone"), Link("a", "page", "A"),
             Link("pic.png", "media", "pic"))
    page = Page("x", "u", "X", "", True, "Text.", "2024-06-07T03:00:00",
                "2024/06/07 03:00", (), links)
    gist = gist_of(page)
    assert gist.linked_pages == ("b", "a")
    assert gist.links == 5
    assert (gist.exists, gist.last_modified) == (True, "2024-06-07T03:00:00")


@pytest.mark.parametrize(
    "sample", ["aneurysm.html", "igor-bootstrap3-sah_trials.html", "mort-sprintdoc-sah_trials.html"]
)
def test_a_gist_is_far_smaller_pickled_than_its_page(sample):
    import pickle

    from crawler.page import gist_of

    page = parse_page(BED + "doku.php?id=x", (HTML_DIR / sample).read_bytes(), site=BED)
    assert page.footnotes and page.links  # an article with both, so the size tells
    assert len(pickle.dumps(gist_of(page))) * 3 < len(pickle.dumps(page))

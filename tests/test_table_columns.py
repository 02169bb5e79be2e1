"""A page's footnotes, citations and links, given to the writer as columns: each value
under its column's name, in the schema's order."""

from __future__ import annotations

from crawler.page import Footnote, Link, Page
from exports.presence import Presence
from exports.tables import SCHEMAS, citation_columns, footnote_columns, link_columns

PAGE = Page(
    page_id="magnesium", url="https://w/doku.php?id=magnesium", title="Magnesium",
    namespace="", exists=True, body_text="Magnesium.", last_modified=None,
    last_modified_raw=None,
    footnotes=(
        Footnote(1, (1, 3), "Smith. PMID: 111. PMC222.", "111", "PMC222", None,
                 ("https://pubmed.example/111",)),
        Footnote(2, (2,), "Doe. doi:10.1/x", None, None, "10.1/x", ()),
    ),
    links=(
        Link("stroke", "page", "Stroke"),
        Link("gone", "page", "Gone"),
        Link("cation", "missing_page", "cation"),
        Link("https://x.example/", "external", "x"),
    ),
)


def rows(name: str, columns: list) -> list[dict]:
    names = SCHEMAS[name].names
    assert len(columns) == len(names)
    return [dict(zip(names, cells, strict=True)) for cells in zip(*columns, strict=True)]


def test_footnotes_under_their_names():
    assert rows("footnotes", footnote_columns(PAGE, "c1")) == [
        {"page_id": "magnesium", "number": 1, "numbers": "1 3",
         "text": "Smith. PMID: 111. PMC222.", "pmid": "111", "pmcid": "PMC222", "doi": None,
         "urls": "https://pubmed.example/111", "crawl_id": "c1"},
        {"page_id": "magnesium", "number": 2, "numbers": "2", "text": "Doe. doi:10.1/x",
         "pmid": None, "pmcid": None, "doi": "10.1/x", "urls": "", "crawl_id": "c1"},
    ]


def test_citations_one_row_per_identifier_or_url():
    assert rows("citations", citation_columns(PAGE, "c1")) == [
        {"page_id": "magnesium", "footnote_number": 1, "kind": "pmid", "value": "111",
         "crawl_id": "c1"},
        {"page_id": "magnesium", "footnote_number": 1, "kind": "pmcid", "value": "PMC222",
         "crawl_id": "c1"},
        {"page_id": "magnesium", "footnote_number": 1, "kind": "url",
         "value": "https://pubmed.example/111", "crawl_id": "c1"},
        {"page_id": "magnesium", "footnote_number": 2, "kind": "doi", "value": "10.1/x",
         "crawl_id": "c1"},
    ]


def test_links_take_the_archives_colour_for_pages_it_knows():
    # "gone" was removed, "cation" has been written since; "stroke" is unknown: as served.
    presence = Presence(lambda: iter([("gone", False), ("cation", True)]))
    assert rows("links", link_columns(PAGE, "c1", presence)) == [
        {"page_id": "magnesium", "target": "stroke", "kind": "page", "text": "Stroke",
         "crawl_id": "c1"},
        {"page_id": "magnesium", "target": "gone", "kind": "missing_page", "text": "Gone",
         "crawl_id": "c1"},
        {"page_id": "magnesium", "target": "cation", "kind": "page", "text": "cation",
         "crawl_id": "c1"},
        {"page_id": "magnesium", "target": "https://x.example/", "kind": "external",
         "text": "x", "crawl_id": "c1"},
    ]
    assert [row["kind"] for row in rows("links", link_columns(PAGE, "c1"))] == [
        "page", "page", "missing_page", "external"]


def test_a_page_without_links_or_footnotes_gives_empty_columns():
    bare = Page("p", "u", "P", "", True, "", None, None, (), ())
    for name, columns in (("footnotes", footnote_columns(bare, "c1")),
                          ("citations", citation_columns(bare, "c1")),
                          ("links", link_columns(bare, "c1"))):
        assert len(columns) == len(SCHEMAS[name].names)
        assert rows(name, columns) == []

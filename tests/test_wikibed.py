"""Proof that the DokuWiki test bed serves the corpus as the expectations describe it.

These tests also check tests/corpus_expect.py against DokuWiki's own rendering, so the
expected values the crawler tests rely on are known to be right.
"""

from __future__ import annotations

import gzip
import html
import json
import re
import subprocess
import urllib.parse
from datetime import UTC, datetime
from pathlib import Path

import pytest
from corpus_expect import (
    CORPUS_DIR,
    ExpectedPage,
    expected_by_id,
    load_manifest,
    orphan_pages,
)
from wikibed import (
    DokuWikiBed,
    WikiBedError,
    clean_id,
    encode_path,
    http_get,
    requirements_problem,
)

PAGES = load_manifest()
BY_ID = expected_by_id()
ORPHAN = "archive:ventriculostomy_protocol_2009"


# --------------------------------------------------------------------------- html helpers


def page_body(doc: str) -> str:
    """The rendered wiki text between DokuWiki's markers, TOC removed."""
    start = doc.index("<!-- wikipage start -->")
    body = doc[start : doc.index("<!-- wikipage stop -->", start)]
    return re.sub(r"<!-- TOC START -->.*?<!-- TOC END -->", "", body, flags=re.DOTALL)


def plain(fragment: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", "", fragment)).split())


def footnote_blocks(doc: str) -> list[tuple[list[int], str]]:
    """(numbers, text) of each div.fn."""
    blocks = []
    pattern = r'<div class="fn">(.*?)<div class="content">(.*?)</div></div>'
    for sups, content in re.findall(pattern, doc, flags=re.DOTALL):
        numbers = [int(n) for n in re.findall(r'class="fn_bot">(\d+)\)</a>', sups)]
        blocks.append((numbers, plain(content)))
    return blocks


def wiki_links(doc: str) -> dict[str, set[str]]:
    links: dict[str, set[str]] = {"wikilink1": set(), "wikilink2": set()}
    for tag in re.findall(r"<a [^>]*data-wiki-id=[^>]*>", page_body(doc)):
        cls = re.search(r'class="(wikilink[12])"', tag)
        wiki_id = re.search(r'data-wiki-id="([^"]*)"', tag)
        if cls and wiki_id:
            links[cls.group(1)].add(html.unescape(wiki_id.group(1)))
    return links


def headings(doc: str) -> list[tuple[int, str]]:
    found = re.findall(r"<h([1-5])[^>]*>(.*?)</h\1>", page_body(doc), flags=re.DOTALL)
    return [(int(level), plain(text)) for level, text in found]


def get_page(wiki: DokuWikiBed, page_id: str, **params: str) -> str:
    resp = http_get(wiki.page_url(page_id, **params))
    assert resp.status == 200, (page_id, resp.status)
    return resp.text


def dokuwiki_date(iso: str) -> str:
    return datetime.fromisoformat(iso).strftime("%Y/%m/%d %H:%M")


# --------------------------------------------------------------------------- corpus shape


def test_corpus_has_required_shape() -> None:
    assert len(PAGES) >= 32
    assert len({p.last_modified for p in PAGES}) == len(PAGES), "dates must be distinct"
    assert len({p.last_modified[:4] for p in PAGES}) >= 10, "dates should span many years"
    assert all(p.last_modified < "2025" for p in PAGES)
    counts = [len(p.footnotes) for p in PAGES]
    assert 0 in counts and 1 in counts and max(counts) >= 12
    assert any(len(fn.numbers) == 2 for p in PAGES for fn in p.footnotes)
    assert orphan_pages(PAGES) == [ORPHAN]
    assert (CORPUS_DIR / BY_ID["chronic_subdural_hematoma"].file).stat().st_size > 200_000
    assert BY_ID["magnesium"].last_modified == "2024-06-07T03:00:00"
    assert len(BY_ID["magnesium"].revisions) == 3


# --------------------------------------------------------------------------- served pages


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.page_id)
def test_every_page_is_served(wiki: DokuWikiBed, page: ExpectedPage) -> None:
    doc = get_page(wiki, page.page_id)
    quoted = urllib.parse.quote(page.page_id, safe=":")
    href = f"{wiki.base_url}doku.php?id={quoted}"
    if page.page_id == "start":
        href = wiki.base_url  # DokuWiki's wl() drops the id of the start page
    canonical = f'<link rel="canonical" href="{href}"/>'
    assert canonical in doc
    assert "This topic does not exist yet" not in doc
    assert f"Last modified: {dokuwiki_date(page.last_modified)}" in doc


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.page_id)
def test_expectations_match_dokuwiki(wiki: DokuWikiBed, page: ExpectedPage) -> None:
    """corpus_expect derives footnotes, links and titles the way DokuWiki renders them."""
    doc = get_page(wiki, page.page_id)
    expected_fn = [(fn.numbers, fn.text) for fn in page.footnotes]
    assert footnote_blocks(doc) == expected_fn
    links = wiki_links(doc)
    assert sorted(links["wikilink1"]) == page.links_existing
    assert sorted(links["wikilink2"]) == page.links_missing
    found = headings(doc)
    level1 = [text for level, text in found if level == 1]
    title = level1[0] if level1 else (found[0][1] if found else page.page_id)
    assert title == page.title


def test_magnesium_page(wiki: DokuWikiBed) -> None:
    doc = get_page(wiki, "magnesium")
    assert "Last modified: 2024/06/07 03:00" in doc
    assert doc.count('<div class="fn">') == 2
    assert '<h1 class="sectionedit1" id="magnesium">Magnesium</h1>' in doc
    assert "<hr />" in page_body(doc)
    assert "http://www.ncbi.nlm.nih.gov/books/NBK507247/" in doc


def test_magnesium_has_three_revisions(wiki: DokuWikiBed) -> None:
    doc = get_page(wiki, "magnesium", do="revisions")
    revs = re.findall(r'name="rev2\[\]" type="checkbox" value="(\d+)"', doc)
    expected = [
        str(int(datetime.fromisoformat(r.date).replace(tzinfo=UTC).timestamp()))
        for r in reversed(BY_ID["magnesium"].revisions)
    ]
    assert revs == expected
    assert re.findall(r'<span class="date">([^<]+)</span>', doc) == [
        "2024/06/07 03:00", "2021/11/02 16:45", "2019/03/14 10:22",
    ]


def test_old_revision_is_served_from_attic(wiki: DokuWikiBed) -> None:
    ts = int(datetime(2019, 3, 14, 10, 22, tzinfo=UTC).timestamp())
    doc = get_page(wiki, "magnesium", rev=str(ts))
    assert "This is an old revision of the document!" in doc
    assert "lung cancer" not in page_body(doc)


def test_identical_footnotes_are_merged(wiki: DokuWikiBed) -> None:
    doc = get_page(wiki, "traumatic_brain_injury")
    blocks = footnote_blocks(doc)
    assert len(blocks) == 13
    assert doc.count('class="fn_top"') == 14
    merged = [numbers for numbers, _text in blocks if len(numbers) > 1]
    assert merged == [[3, 13]]
    # DokuWiki's typography turns the x of a DOI into a multiplication sign.
    assert "10.1016/0090-3019(95)00×12-3" in plain(doc)


def test_sitemap_lists_every_page(wiki: DokuWikiBed) -> None:
    resp = http_get(wiki.base_url + "doku.php?do=sitemap")
    assert resp.status == 200
    xml = gzip.decompress(resp.body).decode("utf-8")
    entries = re.findall(r"<loc>(.*?)</loc>\s*<lastmod>(.*?)</lastmod>", xml)
    listed = {}
    for loc, lastmod in entries:
        query = urllib.parse.urlsplit(html.unescape(loc)).query
        listed[urllib.parse.parse_qs(query)["id"][0]] = lastmod
    assert set(listed) == set(BY_ID)
    assert ORPHAN in listed and "α-synuclein" in listed
    for page_id, lastmod in listed.items():
        assert lastmod == BY_ID[page_id].last_modified + "+00:00"


def test_media_is_served(wiki: DokuWikiBed) -> None:
    resp = http_get(wiki.base_url + "lib/exe/fetch.php?media=imaging:ct_scan.png")
    assert resp.status == 200
    assert resp.headers["Content-Type"] == "image/png"
    assert resp.body == (CORPUS_DIR / "media" / "ct_scan.png").read_bytes()


def test_non_ascii_page_file_name(wiki: DokuWikiBed) -> None:
    assert encode_path("α-synuclein") == "%CE%B1-synuclein"
    assert wiki.page_path("α-synuclein").name == "%CE%B1-synuclein.txt"
    assert wiki.page_path("α-synuclein").exists()


def test_foreign_paths_are_refused(wiki: DokuWikiBed) -> None:
    # The engine's own conf/data/inc dirs must never be served, like DokuWiki's router does.
    for path in ("conf/local.php", "data/pages/start.txt", "inc/init.php", "../router.php"):
        assert http_get(wiki.base_url + path).status in (403, 404), path
    assert http_get(f"http://127.0.0.1:{wiki.port}/elsewhere").status == 404


def test_clean_id_matches_dokuwiki(wiki: DokuWikiBed, tmp_path: Path) -> None:
    samples = [
        "Magnesium sulfate", "Spine:Lumbar Disc Herniation", "Año", "Straße", "Über Mörser",
        "α-Page", "e.g. v1.2", "foo:.bar", ":start", "a/b", "Niño's test!", "C++",
        "100% sure", "x__y", "-lead-", "ns::page", "hemorragia subaracnoidea en España",
        "Stent-assisted coiling", "..:x",
    ]
    script = tmp_path / "cleanid.php"
    script.write_text(
        "<?php\nif(!defined('DOKU_INC')) define('DOKU_INC', '/usr/share/dokuwiki/');\n"
        "require_once DOKU_INC . 'inc/init.php';\n"
        "$ids = json_decode(stream_get_contents(STDIN));\n"
        "echo json_encode(array_map('cleanID', $ids));\n"
    )
    result = subprocess.run(
        ["php", "-d", f"auto_prepend_file={wiki.prepend}", str(script)],
        input=json.dumps(samples), capture_output=True, text=True, check=True, timeout=60,
    )
    assert json.loads(result.stdout) == [clean_id(s) for s in samples]


# --------------------------------------------------------------------------- editing


def test_missing_engine_is_reported(tmp_path: Path) -> None:
    assert requirements_problem() is None
    assert "DokuWiki engine not found" in (requirements_problem(engine=tmp_path) or "")
    assert "not found on PATH" in (requirements_problem(php="no-such-php-binary") or "")
    with pytest.raises(WikiBedError):
        DokuWikiBed(tmp_path / "wiki", engine=tmp_path)


def test_bed_rejects_bad_input(tmp_path: Path) -> None:
    bed = DokuWikiBed(tmp_path / "wiki")
    with pytest.raises(ValueError):
        bed.write_page("Not Clean", "x", when=datetime(2020, 1, 1))
    bed.write_page("ok", "v2", when=datetime(2020, 1, 2))
    with pytest.raises(ValueError):
        bed.write_page("ok", "v1", when=datetime(2020, 1, 1))  # older than the last revision


def test_edit_and_delete_while_running(tmp_path: Path) -> None:
    bed = DokuWikiBed(tmp_path / "wiki")
    bed.write_page("ns:alpha", "====== Alpha ======\nFirst text.\n", when=datetime(2015, 5, 5, 5))
    bed.write_page("ns:beta", "====== Beta ======\nBeta text.\n", when=datetime(2016, 6, 6, 6))
    bed.write_page("gamma", "====== Gamma ======\nSee [[ns:beta]].\n", when=datetime(2017, 7, 7))
    bed.reindex()
    with bed:
        doc = get_page(bed, "ns:alpha")  # rendered once, so a stale cache would show
        assert "First text." in doc and "Last modified: 2015/05/05 05:00" in doc
        assert "wikilink1" in page_body(get_page(bed, "gamma"))

        bed.write_page(
            "ns:alpha", "====== Alpha ======\nSecond text.\n",
            when=datetime(2018, 8, 8, 8, 8), summary="rewritten", user="editor",
        )
        doc = get_page(bed, "ns:alpha")
        assert "Second text." in doc and "First text." not in doc
        assert "Last modified: 2018/08/08 08:08 by" in doc
        revisions = get_page(bed, "ns:alpha", do="revisions")
        assert revisions.count('name="rev2[]"') == 2

        bed.delete_page("ns:beta", when=datetime(2019, 9, 9, 9))
        bed.reindex()
        doc = get_page(bed, "ns:beta")
        assert "This page does not exist anymore" in doc
        assert wiki_links(get_page(bed, "gamma"))["wikilink2"] == {"ns:beta"}
        sitemap = gzip.decompress(http_get(bed.base_url + "doku.php?do=sitemap").body).decode()
        assert "ns:beta" not in sitemap and "ns:alpha" in sitemap
    assert not bed.running


# --------------------------------------------------------------------------- engines


def test_engine_and_template_problems_are_named(tmp_path: Path) -> None:
    from wikibed import DEBIAN, UPSTREAM, engine_problem

    assert engine_problem() is None  # Debian's engine, default template: always there
    assert "unknown DokuWiki engine" in (engine_problem("1999-01-01") or "")
    assert "unknown template" in (engine_problem(DEBIAN, "no-such-template") or "")
    missing = engine_problem(UPSTREAM, "bootstrap3", shared=tmp_path)
    assert missing and "dokuwiki-2026-07-14b.tar.gz" in missing and str(tmp_path) in missing
    with pytest.raises(WikiBedError, match="template 'nope' not found"):
        DokuWikiBed(tmp_path / "wiki", template="nope")


def test_upstream_engine_serves_the_corpus_as_expected(engine_dir, tmp_path: Path) -> None:
    """The corpus expectations hold for DokuWiki 2026-07-14b too, which states the exact
    time of the last change."""
    from helpers import corpus_wiki
    from wikibed import UPSTREAM, engine_version

    engine = engine_dir(UPSTREAM, "dokuwiki")
    assert engine_version(engine) == '2026-07-14b "Mort"'
    bed = corpus_wiki(tmp_path / "wiki", engine=engine)
    try:
        for page in PAGES:
            doc = get_page(bed, page.page_id)
            stamp = datetime.fromisoformat(page.last_modified).strftime("%Y-%m-%dT%H:%M:%S+0000")
            shown = dokuwiki_date(page.last_modified)
            assert f'Last modified: <time datetime="{stamp}">{shown}</time>' in doc
            assert footnote_blocks(doc) == [(fn.numbers, fn.text) for fn in page.footnotes]
            links = wiki_links(doc)
            assert sorted(links["wikilink1"]) == page.links_existing, page.page_id
            assert sorted(links["wikilink2"]) == page.links_missing, page.page_id
    finally:
        bed.stop()

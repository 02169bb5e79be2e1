"""Bad input refused or contained: hostile sitemaps and markup, oversized pages, file names."""

from __future__ import annotations

import gzip
import re
import time

import pandas as pd
import pytest
from corpus_expect import expected_by_id
from helpers import FAST, wikiarchive

from crawler.parse import parse_page
from crawler.sitemap import sitemap_page_ids
from exports.tables import TABLES

SITE = "http://127.0.0.1:9/wiki/"


def sitemap(*locs: str) -> bytes:
    urls = "".join(f"<url><loc>{loc}</loc></url>" for loc in locs)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{urls}</urlset>'
    ).encode()


def test_sitemap_keeps_only_this_wikis_pages():
    body = sitemap(
        SITE + "doku.php?id=magnesium",
        SITE + "doku.php?id=spine:disc_herniation",
        "http://elsewhere.test/wiki/doku.php?id=evil",
        SITE + "doku.php?id=magnesium&amp;do=edit",
        SITE + "../../etc/passwd",
    )
    assert sitemap_page_ids(body, site=SITE, max_size=1_000_000) == [
        "magnesium",
        "spine:disc_herniation",
    ]
    assert sitemap_page_ids(gzip.compress(body), site=SITE, max_size=1_000_000) == [
        "magnesium",
        "spine:disc_herniation",
    ]


def test_sitemap_entities_are_not_expanded():
    laughs = "".join(
        f'<!ENTITY l{i} "{f"&l{i - 1};" * 10 if i else "lol"}">' for i in range(10)
    )
    bomb = (
        f'<?xml version="1.0"?><!DOCTYPE urlset [{laughs}]>'
        '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        f"<url><loc>{SITE}doku.php?id=a&l9;</loc></url></urlset>"
    ).encode()
    started = time.perf_counter()
    ids = sitemap_page_ids(bomb, site=SITE, max_size=1_000_000)
    assert time.perf_counter() - started < 5  # a billion laughs would take far longer
    assert all(len(page_id) < 100 for page_id in ids)


def test_gzip_sitemap_past_the_cap_is_refused():
    huge = gzip.compress(sitemap(*[SITE + f"doku.php?id=p{i}" for i in range(20_000)]))
    assert len(huge) < 200_000
    with pytest.raises(ValueError, match="sitemap"):
        sitemap_page_ids(huge, site=SITE, max_size=100_000)


def test_script_in_a_footnote_is_not_text_and_broken_markup_is_read():
    html = (
        '<html><head><meta name="generator" content="DokuWiki"/>'
        f'<link rel="canonical" href="{SITE}doku.php?id=x"/></head><body>'
        '<div class="page"><!-- wikipage start --><h1>Title</h1>'
        '<p>Text<sup><a href="#fn__1" id="fnt__1" class="fn_top">1)</a></sup></p>'
        "<script>document.write('body')</script>"
        '<div class="footnotes"><div class="fn"><sup>'
        '<a href="#fnt__1" id="fn__1" class="fn_bot">1)</a></sup> <div class="content">'
        "See <script>alert('x')</script><style>p{}</style><b>bold <i>unclosed PMID: 123"
        "</div></div></div><!-- wikipage stop --></div></body></html>"
    )
    page = parse_page(SITE + "doku.php?id=x", html.encode(), site=SITE)
    (note,) = page.footnotes
    assert note.text == "See bold unclosed PMID: 123" and note.pmid == "123"
    assert "document.write" not in page.body_text and "Text" in page.body_text


def test_page_past_the_size_cap_is_skipped_and_reported(wiki, tmp_path):
    result = wikiarchive(
        "crawl", wiki.base_url, "--out", str(tmp_path), *FAST, "-s", "DOWNLOAD_MAXSIZE=150000",
        "--no-requisites",  # the wiki's scripts are larger than this cap too
    )
    assert result.returncode == 3, result.stderr[-2000:]
    big = "chronic_subdural_hematoma"  # about 250 KB served
    assert f"Failed, to be retried next run: {big}" in result.stdout
    pages = pd.read_parquet(tmp_path / "tables" / "pages.parquet")
    assert set(pages.page_id) == set(expected_by_id()) - {big}
    errors = pd.read_parquet(tmp_path / "tables" / "errors.parquet")
    assert list(errors.page_id) == [big]
    assert errors.error.iloc[0].startswith("DownloadCancelledError")


def test_no_file_name_is_made_from_wiki_content(full_crawl):
    out = full_crawl.out
    allowed = re.compile(
        r"(warc/wikiarchive-\d{17}-\d{5}\.warc\.gz"
        r"|catalog\.sqlite(-wal|-shm)?|\.wikiarchive\.lock"
        rf"|tables/({'|'.join(TABLES)})"  # names of the code's own, never the wiki's
        r"\.(csv|parquet)|tables/datapackage\.json|indexes/index\.cdxj"
        r"|indexes/\.parts/wikiarchive-\d{17}-\d{5}\.warc\.gz\.\d+\.cdxj\.part)"
    )
    names = [str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()]
    assert names and all(allowed.fullmatch(name) for name in names), names

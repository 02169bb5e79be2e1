"""How pages are found, and the crawl options, on real DokuWikis.

Besides the default test wiki, one wiki with URL rewriting (``doku.php/<id>``), a
day-first date format and a robots.txt that shuts out one namespace.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pandas as pd
import pytest
from corpus_expect import expected_by_id, orphan_pages
from helpers import FAST, corpus_wiki, warcio_check, wikiarchive
from wikibed import DokuWikiBed, http_get

from crawler.settings import EXTENSIONS

DAY_FIRST = "%d/%m/%Y %H:%M"
ROBOTS = "User-agent: *\nDisallow: /wiki/doku.php?id=oncology:\n"


@pytest.fixture(scope="module")
def expected():
    return expected_by_id()


@pytest.fixture(scope="module")
def variant_wiki(tmp_path_factory):
    bed = corpus_wiki(
        tmp_path_factory.mktemp("variant"),
        conf={"userewrite": 2, "dformat": DAY_FIRST},
        robots_txt=ROBOTS,
    )
    yield bed
    bed.stop()


def crawl(site: str, out, *options: str) -> tuple[pd.DataFrame, subprocess.CompletedProcess]:
    result = wikiarchive("crawl", site, "--out", str(out), *FAST, *options)
    assert result.returncode == 0, result.stderr[-3000:]
    return pd.read_parquet(out / "tables" / "pages.parquet"), result


@pytest.mark.parametrize("means", ["index", "sitemap"])
def test_index_or_sitemap_alone_finds_every_page(wiki, tmp_path, expected, means):
    pages, _ = crawl(wiki.base_url, tmp_path, "--discovery", means)
    assert set(pages.page_id) == set(expected)


def test_links_alone_miss_the_orphan(wiki, tmp_path, expected):
    pages, _ = crawl(wiki.base_url, tmp_path, "--discovery", "links")
    found = set(pages.page_id)
    assert found < set(expected)
    assert not found & set(orphan_pages(list(expected.values())))


def test_max_pages(wiki, tmp_path):
    pages, result = crawl(wiki.base_url, tmp_path, "--max-pages", "5")
    assert len(pages) == 5
    assert ": 5 pages," in result.stdout


def test_small_warc_files_rotate_and_stay_valid(wiki, tmp_path, expected):
    pages, _ = crawl(wiki.base_url, tmp_path, "--warc-max-size", "0.05")
    files = sorted((tmp_path / "warc").glob("*.warc.gz"))
    assert len(files) > 3
    check = warcio_check(files)
    assert check.returncode == 0, check.stdout
    assert set(pages.page_id) == set(expected)
    assert set(pages.warc_filename) <= {f.name for f in files}
    assert pages.warc_filename.nunique() > 1


def test_rewritten_urls_robots_and_wiki_date_format(variant_wiki, tmp_path, expected):
    # The wiki links pages as doku.php/<id>; the crawl still fetches permanent links.
    start = http_get(variant_wiki.page_url("start")).text
    assert 'href="/wiki/doku.php/magnesium"' in start
    pages, _ = crawl(variant_wiki.base_url, tmp_path, "--date-format", DAY_FIRST)
    allowed = {p for p in expected if not p.startswith("oncology:")}
    assert allowed != set(expected)
    assert set(pages.page_id) == allowed  # robots.txt obeyed
    for row in pages.itertuples():
        assert row.url == variant_wiki.base_url + "doku.php?id=" + _quoted(row.page_id)
        want = datetime.fromisoformat(expected[row.page_id].last_modified)
        assert row.last_modified == pd.Timestamp(want), row.page_id
        assert row.last_modified_raw == want.strftime(DAY_FIRST), row.page_id


def test_ambiguous_dates_are_never_guessed(variant_wiki, tmp_path, expected):
    pages, result = crawl(variant_wiki.base_url, tmp_path)
    ambiguous = 0
    for row in pages.itertuples():
        want = datetime.fromisoformat(expected[row.page_id].last_modified)
        assert row.last_modified_raw == want.strftime(DAY_FIRST), row.page_id
        if want.day <= 12:
            ambiguous += 1
            assert pd.isna(row.last_modified), row.page_id
        else:  # a day past 12 can only be day-first
            assert row.last_modified == pd.Timestamp(want), row.page_id
    assert ambiguous
    assert f"Warning: {ambiguous} pages show a date that could not be read" in result.stdout


def _quoted(page_id: str) -> str:
    from urllib.parse import quote

    return quote(page_id, safe=":")


def test_a_wiki_never_indexed_says_its_sitemap_is_empty(tmp_path):
    """DokuWiki lists in its sitemap the pages of its search index, which its task runner
    fills as pages are viewed (and a crawl never runs it): before that, it lists none."""
    bed = DokuWikiBed(tmp_path / "wiki")
    when = datetime(2024, 6, 7, 3, 0)
    bed.write_page("start", "====== Start ======\nSee [[notes]].\n", when=when)
    bed.write_page("notes", "====== Notes ======\nWords.\n", when=when)
    bed.start()
    try:
        pages, result = crawl(bed.base_url, tmp_path / "out", "--discovery", "links,sitemap")
        assert set(pages.page_id) == {"start", "notes"}  # found by their links
        assert "The wiki's sitemap lists no page" in result.stderr
        assert "found no wiki page" not in result.stderr
        bed.reindex()
        bed.refresh_caches()
        pages, result = crawl(bed.base_url, tmp_path / "again", "--discovery", "sitemap")
        assert set(pages.page_id) == {"start", "notes"}  # the sitemap lists both now
        assert "sitemap lists no page" not in result.stderr
    finally:
        bed.stop()


def test_a_sitemap_naming_every_page_hands_scrapy_a_batch_at_a_time(wiki, tmp_path, expected):
    """Pages found wait in the frontier as ids: Scrapy's scheduler never holds more than
    a batch of them (plus the discovery requests), however many the sitemap names."""
    watch = tmp_path / "pending.txt"
    result = subprocess.run(
        [sys.executable, "-m", "crawler.cli", "crawl", wiki.base_url, "--out",
         str(tmp_path / "out"), *FAST, "--discovery", "sitemap",
         "-s", "WIKI_FRONTIER_BATCH=2",
         "-s", "EXTENSIONS=" + json.dumps({**EXTENSIONS, "pending_watch.PendingWatch": 0}),
         "-s", f"PENDING_WATCH_FILE={watch}"],
        capture_output=True, text=True, timeout=300,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).parent)},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    pages = pd.read_parquet(tmp_path / "out" / "tables" / "pages.parquet")
    assert set(pages.page_id) == set(expected)
    assert len(expected) > 10
    # The batch of 2, the sitemap and feed requests, the probe's follow-ups.
    assert int(watch.read_text()) <= 5


def test_a_frontier_batch_of_zero_is_refused(wiki, tmp_path):
    result = wikiarchive("crawl", wiki.base_url, "--out", str(tmp_path), *FAST,
                         "-s", "WIKI_FRONTIER_BATCH=0")
    assert result.returncode == 2
    assert "WIKI_FRONTIER_BATCH must be at least 1" in result.stderr
    assert "Traceback" not in result.stderr

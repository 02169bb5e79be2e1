"""The crawler is an ordinary Scrapy project: `scrapy crawl wiki` does the whole job."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
from corpus_expect import expected_by_id
from helpers import catalog_crawls
from test_incremental import article_requests

ROOT = Path(__file__).resolve().parent.parent


def scrapy_crawl(site: str, out: Path, *settings: str) -> subprocess.CompletedProcess:
    options = ["DOWNLOAD_DELAY=0", "AUTOTHROTTLE_ENABLED=False", f"WIKI_OUT_DIR={out}", *settings]
    command = [sys.executable, "-m", "scrapy", "crawl", "wiki", "-a", f"site={site}"]
    for option in options:
        command += ["-s", option]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_scrapy_crawl_archives_records_and_exports(wiki, tmp_path):
    out = tmp_path / "out"
    first = scrapy_crawl(wiki.base_url, out)
    assert first.returncode == 0, first.stderr[-3000:]
    # The spider yields requests only, which CONCURRENT_ITEMS=1 (crawler.settings) rests
    # on: Scrapy's stats, dumped at the end, count no item.
    assert "Dumping Scrapy stats" in first.stderr and "'scheduler/enqueued'" in first.stderr
    assert "item_scraped_count" not in first.stderr
    pages = pd.read_parquet(out / "tables" / "pages.parquet")
    assert sorted(pages.page_id) == sorted(expected_by_id())
    crawls = pd.read_parquet(out / "tables" / "crawls.parquet")
    assert list(crawls["mode"]) == ["full"]
    assert not list((out / "warc").glob("*.open"))
    # A second run knows the first from the catalog: incremental, no article to fetch
    # (so the tables, the crawls table included, stay as they were).
    second = scrapy_crawl(wiki.base_url, out)
    assert second.returncode == 0, second.stderr[-3000:]
    ran = catalog_crawls(out)
    assert [mode for _, mode in ran] == ["full", "incremental"]
    assert article_requests(out, ran[-1][0]) == []
    assert list(pd.read_parquet(out / "tables" / "crawls.parquet").crawl_id) == [ran[0][0]]

"""The wiki's robots.txt Crawl-delay is honoured: measured in the gaps between requests."""

from __future__ import annotations

import json

import pytest
from faultproxy import FaultProxy
from helpers import corpus_wiki, wikiarchive

from archive.reader import read_warcinfo
from crawler.crawldelay import effective_delay, robots_crawl_delay

UA = "wikiarchive/0.1 (DokuWiki archiver)"


def test_robots_crawl_delay_for_our_agent():
    robots = b"User-agent: *\nCrawl-delay: 2\n\nUser-agent: wikiarchive\nCrawl-delay: 5\n"
    assert robots_crawl_delay(robots, UA) == 5
    assert robots_crawl_delay(b"User-agent: *\nCrawl-delay: 0.5\n", UA) == 0.5
    assert robots_crawl_delay(b"User-agent: *\nDisallow: /x\n", UA) is None


@pytest.mark.parametrize(
    ("configured", "crawl_delay", "cap", "expected"),
    [(1, None, 30, 1), (1, 4, 30, 4), (5, 2, 30, 5), (0, 100, 30, 30), (40, 100, 30, 40)],
)
def test_effective_delay(configured, crawl_delay, cap, expected):
    assert effective_delay(configured, crawl_delay, cap) == expected


@pytest.fixture(scope="module")
def slow_wiki(tmp_path_factory):
    bed = corpus_wiki(tmp_path_factory.mktemp("slow-wiki"),
                      robots_txt="User-agent: *\nCrawl-delay: 1.2\n")
    try:
        yield bed
    finally:
        bed.stop()


def crawl(site, out, *options):
    return wikiarchive("crawl", site, "--out", str(out), "--delay", "0", "--max-pages", "4",
                       "--concurrency", "2", "-s", "AUTOTHROTTLE_ENABLED=True",
                       "--no-requisites", "--no-media", "--log-level", "INFO", *options)


def test_crawl_delay_spaces_every_request(slow_wiki, tmp_path):
    out, summary = tmp_path / "out", tmp_path / "summary.json"
    with FaultProxy(slow_wiki.base_url) as proxy:
        result = crawl(proxy.base_url, out, "--summary-json", str(summary))
        hits = proxy.hits
    assert result.returncode == 0, result.stderr[-2000:]
    assert hits[0].path == "/robots.txt"
    after = hits[1:]
    assert len(after) >= 5  # the feed, the start page, the index, the sitemap, articles
    gaps = [b.time - a.time for a, b in zip(after, after[1:], strict=False)]
    assert min(gaps) >= 1.2 - 0.05, gaps  # never sooner, whatever the concurrency
    report = json.loads(summary.read_text())
    assert (report["delay"], report["delay_source"]) == (1.2, "robots.txt Crawl-delay")
    assert "Requests spaced by 1.2 s (robots.txt Crawl-delay)" in result.stdout
    for path in (out / "warc").glob("*.warc.gz"):
        assert read_warcinfo(path)["wikiarchive-delay"] == "1.2 s (robots.txt Crawl-delay)"


def test_a_crawl_delay_past_the_cap_is_capped_with_a_warning(slow_wiki, tmp_path):
    result = crawl(slow_wiki.base_url, tmp_path / "out", "-s", "WIKI_CRAWL_DELAY_MAX=0.3",
                   "--summary-json", str(tmp_path / "s.json"))
    assert result.returncode == 0, result.stderr[-2000:]
    assert "capped at WIKI_CRAWL_DELAY_MAX" in result.stderr
    assert json.loads((tmp_path / "s.json").read_text())["delay"] == 0.3

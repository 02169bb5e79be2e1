"""Record a list of URLs into WARC files with the project's settings, nothing else.

    python tests/record_urls.py OUT_DIR URL [URL ...] [-s NAME=VALUE ...]

Runs one real Scrapy crawl (download handler, recorder middleware, crawl lifecycle and
all other settings of ``crawler.settings``) with a minimal spider that requests
each URL once, then prints the crawl's ``warc/*`` stats, its response count, finish
reason and fatal error as one JSON line on stdout. The WARC files go to OUT_DIR/warc.
A crawl needs its own process: Twisted's reactor runs once.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import scrapy
from scrapy.crawler import CrawlerProcess
from scrapy.http import Response

from crawler.run import project_settings


class RecordSpider(scrapy.Spider):
    """Requests each URL once; the recorder does the rest."""

    name = "record_urls"

    def __init__(self, urls: list[str], **kwargs: Any):
        super().__init__(**kwargs)
        self.urls = urls
        # What crawler.recorder.warcinfo_fields reads from the spider.
        self.started_at = datetime.now(UTC)
        self.crawl_id = self.started_at.strftime("%Y%m%dT%H%M%S%fZ") + "-record-urls"
        self.site = urljoin(urls[0], "/") if urls else ""
        self.mode = "urls"

    async def start(self) -> AsyncIterator[scrapy.Request]:
        for url in self.urls:
            yield scrapy.Request(url, dont_filter=True)

    def parse(self, response: Response) -> None:
        return None

    def crawl_summary(self, reason: str) -> dict[str, Any]:
        """The crawl's record in the catalog (crawler.recorder archives it)."""
        return {
            "crawl_id": self.crawl_id,
            "site": self.site,
            "mode": self.mode,
            "started_at": self.started_at.isoformat(),
            "finished_at": datetime.now(UTC).isoformat(),
            "finish_reason": reason,
        }


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("urls", nargs="+")
    parser.add_argument("-s", "--set", action="append", default=[], metavar="NAME=VALUE")
    return parser.parse_args(argv)


def overrides_of(args: argparse.Namespace) -> dict[str, Any]:
    overrides: dict[str, Any] = {
        "ROBOTSTXT_OBEY": False,
        "DOWNLOAD_DELAY": 0,
        "AUTOTHROTTLE_ENABLED": False,
        "WIKI_OUT_DIR": str(args.out_dir),
        "LOG_LEVEL": "WARNING",
        # These URLs are no DokuWiki's: no scope guard.
        "WIKI_SCOPE_ENABLED": False,
    }
    for item in args.set:
        name, sep, value = item.partition("=")
        if not sep:
            raise SystemExit(f"-s expects NAME=VALUE, got {item!r}")
        overrides[name] = value
    return overrides


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    process = CrawlerProcess(project_settings(overrides_of(args)))
    crawler = process.create_crawler(RecordSpider)
    process.crawl(crawler, urls=args.urls)
    process.start()
    stats = crawler.stats.get_stats()
    report = {k: v for k, v in stats.items() if k.startswith("warc/")}
    report["responses"] = stats.get("downloader/response_count", 0)
    report["finish_reason"] = stats.get("finish_reason")
    report["fatal"] = stats.get("wiki/fatal")
    print(json.dumps(report, sort_keys=True, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())

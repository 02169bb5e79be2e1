"""Progress of a long crawl: a live bar on a terminal, plain periodic log lines otherwise.

Pages done / discovered, requests, rate, errors and an ETA, from the crawl's stats.
"""

from __future__ import annotations

import logging
import sys
import time

from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from tqdm import tqdm
from twisted.internet import task

logger = logging.getLogger(__name__)


class Progress:
    def __init__(self, crawler: Crawler, *, live: bool, interval: float):
        self.crawler = crawler
        self.live = live
        self.interval = interval
        self.bar: tqdm | None = None
        self.started = time.monotonic()
        self.task = task.LoopingCall(self.update)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Progress:
        mode = crawler.settings.get("WIKI_PROGRESS")
        if mode == "off":
            raise NotConfigured
        live = mode == "bar" or (mode == "auto" and sys.stderr.isatty())
        interval = 0.5 if live else crawler.settings.getfloat("WIKI_PROGRESS_INTERVAL")
        ext = cls(crawler, live=live, interval=interval)
        crawler.signals.connect(ext.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(ext.spider_closed, signal=signals.spider_closed)
        return ext

    def spider_opened(self, spider: object) -> None:
        if self.live:
            self.bar = tqdm(total=0, unit=" pages", dynamic_ncols=True, file=sys.stderr)
        self.task.start(self.interval, now=False)

    def spider_closed(self, spider: object, reason: str) -> None:
        if self.task.running:
            self.task.stop()
        self.update()
        if self.bar is not None:
            self.bar.close()

    def counts(self) -> dict[str, int]:
        stats = self.crawler.stats
        spider = self.crawler.spider
        done = stats.get_value("wiki/articles_fetched", 0) + len(getattr(spider, "failed", ()))
        return {
            "done": done,
            "discovered": max(len(getattr(spider, "scheduled", ())), done),
            "requests": stats.get_value("downloader/request_count", 0),
            "errors": stats.get_value("wiki/request_errors", 0),
        }

    def update(self) -> None:
        counts = self.counts()
        if self.bar is not None:
            self.bar.total = counts["discovered"]
            self.bar.n = counts["done"]
            self.bar.set_postfix(
                requests=counts["requests"], errors=counts["errors"], refresh=False
            )
            self.bar.refresh()
            return
        logger.info(progress_line(counts, time.monotonic() - self.started))


def progress_line(counts: dict[str, int], elapsed: float) -> str:
    """One plain line for logs: done/discovered, requests, rate, errors, ETA."""
    rate = counts["done"] / elapsed if elapsed > 0 else 0.0
    left = counts["discovered"] - counts["done"]
    eta = f"{left / rate:.0f} s" if rate > 0 else "unknown"
    return (
        f"Progress: {counts['done']}/{counts['discovered']} pages, "
        f"{counts['requests']} requests, {rate:.1f} pages/s, "
        f"{counts['errors']} errors, ETA {eta}"
    )

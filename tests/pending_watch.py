"""A Scrapy extension for tests: the most requests Scrapy's scheduler held at once.

Added to the crawl's ``EXTENSIONS`` (``tests/`` on the path), it writes the number to the
file named by the ``PENDING_WATCH_FILE`` setting when the spider closes, counted from
Scrapy's own stats (enqueued minus dequeued).
"""

from __future__ import annotations

from pathlib import Path

from scrapy import signals
from scrapy.crawler import Crawler


class PendingWatch:
    def __init__(self, crawler: Crawler):
        self.stats = crawler.stats
        self.target = Path(crawler.settings["PENDING_WATCH_FILE"])
        self.most = 0

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> PendingWatch:
        watch = cls(crawler)
        crawler.signals.connect(watch.scheduled, signal=signals.request_scheduled)
        crawler.signals.connect(watch.closed, signal=signals.spider_closed)
        return watch

    def scheduled(self) -> None:
        # Sent before the scheduler takes the request: it is about to hold one more.
        pending = (self.stats.get_value("scheduler/enqueued", 0)
                   - self.stats.get_value("scheduler/dequeued", 0))
        self.most = max(self.most, pending + 1)

    def closed(self) -> None:
        self.target.write_text(str(self.most))

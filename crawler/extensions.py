"""Scrapy-native runs (``scrapy crawl wiki -a site=URL``) do what ``wikiarchive crawl`` does.

Before the crawl: take the output folder's lock, recover WARC files a killed run
left open, bring the catalog up to date and tell the spider what earlier crawls
saw. After it: record the crawl in the catalog and write the tables. The CLI does
these steps itself (``WIKI_CLI_RUN``), so the extension then stays out.
"""

from __future__ import annotations

import logging
from pathlib import Path

from filelock import Timeout
from scrapy import Spider, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.utils.defer import deferred_from_coro

from crawler.lock import folder_lock
from crawler.run import prepare, publish, record
from crawler.spiders.wiki import load_previous

logger = logging.getLogger(__name__)


class ArchiveLifecycle:
    def __init__(self, crawler: Crawler, out_dir: Path):
        self.crawler = crawler
        self.out_dir = out_dir
        self.lock = folder_lock(out_dir)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ArchiveLifecycle:
        if crawler.settings.getbool("WIKI_CLI_RUN"):
            raise NotConfigured
        ext = cls(crawler, Path(crawler.settings.get("WIKI_OUT_DIR")))
        # Connected before the WARC recorder's handlers, so this runs first on open;
        # engine_stopped comes after the recorder closed its files.
        crawler.signals.connect(ext.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(ext.engine_stopped, signal=signals.engine_stopped)
        return ext

    def spider_opened(self, spider: Spider) -> None:
        self.out_dir.mkdir(parents=True, exist_ok=True)
        try:
            self.lock.acquire(timeout=0)
        except Timeout:
            message = f"another wikiarchive run is using {self.out_dir}"
            logger.error(message)
            self.crawler.stats.set_value("wiki/fatal", message)
            deferred_from_coro(self.crawler.engine.close_spider_async(reason="busy"))
            return
        prepare(self.out_dir)
        if not getattr(spider, "full", False):
            spider.previous = load_previous(self.out_dir, spider.site)

    def engine_stopped(self) -> None:
        if not self.lock.is_locked:
            return
        try:
            record(self.out_dir, self.crawler.spider.crawl_id)
            if not self.crawler.stats.get_value("wiki/fatal"):
                excel_safe = self.crawler.settings.getbool("WIKI_EXCEL_SAFE")
                result = publish(self.out_dir, excel_safe=excel_safe)
                logger.info(result.render(self.out_dir / "tables"))
        finally:
            self.lock.release()

"""The crawl lifecycle, one for ``wikiarchive crawl`` and ``scrapy crawl wiki`` alike.

Before anything is fetched or written (``from_crawler``): the settings are checked and
the output folder's lock is taken. When the spider opens: WARC files a killed run left
open are recovered, the catalog is brought up to the WARC files, an archive of another
site is refused, and the spider learns what earlier crawls saw. During the crawl the
recorder archives each response and ingests it into the catalog (crawler.recorder); the
archivist commits it and brings the tables and the CDXJ index up to it. When the engine
stops, the lock is released.

A failure at any step closes the crawl as failed with a one-line reason in the stats
(``wiki/fatal``), which the CLI turns into its exit status.
"""

from __future__ import annotations

import logging
from pathlib import Path

from filelock import Timeout
from scrapy import Spider, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import CloseSpider

from archive.catalog import Catalog, PreviousCrawl
from archive.ingest import sync_catalog
from archive.layout import Layout
from archive.recover import recover_open_files
from crawler.checks import settings_problems
from crawler.lock import folder_lock
from crawler.outcome import BUSY_STAT, FAILED, describe, record_failure

logger = logging.getLogger(__name__)

BUSY = "busy"  # finish reason: another run holds the folder


class ArchiveError(Exception):
    """The output folder cannot take this crawl."""


class ArchiveLifecycle:
    def __init__(self, crawler: Crawler, layout: Layout):
        self.crawler = crawler
        self.layout = layout
        self.lock = folder_lock(layout.root)
        self.refusal: tuple[str, str] | None = None  # (finish reason, message)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ArchiveLifecycle:
        settings = crawler.settings
        layout = Layout(Path(settings.get("WIKI_OUT_DIR")))
        ext = cls(crawler, layout)
        problems = settings_problems(settings)
        if problems:
            ext.refusal = (FAILED, "; ".join(problems))
        else:
            ext.refusal = ext._take_lock()
        # Connected before the recorder's handlers (downloader middlewares are built after
        # extensions), so this runs first on open; engine_stopped comes after the
        # recorder closed its files and committed the crawl.
        crawler.signals.connect(ext.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(ext.engine_stopped, signal=signals.engine_stopped)
        return ext

    def _take_lock(self) -> tuple[str, str] | None:
        try:
            self.layout.root.mkdir(parents=True, exist_ok=True)
            self.lock.acquire(timeout=0)
        except Timeout:
            self.crawler.stats.set_value(BUSY_STAT, True)
            return BUSY, f"another wikiarchive run is using {self.layout.root}"
        except OSError as exc:
            return FAILED, f"cannot write to {self.layout.root}: {exc.strerror or exc}"
        return None

    def spider_opened(self, spider: Spider) -> None:
        """Prepare the folder; any failure closes the crawl before a request is made."""
        if self.refusal is not None:
            reason, message = self.refusal
            record_failure(self.crawler, message)
            raise CloseSpider(reason)
        try:
            spider.previous = self.prepare(spider.site)
            if getattr(spider, "history", False) and self.layout.catalog.exists():
                spider.known_history = self.history_known()
        except Exception as exc:  # noqa: BLE001 - whatever it is, the crawl must not go on
            logger.debug("Preparing %s failed", self.layout.root, exc_info=True)
            record_failure(self.crawler, f"cannot use {self.layout.root}: {describe(exc)}")
            raise CloseSpider(FAILED) from None

    def prepare(self, site: str) -> PreviousCrawl | None:
        """Recover, sync the catalog, refuse another site; what earlier crawls saw."""
        recovered = recover_open_files(self.layout.warc)
        if recovered:
            logger.info("Recovered %d WARC files a stopped run left open", len(recovered))
        done = sync_catalog(self.layout.root)
        logger.debug("Catalog: %s", done)
        if not self.layout.catalog.exists():
            return None
        catalog = Catalog(self.layout.catalog)
        try:
            others = [s for s in catalog.sites() if s != site]
            if others:
                raise ArchiveError(
                    f"it holds an archive of {others[0]}; crawl {site} into another folder"
                )
            return catalog.previous_crawl(site)
        finally:
            catalog.close()

    def history_known(self) -> dict[str, dict]:
        """What earlier crawls archived of each page's history (a history crawl fetches
        only what is missing)."""
        catalog = Catalog(self.layout.catalog)
        try:
            return catalog.history_known()
        finally:
            catalog.close()

    def engine_stopped(self) -> None:
        """Release the lock, after everything the crawl writes is written."""
        if self.lock.is_locked:
            self.lock.release()

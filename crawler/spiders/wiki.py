"""The wiki spider: every article once, at its permanent link, and nothing else.

A full crawl discovers pages by every means DokuWiki offers (``WIKI_DISCOVERY``):
links between articles, the page index (``do=index``, namespaces expanded) and
the sitemap (``do=sitemap``) when the wiki publishes one. An incremental crawl
asks the wiki what changed since the previous crawl (recent-changes feed, page
index) and fetches only that (see ``crawler.plan``). Only permanent links
(``doku.php?id=<clean id>``) are fetched as articles; action views never are.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any
from urllib.parse import urlencode, urlsplit

import scrapy
from scrapy import signals
from scrapy.exceptions import CloseSpider, DontCloseSpider, IgnoreRequest
from scrapy.http import Response
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.python.failure import Failure

from archive.catalog import PreviousCrawl
from crawler import settings as defaults
from crawler.crawldelay import DELAY_SOURCE_STAT, DELAY_STAT
from crawler.dokuwiki import START_PAGE, page_url, site_root
from crawler.feed import Feed, parse_feed
from crawler.outcome import (
    FAILED,
    PAGES_FAILED_STAT,
    fatal_message,
    guarded,
    record_failure,
)
from crawler.page import Page
from crawler.parse import is_dokuwiki, parse_index, parse_page
from crawler.plan import mark_since, page_since, pages_to_retry, plan_incremental
from crawler.recorder import PAGE_META_KEY
from crawler.resources import ResourceCrawling
from crawler.sitemap import sitemap_entries

DEFAULT_SITE = defaults.WIKI_SITE
DISCOVERY_MEANS = frozenset(defaults.WIKI_DISCOVERY)
MAX_ERRORS_KEPT = 10_000  # per crawl, in its summary record
CALLBACKS = ("parse_probe", "parse_article", "parse_index", "parse_sitemap", "parse_feed",
             "on_error", "parse_resource", "on_resource_error", "parse_media_feed")
# A discovery means that found nothing while the pages it read had links: the template
# may write links in a way we do not recognise. Warned about once.
DISCOVERY_STATS = {
    "links": "wiki/discovered/links",
    "index": "wiki/discovered/index",
    "sitemap": "wiki/discovered/sitemap",
}


def new_crawl_id(now: datetime) -> str:
    """Sortable and unique: UTC time plus a random suffix."""
    return now.strftime("%Y%m%dT%H%M%SZ") + "-" + secrets.token_hex(3)


class WikiSpider(ResourceCrawling, scrapy.Spider):
    name = "wiki"

    def __init__(
        self,
        site: str = DEFAULT_SITE,
        *,
        discovery: list[str] | None = None,
        max_pages: int = 0,
        crawl_id: str | None = None,
        previous: PreviousCrawl | None = None,
        full: bool = False,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        self.site = site_root(site)
        self.allowed_domains = [urlsplit(self.site).hostname or ""]
        self.discovery = frozenset(discovery or DISCOVERY_MEANS)
        unknown = self.discovery - DISCOVERY_MEANS
        if unknown:
            raise ValueError(f"unknown discovery means: {', '.join(sorted(unknown))}")
        self.max_pages = int(max_pages)
        self.started_at = datetime.now(UTC)
        self.crawl_id = crawl_id or new_crawl_id(self.started_at)
        # Set before the crawl starts (by the CLI, or the ArchiveLifecycle extension).
        self.previous = previous
        self.full = full
        self.fatal: str | None = None
        self.scheduled: set[str] = set()
        self.failed: set[str] = set()
        self.errors: list[dict[str, str | None]] = []
        self.namespaces: set[str] = set()
        self.is_wiki = False
        # Incremental crawls gather what the wiki says before deciding what to fetch.
        self.listing: set[str] | None = set()
        self.feed: Feed | None = None
        self.sitemap: dict[str, datetime | None] | None = None  # page id -> <lastmod>
        # Settings (from_crawler reads the crawl's own).
        self.change_margin = timedelta(seconds=defaults.WIKI_CHANGE_MARGIN)
        self.recent_days = defaults.WIKI_RECENT_DAYS
        self.feed_items = defaults.WIKI_FEED_ITEMS
        self.sitemap_max_size = defaults.WIKI_SITEMAP_MAXSIZE
        self.date_format = defaults.WIKI_DATE_FORMAT
        self._init_resources()
        # One bound method per callback, reused by every request: Scrapy caches its
        # per-callback source inspection by the callback object, and a fresh bound
        # method per request made it re-read and re-parse this module every time.
        for name in CALLBACKS:
            setattr(self, name, getattr(self, name))
        self.planned = False

    @classmethod
    def from_crawler(cls, crawler: Any, *args: Any, **kwargs: Any) -> WikiSpider:
        settings = crawler.settings
        kwargs.setdefault("site", settings.get("WIKI_SITE") or DEFAULT_SITE)
        kwargs.setdefault("discovery", settings.getlist("WIKI_DISCOVERY") or None)
        kwargs.setdefault("max_pages", settings.getint("WIKI_MAX_PAGES"))
        kwargs.setdefault("crawl_id", settings.get("WIKI_CRAWL_ID"))
        kwargs.setdefault("full", settings.get("WIKI_CRAWL_MODE") == "full")
        spider = super().from_crawler(crawler, *args, **kwargs)
        # Read here, not where used: a bad value must fail before the crawl, not inside
        # a signal handler.
        spider.change_margin = timedelta(seconds=settings.getfloat("WIKI_CHANGE_MARGIN"))
        spider.recent_days = settings.getfloat("WIKI_RECENT_DAYS")
        spider.feed_items = settings.getint("WIKI_FEED_ITEMS")
        spider.sitemap_max_size = settings.getint("WIKI_SITEMAP_MAXSIZE")
        spider.date_format = settings.get("WIKI_DATE_FORMAT")
        spider._resource_settings(settings)
        crawler.signals.connect(spider.spider_idle, signal=signals.spider_idle)
        return spider

    @property
    def incremental(self) -> bool:
        """Once an earlier crawl captured pages; until then every page is new."""
        return bool(self.previous and self.previous.captured_in) and not self.full

    @property
    def mode(self) -> str:
        return "incremental" if self.incremental else "full"

    # ---- start

    async def start(self) -> AsyncIterator[scrapy.Request]:
        # The feed is optional evidence, asked first (highest priority) but never waited
        # for: robots.txt may shut it out, or it may fail, and the crawl goes on.
        yield self._feed_request()
        if self.incremental and self.want_media:
            yield self.media_feed_request()
        if self.incremental:
            # The index proves the wiki and lists its pages, the sitemap dates them;
            # articles follow the plan.
            yield self._index_request(namespace="", probe=True)
            if "sitemap" in self.discovery:
                yield self._sitemap_request()
        else:
            # The start page proves the wiki and seeds the crawl.
            yield self._article(START_PAGE, probe=True)

    def parse_probe(self, response: Response) -> Iterator[scrapy.Request]:
        """The first page of the wiki: prove it is a DokuWiki, then crawl on."""
        if response.status != 200 or not is_dokuwiki(response.body):
            self._fail(
                f"{self.site} does not look like a DokuWiki "
                f"(HTTP {response.status}, no DokuWiki page at {response.url})"
            )
        self.is_wiki = True
        if response.meta.get("listing"):  # the index, probe of an incremental crawl
            yield from self.parse_index(response)
            return
        if not self.incremental:
            if "index" in self.discovery:
                yield self._index_request(namespace="")
            if "sitemap" in self.discovery:
                yield self._sitemap_request()
        yield from self.parse_article(response)

    # ---- callbacks

    def parse_article(self, response: Response) -> Iterator[scrapy.Request]:
        self.crawler.stats.inc_value("wiki/articles_fetched")
        yield from self.follow_resources(response, from_article=True)
        if "links" not in self.discovery:
            return
        page = self._page(response)
        targets = [link.target for link in page.links if link.kind == "page"]
        if page.links:
            self.crawler.stats.inc_value("wiki/pages_with_links")
        self.crawler.stats.inc_value(DISCOVERY_STATS["links"], len(targets))
        known = self.previous.present_pages if self.incremental else frozenset()
        for page_id in targets:
            # An incremental crawl follows links only to pages it has never seen.
            if page_id not in known:
                yield from self._follow(page_id)

    def _page(self, response: Response) -> Page:
        """The article as the recorder parsed it on its way into the catalog."""
        page = response.meta.get(PAGE_META_KEY)
        if page is None:
            page = parse_page(response.url, response.body, site=self.site,
                              date_format=self.date_format)
        return page

    def parse_index(self, response: Response) -> Iterator[scrapy.Request]:
        page_ids, namespaces = parse_index(response.body, site=self.site)
        self.crawler.stats.inc_value(DISCOVERY_STATS["index"], len(page_ids) + len(namespaces))
        if self.incremental:
            if self.listing is not None:
                self.listing.update(page_ids)
        else:
            for page_id in page_ids:
                yield from self._follow(page_id)
        for namespace in namespaces:
            if namespace not in self.namespaces:
                yield self._index_request(namespace)

    def parse_sitemap(self, response: Response) -> Iterator[scrapy.Request]:
        if response.status == 304:
            return  # unchanged since the previous crawl, which acted on it
        if response.status != 200:
            self.logger.info("No sitemap (HTTP %d): pages are found by other means",
                             response.status)
            return
        try:
            entries = sitemap_entries(response.body, site=self.site,
                                      max_size=self.sitemap_max_size)
        except ValueError as exc:
            self.logger.warning("%s: %s", response.url, exc)
            self.crawler.stats.inc_value("wiki/sitemap_errors")
            return
        self.crawler.stats.inc_value("wiki/sitemap_read")
        self.crawler.stats.inc_value(DISCOVERY_STATS["sitemap"], len(entries))
        if self.incremental:
            self.sitemap = {entry.page_id: entry.lastmod for entry in entries}
            return
        for entry in entries:
            yield from self._follow(entry.page_id)

    def parse_feed(self, response: Response) -> None:
        if response.status == 304:
            self.feed = Feed((), self._feed_items(), unchanged=True)
        elif response.status != 200:
            self.logger.warning("No recent-changes feed: HTTP %d", response.status)
        else:
            try:
                self.feed = parse_feed(response.body, site=self.site, requested=self._feed_items())
            except ValueError as exc:
                self.logger.warning("%s: %s", response.url, exc)

    def on_error(self, failure: Failure) -> list[scrapy.Request]:
        request = failure.request
        # Some errors carry no message (a cancelled download): the type still tells.
        message = f"{failure.type.__name__}: {failure.getErrorMessage()}".rstrip(": ")
        if failure.check(IgnoreRequest) and not failure.check(HttpError):
            # Shut out by robots.txt or a filter: a decision, not a failure to retry.
            self.logger.info("Not fetched %s: %s", request.url, failure.getErrorMessage())
            self.crawler.stats.inc_value("wiki/requests_ignored")
            return self._probe_failed(request, message)
        self.crawler.stats.inc_value("wiki/request_errors")
        self.logger.error("Failed %s: %s", request.url, message)
        if request.meta.get("page_id"):
            self.failed.add(request.meta["page_id"])
            self.crawler.stats.set_value(PAGES_FAILED_STAT, len(self.failed))
        if len(self.errors) < MAX_ERRORS_KEPT:
            self.errors.append(
                {
                    "url": request.url,
                    "page_id": request.meta.get("page_id"),
                    "error": message,
                    "failed_at": datetime.now(UTC).isoformat(),
                }
            )
        if request.meta.get("listing"):
            self.listing = None  # an incomplete index must not make pages look removed
        if request.meta.get("feed"):
            self.logger.warning("No recent-changes feed (%s): it is optional evidence", message)
        return self._probe_failed(request, message)

    def _probe_failed(self, request: scrapy.Request, message: str) -> list[scrapy.Request]:
        """A probe that got no page: an incremental crawl tries the start page instead
        of the index (then fetches every page, the index being unread); the start page
        failing means the wiki cannot be crawled."""
        if self.is_wiki or not request.meta.get("probe"):
            return []
        if request.meta.get("listing"):
            self.listing = None
            return [self._article(START_PAGE, probe=True)]
        self._fail(f"cannot crawl {self.site}: {message} ({request.url})")
        return []

    @guarded
    def spider_idle(self) -> None:
        """Discovery is over: say what found nothing, and plan what else to fetch, once."""
        if self.planned or self.fatal:
            return
        self.planned = True
        self._warn_empty_discovery()
        self.plan_media()
        if self.previous is None:
            return
        if not self.incremental:
            # Pages known from earlier crawls but no longer linked or listed are fetched
            # too: only the wiki saying so marks a page removed.
            self._schedule(self.previous.present_pages)
            return
        plan = plan_incremental(
            since=page_since(self.previous, self.change_margin),
            listing=self.listing,
            feed=self.feed,
            failed=pages_to_retry(self.previous),
            now=datetime.now(UTC),
            recent_days=self.recent_days,
            held=self.previous.held,
            sitemap=self.sitemap,
        )
        what = "every page" if plan.everything else "pages"
        self.logger.info("Incremental crawl: %d %s to fetch (%s)", len(plan.fetch), what,
                         plan.reason)
        self.crawler.stats.set_value("wiki/plan_reason", plan.reason)
        self.crawler.stats.set_value("wiki/plan_reasons", plan.reasons)
        self._schedule(plan.fetch)

    def _schedule(self, page_ids: frozenset[str]) -> None:
        requests = [r for page_id in sorted(page_ids) for r in self._follow(page_id)]
        for request in requests:
            self.crawler.engine.crawl(request)
        if requests:
            raise DontCloseSpider

    def crawl_summary(self, reason: str) -> dict[str, Any]:
        """What the catalog and the crawls table need; archived as the crawl's last record."""
        stats = self.crawler.stats
        fatal = fatal_message(self.crawler)
        if fatal and reason == "finished":
            reason = FAILED  # a crawl that did not do its job never counts as finished
        return {
            "crawl_id": self.crawl_id,
            "site": self.site,
            "mode": self.mode,
            "previous_crawl_id": self.previous.crawl_id if self.previous else None,
            "known_pages": len(self.previous.present_pages) if self.previous else 0,
            "started_at": self.started_at.isoformat(),
            "finished_at": datetime.now(UTC).isoformat(),
            "finish_reason": reason,
            "fatal": fatal,
            "pages": stats.get_value("wiki/articles_fetched", 0),
            "requests": stats.get_value("downloader/request_count", 0),
            "errors": stats.get_value("wiki/request_errors", 0)
            + stats.get_value("spider_exceptions/count", 0),
            "failed_pages": sorted(self.failed),
            "error_list": self.errors,
            "delay": stats.get_value(DELAY_STAT),
            "delay_source": stats.get_value(DELAY_SOURCE_STAT),
            "plan": stats.get_value("wiki/plan_reason"),
            "plan_reasons": stats.get_value("wiki/plan_reasons"),
            "skipped_files": self.skipped_files,
        }

    # ---- requests

    def _follow(self, page_id: str) -> Iterator[scrapy.Request]:
        if page_id and page_id not in self.scheduled:
            if self.max_pages and len(self.scheduled) >= self.max_pages:
                self.crawler.stats.inc_value("wiki/pages_over_limit")
                return
            yield self._article(page_id)

    def _article(self, page_id: str, *, probe: bool = False) -> scrapy.Request:
        self.scheduled.add(page_id)
        return scrapy.Request(
            page_url(self.site, page_id),
            callback=self.parse_probe if probe else self.parse_article,
            errback=self.on_error,
            # The probe must reach its callback whatever its status, to be judged.
            meta={"page_id": page_id, "probe": probe, "handle_httpstatus_all": probe},
        )

    def _index_request(self, namespace: str, *, probe: bool = False) -> scrapy.Request:
        self.namespaces.add(namespace)
        query = {"id": "start", "idx": namespace} if namespace else {"id": "start", "do": "index"}
        return scrapy.Request(
            self.site + "doku.php?" + urlencode(query, safe=":"),
            callback=self.parse_probe if probe else self.parse_index,
            errback=self.on_error,
            priority=1,
            meta={"listing": True, "probe": probe, "handle_httpstatus_all": probe},
        )

    def _sitemap_request(self) -> scrapy.Request:
        headers = sitemap_conditional_headers(self.previous) if self.incremental else {}
        return scrapy.Request(
            self.site + "doku.php?do=sitemap",
            headers=headers,
            callback=self.parse_sitemap,
            errback=self.on_error,
            priority=1,
            meta={"handle_httpstatus_list": [304, 404]},
        )

    def _feed_request(self) -> scrapy.Request:
        query = {
            "mode": "recent",
            "type": "rss2",
            "num": self._feed_items(),
            "minor": 1,  # a typo fix saved as a minor edit is still a change
            "linkto": "current",
            "content": "abstract",
            "view": "pages",
        }
        # DokuWiki answers a conditional request for its feed; 304 means no change since
        # the previous crawl's feed. A cached feed may lag a few minutes behind the wiki,
        # which is safe: the next crawl starts from this feed's Last-Modified.
        headers = conditional_headers(self.previous) if self.incremental else {}
        return scrapy.Request(
            self.site + "feed.php?" + urlencode(query),
            headers=headers,
            callback=self.parse_feed,
            errback=self.on_error,
            priority=2,
            meta={"handle_httpstatus_all": True, "feed": True},
        )

    def _feed_items(self) -> int:
        return self.feed_items

    def _fail(self, message: str) -> None:
        self.fatal = message
        record_failure(self.crawler, message)
        raise CloseSpider(FAILED)

    def _warn_empty_discovery(self) -> None:
        """A means that found nothing on pages that had links says so, once."""
        stats = self.crawler.stats
        read = {
            "links": stats.get_value("wiki/pages_with_links", 0),
            "index": len(self.namespaces),
            "sitemap": stats.get_value("wiki/sitemap_read", 0),
        }
        for means in sorted(self.discovery):
            if read.get(means) and not stats.get_value(DISCOVERY_STATS[means], 0):
                stats.set_value(f"wiki/discovery_empty/{means}", True)
                self.logger.warning(
                    "Page discovery by %s found no wiki page although the pages it read had "
                    "links: this wiki's template may write them differently (pages are still "
                    "found by the other means)", means,
                )


def sitemap_conditional_headers(previous: PreviousCrawl) -> dict[str, str]:
    """Validators of the sitemap the newest crawl got, when that crawl finished (so it
    acted on every date the sitemap gave); a 304 then brings no new evidence."""
    newest = previous.crawls[-1]
    if newest.outcome != "finished":
        return {}
    headers = {}
    if newest.sitemap_last_modified:
        headers["If-Modified-Since"] = newest.sitemap_last_modified
    if newest.sitemap_etag:
        headers["If-None-Match"] = newest.sitemap_etag
    return headers


def conditional_headers(previous: PreviousCrawl) -> dict[str, str]:
    """Validators of the newest feed, when every known page counts its edits from it.

    A 304 then means nothing changed for any page. When some pages count from an older
    feed (a stopped crawl did not reach them), the whole feed is needed.
    """
    newest = previous.crawls[-1]
    if not newest.feed_last_modified:
        return {}
    since = mark_since(newest, timedelta(0))
    if any(t != since for t in page_since(previous, timedelta(0)).values()):
        return {}
    headers = {"If-Modified-Since": format_datetime(since, usegmt=True)}
    if newest.feed_etag:
        headers["If-None-Match"] = newest.feed_etag
    return headers

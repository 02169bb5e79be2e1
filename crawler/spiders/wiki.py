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
from functools import partial
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
from crawler.access import Denial, denial, login_lost
from crawler.crawldelay import DELAY_SOURCE_STAT, DELAY_STAT
from crawler.dokuwiki import (
    START_PAGE,
    page_url,
    revision_url,
    revisions_url,
    site_root,
    source_url,
)
from crawler.feed import Feed, parse_feed
from crawler.frontier import Frontier
from crawler.login import LoginError, LoginMiddleware
from crawler.outcome import (
    FAILED,
    PAGES_FAILED_STAT,
    fail_crawl,
    fatal_message,
    guarded,
    record_failure,
)
from crawler.page import PageGist, gist_of
from crawler.parse import is_dokuwiki, parse_index, parse_page
from crawler.plan import mark_since, page_since, pages_to_retry, plan_incremental
from crawler.recorder import DENIAL_META_KEY, PAGE_META_KEY
from crawler.resources import ResourceCrawling
from crawler.revisions import (
    RevisionList,
    dates_to_versions,
    next_screen,
    parse_revision_list,
)
from crawler.sitemap import sitemap_entries

DEFAULT_SITE = defaults.WIKI_SITE
DISCOVERY_MEANS = frozenset(defaults.WIKI_DISCOVERY)
MAX_ERRORS_KEPT = 10_000  # per crawl, in its summary record
CALLBACKS = ("parse_probe", "parse_article", "parse_index", "parse_sitemap", "parse_feed",
             "parse_revisions", "parse_archived", "on_error", "parse_resource",
             "on_resource_error", "parse_media_feed")
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
        history: bool = False,
        source: bool = False,
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
        # History crawls: every page's revision list and the old revisions not archived
        # yet; what earlier crawls archived is set with `previous` (Catalog.history_known).
        self.history = history
        self.source = source
        self.known_history: dict[str, dict] = {}
        self.lists: set[tuple[str, int]] = set()  # revision list screens requested
        self.captured: dict[str, str | None] = {}  # page id -> date shown, captured now
        self.history_planned = False
        self.fatal: str | None = None
        self.scheduled: set[str] = set()
        self.failed: set[str] = set()
        self.denied: set[str] = set()  # pages DokuWiki refused to show (Permission Denied)
        self.login_user: str | None = None  # set by from_crawler when the crawl logs in
        self.login_method: str | None = None
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
        self.frontier = Frontier(defaults.WIKI_FRONTIER_BATCH)

    @classmethod
    def from_crawler(cls, crawler: Any, *args: Any, **kwargs: Any) -> WikiSpider:
        settings = crawler.settings
        kwargs.setdefault("site", settings.get("WIKI_SITE") or DEFAULT_SITE)
        kwargs.setdefault("discovery", settings.getlist("WIKI_DISCOVERY") or None)
        kwargs.setdefault("max_pages", settings.getint("WIKI_MAX_PAGES"))
        kwargs.setdefault("crawl_id", settings.get("WIKI_CRAWL_ID"))
        kwargs.setdefault("full", settings.get("WIKI_CRAWL_MODE") == "full")
        kwargs.setdefault("history", settings.getbool("WIKI_HISTORY"))
        kwargs.setdefault("source", settings.getbool("WIKI_SOURCE"))
        spider = super().from_crawler(crawler, *args, **kwargs)
        # Read here, not where used: a bad value must fail before the crawl, not inside
        # a signal handler.
        spider.change_margin = timedelta(seconds=settings.getfloat("WIKI_CHANGE_MARGIN"))
        spider.recent_days = settings.getfloat("WIKI_RECENT_DAYS")
        spider.feed_items = settings.getint("WIKI_FEED_ITEMS")
        spider.sitemap_max_size = settings.getint("WIKI_SITEMAP_MAXSIZE")
        spider.date_format = settings.get("WIKI_DATE_FORMAT")
        spider.login_user = settings.get("WIKI_LOGIN_USER") or None
        spider.login_method = settings.get("WIKI_LOGIN_METHOD") if spider.login_user else None
        spider._resource_settings(settings)
        spider.frontier = Frontier(settings.getint("WIKI_FRONTIER_BATCH"))
        crawler.signals.connect(spider.spider_idle, signal=signals.spider_idle)
        crawler.signals.connect(spider.scheduler_empty, signal=signals.scheduler_empty)
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
        if not await self._log_in():
            return
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

    async def _log_in(self) -> bool:
        """Log in before the first request when the crawl has an account; False when the
        login failed (the crawl is then failing, with the reason)."""
        login = self.crawler.get_downloader_middleware(LoginMiddleware)
        if login is None:
            return True
        try:
            await login.log_in(self.site)
        except LoginError as exc:
            self.fatal = str(exc)
            fail_crawl(self.crawler, str(exc))
            return False
        return True

    def parse_probe(self, response: Response) -> Iterator[scrapy.Request]:
        """The first page of the wiki: prove it is a DokuWiki, then crawl on."""
        if response.status == 401 and not self.login_user:
            self._fail(
                f"{self.site} asks for a password (HTTP 401 at {response.url}): log in with "
                "--login USER --login-method basic"
            )
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
        refused = self._denial(response)
        if refused is not None:
            self._refused(response, refused)
            return
        yield from self.follow_resources(response, from_article=True)
        if self.history or self.source:
            yield from self._history_of(response)
        if "links" not in self.discovery:
            return
        page = self._page(response)
        if page.links:
            self.crawler.stats.inc_value("wiki/pages_with_links")
        self.crawler.stats.inc_value(DISCOVERY_STATS["links"], len(page.linked_pages))
        known = self.previous.present_pages if self.incremental else frozenset()
        for page_id in page.linked_pages:
            # An incremental crawl follows links only to pages it has never seen.
            if page_id not in known:
                self._follow(page_id)

    def _denial(self, response: Response) -> Denial | None:
        """DokuWiki's refusal, as the recorder found it on its way into the catalog."""
        if PAGE_META_KEY in response.meta:
            return None
        if DENIAL_META_KEY in response.meta:
            return response.meta[DENIAL_META_KEY]
        return denial(response.body)  # not archived (a cached answer): judged here

    def _refused(self, response: Response, refused: Denial) -> None:
        """A page the crawl may not read: listed, never parsed, never a removal."""
        page_id = response.meta.get("page_id")
        if login_lost(refused, self.login_method):
            message = (
                f"the wiki no longer sees the login as {self.login_user}: it offered its "
                f"login form again at {response.url}"
            )
            self._note_error(response.url, page_id, message)
            self._fail(message)
        self.denied.add(page_id)
        self.crawler.stats.inc_value("wiki/articles_denied")
        self.logger.info("Not readable (the wiki answered Permission Denied): %s", response.url)

    def _page(self, response: Response) -> PageGist:
        """The article as the recorder parsed it on its way into the catalog."""
        page = response.meta.get(PAGE_META_KEY)
        if page is None:
            page = gist_of(parse_page(response.url, response.body, site=self.site,
                                      date_format=self.date_format))
        return page

    def _history_of(self, response: Response) -> Iterator[scrapy.Request]:
        """A fetched page's revision list (history) and markup (source)."""
        page_id = response.meta.get("page_id")
        if not page_id:
            return
        page = self._page(response)
        if self.source and page.exists:
            yield self._extra(source_url(self.site, page_id), page_id, "wiki/sources_fetched")
        if self.history:
            if page.exists:
                self.captured[page_id] = page.last_modified
            yield from self._revision_list(page_id, 0)

    def parse_revisions(self, response: Response) -> Iterator[scrapy.Request]:
        """One screen of a page's revision list: the revisions not archived yet, then the
        next (older) screen."""
        page_id, first = response.meta["page_id"], response.meta["first"]
        if self._denial(response) is not None:
            # The page's history is as private as the page: its own answer says so.
            self.logger.info("Not readable (the wiki answered Permission Denied): %s",
                             response.url)
            return
        listing = response.meta.get(PAGE_META_KEY)
        if not isinstance(listing, RevisionList):
            listing = parse_revision_list(
                response.body, page_id=page_id, first=first,
                date_format=self.date_format,
            )
        if listing is None:
            # The wiki may not offer revision lists (disableactions): say so in the errors.
            self.logger.warning("No revision list in %s", response.url)
            self.crawler.stats.inc_value("wiki/revision_lists_unreadable")
            self.crawler.stats.inc_value("wiki/request_errors")
            self.errors.append({"url": response.url, "page_id": None,
                                "error": "no revision list in the answer",
                                "failed_at": datetime.now(UTC).isoformat()})
            return
        self.crawler.stats.inc_value("wiki/revision_lists_fetched")
        known = self.known_history.get(page_id, {})
        archived = known.get("archived", set())
        held = [*known.get("dates", ()), *([self.captured[page_id]] if page_id in
                                          self.captured else [])]
        matched = dates_to_versions(
            ((rev.revision, rev.date) for rev in listing.revisions if not rev.deleted),
            enumerate(held),
        )
        for rev in listing.revisions:
            if rev.deleted or not rev.served or rev.revision in archived:
                continue
            if rev.revision in matched:
                continue  # a capture of the page holds it
            if rev.current:
                # The current revision is the page itself; fetched unless held already.
                self._follow(page_id)
                continue
            yield self._extra(
                revision_url(self.site, page_id, rev.revision), page_id,
                "wiki/revisions_fetched",
            )
            if self.source:
                yield self._extra(
                    source_url(self.site, page_id, rev.revision), page_id,
                    "wiki/sources_fetched",
                )
        if listing.next_first is None:
            return
        listed, missing = known.get("listed", set()), known.get("missing", set())
        oldest = min((rev.revision for rev in listing.revisions), default=0)
        if (known.get("walked") and all(rev.revision in listed for rev in listing.revisions)
                and not any(rev < oldest for rev in missing)):
            return  # read to its end before, and nothing new or missing from here on
        yield from self._revision_list(page_id, next_screen(listing))

    def parse_archived(self, response: Response) -> None:
        """An old revision or a page's markup: archived and ingested, nothing to follow."""

    def _revision_list(self, page_id: str, first: int) -> Iterator[scrapy.Request]:
        if (page_id, first) in self.lists:
            return
        self.lists.add((page_id, first))
        yield scrapy.Request(
            revisions_url(self.site, page_id, first),
            callback=self.parse_revisions,
            errback=self.on_error,
            meta={"page_id": page_id, "first": first},
        )

    def _extra(self, url: str, page_id: str, stat: str) -> scrapy.Request:
        self.crawler.stats.inc_value(stat)
        return scrapy.Request(
            url, callback=self.parse_archived, errback=self.on_error, meta={"page_id": page_id}
        )

    def parse_index(self, response: Response) -> Iterator[scrapy.Request]:
        page_ids, namespaces = parse_index(response.body, site=self.site)
        self.crawler.stats.inc_value(DISCOVERY_STATS["index"], len(page_ids) + len(namespaces))
        if self.incremental:
            if self.listing is not None:
                self.listing.update(page_ids)
        else:
            for page_id in page_ids:
                self._follow(page_id)
        for namespace in namespaces:
            if namespace not in self.namespaces:
                yield self._index_request(namespace)

    def parse_sitemap(self, response: Response) -> None:
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
            self._follow(entry.page_id)

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
        self.logger.error("Failed %s: %s", request.url, message)
        self._note_error(request.url, request.meta.get("page_id"), message)
        if request.meta.get("listing"):
            self.listing = None  # an incomplete index must not make pages look removed
        if request.meta.get("feed"):
            self.logger.warning("No recent-changes feed (%s): it is optional evidence", message)
        return self._probe_failed(request, message)

    def _note_error(self, url: str, page_id: str | None, message: str) -> None:
        """A request that failed: counted, listed, and its page fetched again next run."""
        self.crawler.stats.inc_value("wiki/request_errors")
        if page_id:
            self.failed.add(page_id)
            self.crawler.stats.set_value(PAGES_FAILED_STAT, len(self.failed))
        if len(self.errors) < MAX_ERRORS_KEPT:
            self.errors.append(
                {
                    "url": url,
                    "page_id": page_id,
                    "error": message,
                    "failed_at": datetime.now(UTC).isoformat(),
                }
            )

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
    def scheduler_empty(self) -> None:
        """Scrapy has nothing left to send: the next pages from the frontier."""
        if not self.fatal:
            self._release()

    def _release(self) -> bool:
        """Hand Scrapy the next batch of the frontier; False when it was empty."""
        released = False
        for request in self.frontier.release():
            self.crawler.engine.crawl(request)
            released = True
        return released

    @guarded
    def spider_idle(self) -> None:
        """Discovery is over (the frontier is empty): say what found nothing, and plan
        what else to fetch, once; then (history) the revision lists of pages not fetched
        whose history is not archived yet."""
        if self.fatal:
            return
        if self._release():
            raise DontCloseSpider
        if not self.planned:
            self.planned = True
            self._warn_empty_discovery()
            self.plan_media()
            self._schedule(self._planned_pages())
        if self.history and not self.history_planned:
            self.history_planned = True
            first_screen = partial(self._revision_list, first=0)
            for page_id in sorted(self._history_to_read()):
                self.frontier.add(first_screen, page_id)
            if self._release():
                raise DontCloseSpider

    def _history_to_read(self) -> set[str]:
        """Pages whose revision list was never read to its end, not read in this crawl:
        pages held from earlier crawls (present or removed), and pages the feed names
        (a page deleted before the first crawl still has its history)."""
        pages = set(self.known_history)
        if self.previous is not None:
            pages |= self.previous.present_pages
        if self.feed is not None:
            pages |= {item.page_id for item in self.feed.items}
        walked = {p for p, known in self.known_history.items() if known.get("walked")}
        return pages - walked - {page_id for page_id, _ in self.lists}

    def _planned_pages(self) -> frozenset[str]:
        if self.previous is None:
            return frozenset()
        if not self.incremental:
            # Pages known from earlier crawls but no longer linked or listed are fetched
            # too: only the wiki saying so marks a page removed. So are pages it refused.
            return self.previous.present_pages | self.previous.denied
        plan = plan_incremental(
            since=page_since(self.previous, self.change_margin),
            listing=self.listing,
            feed=self.feed,
            failed=pages_to_retry(self.previous),
            now=datetime.now(UTC),
            recent_days=self.recent_days,
            held=self.previous.held,
            sitemap=self.sitemap,
            refused=self.previous.denied,
        )
        what = "every page" if plan.everything else "pages"
        self.logger.info("Incremental crawl: %d %s to fetch (%s)", len(plan.fetch), what,
                         plan.reason)
        self.crawler.stats.set_value("wiki/plan_reason", plan.reason)
        self.crawler.stats.set_value("wiki/plan_reasons", plan.reasons)
        return plan.fetch

    def _schedule(self, page_ids: frozenset[str]) -> None:
        for page_id in sorted(page_ids):
            self._follow(page_id)
        if self._release():
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
            "not_readable_pages": sorted(self.denied),
            "login": self.login_user,
            "error_list": self.errors,
            "delay": stats.get_value(DELAY_STAT),
            "delay_source": stats.get_value(DELAY_SOURCE_STAT),
            "plan": stats.get_value("wiki/plan_reason"),
            "plan_reasons": stats.get_value("wiki/plan_reasons"),
            "revisions": stats.get_value("wiki/revisions_fetched", 0),
            "sources": stats.get_value("wiki/sources_fetched", 0),
            "skipped_files": self.skipped_files,
        }

    # ---- requests

    def _follow(self, page_id: str) -> None:
        """Queue an article in the frontier, once per crawl."""
        if page_id and page_id not in self.scheduled:
            if self.max_pages and len(self.scheduled) >= self.max_pages:
                self.crawler.stats.inc_value("wiki/pages_over_limit")
                return
            self.scheduled.add(page_id)
            self.frontier.add(self._article, page_id)

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
        headers = conditional_headers(self.previous, self.login_user) if self.incremental else {}
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
                if means == "sitemap":
                    # DokuWiki lists the pages of its search index, which its task runner
                    # fills as pages are viewed: a wiki never indexed has an empty sitemap.
                    self.logger.warning(
                        "The wiki's sitemap lists no page (DokuWiki builds it from its "
                        "search index): pages are found by the other means")
                    continue
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


def conditional_headers(previous: PreviousCrawl, login: str | None = None) -> dict[str, str]:
    """Validators of the newest feed, when every known page counts its edits from it.

    A 304 then means nothing changed for any page. When some pages count from an older
    feed (a stopped crawl did not reach them), or that feed was another account's view
    (DokuWiki's validators are the time of its cached feed, not of what it shows), the
    whole feed is needed.
    """
    newest = previous.crawls[-1]
    if not newest.feed_last_modified or newest.login != login:
        return {}
    since = mark_since(newest, timedelta(0))
    if any(t != since for t in page_since(previous, timedelta(0)).values()):
        return {}
    headers = {"If-Modified-Since": format_datetime(since, usegmt=True)}
    if newest.feed_etag:
        headers["If-None-Match"] = newest.feed_etag
    return headers

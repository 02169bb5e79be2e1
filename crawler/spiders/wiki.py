"""The wiki spider: every article once, at its permanent link, and nothing else.

Pages are discovered by every means DokuWiki offers (``WIKI_DISCOVERY``): links
between articles, the page index (``do=index``, namespaces expanded) and the
sitemap (``do=sitemap``) when the wiki publishes one. Only permanent links
(``doku.php?id=<clean id>``) are fetched as articles; action views are never
followed.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode, urlsplit

import scrapy
from scrapy.exceptions import CloseSpider
from scrapy.http import Response
from scrapy.utils.gz import gunzip
from scrapy.utils.sitemap import Sitemap
from twisted.python.failure import Failure

from crawler.dokuwiki import page_id_from_url, page_url, site_root
from crawler.parse import is_dokuwiki, parse_index

DEFAULT_SITE = "https://neurosurgerywiki.com/wiki/"
DISCOVERY_MEANS = frozenset({"links", "index", "sitemap"})


def new_crawl_id(now: datetime) -> str:
    """Sortable and unique: UTC time plus a random suffix."""
    return now.strftime("%Y%m%dT%H%M%SZ") + "-" + secrets.token_hex(3)


class WikiSpider(scrapy.Spider):
    name = "wiki"

    def __init__(
        self,
        site: str = DEFAULT_SITE,
        *,
        discovery: list[str] | None = None,
        max_pages: int = 0,
        crawl_id: str | None = None,
        mode: str = "full",
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        self.site = site_root(site)
        self.allowed_domains = [urlsplit(self.site).hostname or ""]
        self.discovery = frozenset(discovery or DISCOVERY_MEANS)
        unknown = self.discovery - DISCOVERY_MEANS
        if unknown:
            raise ValueError(f"unknown discovery means: {', '.join(sorted(unknown))}")
        self.max_pages = max_pages
        self.started_at = datetime.now(UTC)
        self.crawl_id = crawl_id or new_crawl_id(self.started_at)
        self.mode = mode
        self.fatal: str | None = None
        self.scheduled: set[str] = set()
        self.namespaces: set[str] = set()
        self.is_wiki = False

    @classmethod
    def from_crawler(cls, crawler: Any, *args: Any, **kwargs: Any) -> WikiSpider:
        settings = crawler.settings
        kwargs.setdefault("site", settings.get("WIKI_SITE") or DEFAULT_SITE)
        kwargs.setdefault("discovery", settings.getlist("WIKI_DISCOVERY") or None)
        kwargs.setdefault("max_pages", settings.getint("WIKI_MAX_PAGES"))
        kwargs.setdefault("crawl_id", settings.get("WIKI_CRAWL_ID"))
        return super().from_crawler(crawler, *args, **kwargs)

    async def start(self) -> AsyncIterator[scrapy.Request]:
        # The start page both proves that this is a DokuWiki and seeds the crawl.
        yield self._article("start", callback=self.parse_first)

    def parse_first(self, response: Response) -> Iterator[scrapy.Request]:
        if response.status != 200 or not is_dokuwiki(response.body):
            self._fail(
                f"{self.site} does not look like a DokuWiki "
                f"(HTTP {response.status}, no DokuWiki page at {response.url})"
            )
        self.is_wiki = True
        if "index" in self.discovery:
            yield self._index_request(namespace="")
        if "sitemap" in self.discovery:
            yield scrapy.Request(
                self.site + "doku.php?do=sitemap", callback=self.parse_sitemap, priority=1
            )
        yield from self.parse_article(response)

    def parse_article(self, response: Response) -> Iterator[scrapy.Request]:
        self.crawler.stats.inc_value("wiki/articles_fetched")
        if "links" not in self.discovery:
            return
        for page_id in response.xpath(
            "//a[contains(concat(' ', normalize-space(@class), ' '), ' wikilink1 ')]/@data-wiki-id"
        ).getall():
            yield from self._follow(page_id.split("#", 1)[0])

    def parse_index(self, response: Response) -> Iterator[scrapy.Request]:
        page_ids, namespaces = parse_index(response.body, site=self.site)
        for page_id in page_ids:
            yield from self._follow(page_id)
        for namespace in namespaces:
            if namespace not in self.namespaces:
                yield self._index_request(namespace)

    def parse_sitemap(self, response: Response) -> Iterator[scrapy.Request]:
        body = response.body
        if body[:2] == b"\x1f\x8b":
            max_size = self.crawler.settings.getint("WIKI_SITEMAP_MAXSIZE")
            body = gunzip(body, max_size=max_size)
        try:
            entries = list(Sitemap(body))
        except Exception as exc:  # lxml errors on a broken sitemap: note it, go on
            self.logger.warning("Unreadable sitemap %s: %s", response.url, exc)
            self.crawler.stats.inc_value("wiki/sitemap_errors")
            return
        for entry in entries:
            page_id = page_id_from_url(entry.get("loc", ""), self.site)
            if page_id:
                yield from self._follow(page_id)

    def on_error(self, failure: Failure) -> None:
        request = failure.request
        self.crawler.stats.inc_value("wiki/request_errors")
        self.logger.error("Failed %s: %s", request.url, failure.getErrorMessage())
        if not self.is_wiki and request.meta.get("first"):
            self._fail(f"cannot reach {self.site}: {failure.getErrorMessage()}")

    def crawl_summary(self, reason: str) -> dict[str, Any]:
        """What the crawls table needs; archived as the crawl's last WARC record."""
        stats = self.crawler.stats
        return {
            "crawl_id": self.crawl_id,
            "site": self.site,
            "mode": self.mode,
            "started_at": self.started_at.isoformat(),
            "finished_at": datetime.now(UTC).isoformat(),
            "finish_reason": reason,
            "fatal": self.fatal,
            "pages": stats.get_value("wiki/articles_fetched", 0),
            "requests": stats.get_value("downloader/request_count", 0),
            "errors": stats.get_value("wiki/request_errors", 0)
            + stats.get_value("spider_exceptions/count", 0),
        }

    def _follow(self, page_id: str) -> Iterator[scrapy.Request]:
        if page_id and page_id not in self.scheduled:
            if self.max_pages and len(self.scheduled) >= self.max_pages:
                self.crawler.stats.inc_value("wiki/pages_over_limit")
                return
            yield self._article(page_id)

    def _article(self, page_id: str, callback: Any = None) -> scrapy.Request:
        self.scheduled.add(page_id)
        first = callback is not None
        return scrapy.Request(
            page_url(self.site, page_id),
            callback=callback or self.parse_article,
            errback=self.on_error,
            # The first page must reach parse_first whatever its status, to be judged.
            meta={"page_id": page_id, "first": first, "handle_httpstatus_all": first},
        )

    def _index_request(self, namespace: str) -> scrapy.Request:
        self.namespaces.add(namespace)
        query = {"id": "start", "do": "index"}
        if namespace:
            query = {"id": "start", "idx": namespace}
        return scrapy.Request(
            self.site + "doku.php?" + urlencode(query, safe=":"),
            callback=self.parse_index,
            errback=self.on_error,
            priority=1,
        )

    def _fail(self, message: str) -> None:
        self.fatal = message
        self.crawler.stats.set_value("wiki/fatal", message)
        raise CloseSpider("fatal")

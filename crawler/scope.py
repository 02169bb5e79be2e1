"""Downloader middleware that keeps every request inside the wiki and its allowed views.

The spider only builds in-scope URLs; this is the guard for the rest: redirects
(off-site, out of the wiki's path, or to an action view such as a login page) and
anything another component schedules.
"""

from __future__ import annotations

import logging

from scrapy import Request, Spider
from scrapy.crawler import Crawler
from scrapy.exceptions import IgnoreRequest, NotConfigured

from crawler.dokuwiki import request_kind

logger = logging.getLogger(__name__)


class ScopeMiddleware:
    def __init__(self, crawler: Crawler, views: frozenset[str] = frozenset()):
        self.crawler = crawler
        self.stats = crawler.stats
        self.views = views  # the extra views this crawl may fetch (history, source)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ScopeMiddleware:
        settings = crawler.settings
        if not settings.getbool("WIKI_SCOPE_ENABLED"):
            raise NotConfigured
        modes = {"history": "WIKI_HISTORY", "source": "WIKI_SOURCE"}
        return cls(crawler, frozenset(m for m, name in modes.items() if settings.getbool(name)))

    def process_request(self, request: Request, spider: Spider = None) -> None:
        site = getattr(self.crawler.spider, "site", None)
        if site is None or request_kind(request.url, site, self.views) is not None:
            return None
        self.stats.inc_value("wiki/out_of_scope")
        logger.info("Out of scope, not fetched: %s", request.url)
        raise IgnoreRequest(f"out of scope: {request.url}")

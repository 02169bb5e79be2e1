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

from crawler.dokuwiki import DETAIL, MEDIA, REQUISITE, request_kind

logger = logging.getLogger(__name__)


class ScopeMiddleware:
    def __init__(self, crawler: Crawler):
        self.crawler = crawler
        self.stats = crawler.stats
        settings = crawler.settings
        # What pages load and link is in scope only when the crawl wants it.
        self.refused = refused_kinds(
            requisites=settings.getbool("WIKI_REQUISITES"), media=settings.getbool("WIKI_MEDIA")
        )

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ScopeMiddleware:
        if not crawler.settings.getbool("WIKI_SCOPE_ENABLED"):
            raise NotConfigured
        return cls(crawler)

    def process_request(self, request: Request, spider: Spider = None) -> None:
        site = getattr(self.crawler.spider, "site", None)
        if site is None:
            return None
        kind = request_kind(request.url, site)
        if kind is not None and kind not in self.refused:
            return None
        self.stats.inc_value("wiki/out_of_scope")
        logger.info("Out of scope, not fetched: %s", request.url)
        raise IgnoreRequest(f"out of scope: {request.url}")


def refused_kinds(*, requisites: bool, media: bool) -> frozenset[str]:
    """The kinds of request_kind a crawl without requisites or media must not fetch."""
    refused = set()
    if not requisites:
        refused.add(REQUISITE)
    if not media:
        refused.update((MEDIA, DETAIL))
    return frozenset(refused)

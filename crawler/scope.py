"""Downloader middleware that keeps every request inside the wiki and its allowed views.

The spider only builds in-scope URLs; this is the guard for the rest: redirects
(off-site, out of the wiki's path, or to an action view such as a login page) and
anything another component schedules. Only GET (and HEAD) requests pass: a crawl never
sends a form, save for the login exchange of a crawl that logs in (crawler.login), for
which alone the login view is let through.
"""

from __future__ import annotations

import logging

from scrapy import Request, Spider
from scrapy.crawler import Crawler
from scrapy.exceptions import IgnoreRequest, NotConfigured

from crawler.dokuwiki import DETAIL, MEDIA, REQUISITE, request_kind
from crawler.login import LOGIN_META_KEY

logger = logging.getLogger(__name__)

READ_METHODS = frozenset({"GET", "HEAD"})
LOGIN_VIEW = frozenset({"login"})


class ScopeMiddleware:
    def __init__(
        self, crawler: Crawler, views: frozenset[str] = frozenset(), *, login: bool = False
    ):
        self.crawler = crawler
        self.stats = crawler.stats
        self.views = views  # the extra views this crawl may fetch (history, source)
        self.login = login  # the crawl logs in: its login exchange may reach the login view
        settings = crawler.settings
        # What pages load and link is in scope only when the crawl wants it.
        self.refused = refused_kinds(
            requisites=settings.getbool("WIKI_REQUISITES"), media=settings.getbool("WIKI_MEDIA")
        )

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ScopeMiddleware:
        settings = crawler.settings
        if not settings.getbool("WIKI_SCOPE_ENABLED"):
            raise NotConfigured
        modes = {"history": "WIKI_HISTORY", "source": "WIKI_SOURCE"}
        views = frozenset(m for m, name in modes.items() if settings.getbool(name))
        return cls(crawler, views, login=bool(settings.get("WIKI_LOGIN_USER")))

    def process_request(self, request: Request, spider: Spider = None) -> None:
        site = getattr(self.crawler.spider, "site", None)
        if site is None or self._allowed(request, site):
            return None
        self.stats.inc_value("wiki/out_of_scope")
        logger.info("Out of scope, not fetched: %s %s", request.method, request.url)
        raise IgnoreRequest(f"out of scope: {request.method} {request.url}")

    def _allowed(self, request: Request, site: str) -> bool:
        if self.login and request.meta.get(LOGIN_META_KEY):
            return request_kind(request.url, site, LOGIN_VIEW) == "login"
        kind = request_kind(request.url, site, self.views)
        return (
            request.method in READ_METHODS and kind is not None and kind not in self.refused
        )


def refused_kinds(*, requisites: bool, media: bool) -> frozenset[str]:
    """The kinds of request_kind a crawl without requisites or media must not fetch."""
    refused = set()
    if not requisites:
        refused.add(REQUISITE)
    if not media:
        refused.update((MEDIA, DETAIL))
    return frozenset(refused)

"""Downloader middleware that keeps the requests in flight to each host within
CONCURRENT_REQUESTS_PER_DOMAIN, whatever CONCURRENT_REQUESTS allows in all.

The crawl allows a few more requests in all than the wiki's share (crawler.archivist:
a response counts until the archivist has stored it). Scrapy's downloader should then
hold the rest back per host, but its slot starts each queued download as a task
and counts it as transferring only when the task runs, so a slot with more requests
queued than free starts them all at once (Scrapy 2.19, asyncio reactor): with
``--concurrency 2`` the wiki saw three. Here a request waits for its host's share
before it reaches the slot, and gives it back as soon as its answer (or failure)
comes back from the downloader, before the archivist stores it.
"""

from __future__ import annotations

from scrapy import Request, Spider
from scrapy.crawler import Crawler
from scrapy.http import Response
from scrapy.utils.defer import maybe_deferred_to_future
from scrapy.utils.httpobj import urlparse_cached
from twisted.internet.defer import DeferredSemaphore

SHARE_META_KEY = "wiki_host_share"  # the host whose share the request holds


class HostShareMiddleware:
    def __init__(self, per_host: int):
        self.per_host = per_host
        self.hosts: dict[str, DeferredSemaphore] = {}

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> HostShareMiddleware:
        return cls(crawler.settings.getint("CONCURRENT_REQUESTS_PER_DOMAIN"))

    async def process_request(self, request: Request, spider: Spider = None) -> None:
        host = urlparse_cached(request).hostname or ""
        share = self.hosts.get(host)
        if share is None:
            share = self.hosts[host] = DeferredSemaphore(self.per_host)
        await maybe_deferred_to_future(share.acquire())
        request.meta[SHARE_META_KEY] = host

    def process_response(
        self, request: Request, response: Response, spider: Spider = None
    ) -> Response:
        self._release(request)
        return response

    def process_exception(
        self, request: Request, exception: Exception, spider: Spider = None
    ) -> None:
        self._release(request)

    def _release(self, request: Request) -> None:
        # Only what was taken: a response made before the download (a cache's) took none.
        host = request.meta.pop(SHARE_META_KEY, None)
        if host is not None:
            self.hosts[host].release()

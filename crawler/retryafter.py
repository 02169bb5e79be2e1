"""Downloader middleware that spaces out retries: ``Retry-After`` honoured, backoff otherwise.

Scrapy's RetryMiddleware (550) sends a retry back to the scheduler at once, so a wiki
that is overloaded, rate-limiting or restarting gets hammered RETRY_TIMES times in a row
and the page is given up within a second. This middleware (560, so it sees responses and
download errors just before RetryMiddleware does) notes on the request when its retry may
go out: after the ``Retry-After`` of a 429 or 503 answer, and never sooner than a backoff
that doubles with each retry (``WIKI_RETRY_BACKOFF``, ``2×``, ``4×``…, at most
``WIKI_RETRY_BACKOFF_MAX``). When the retry comes back to the downloader it waits until
then, without blocking the reactor (other requests go on if concurrency allows).

A ``Retry-After`` longer than ``WIKI_RETRY_AFTER_MAX`` is not waited for: the request is
not retried in this crawl (retrying sooner than asked is pointless and impolite); the page
is reported as failed and fetched again by the next run.

A body shorter than its Content-Length fails the download (``ResponseDataLossError``,
retried by RetryMiddleware). With ``DOWNLOAD_FAIL_ON_DATALOSS`` off it arrives as a
response flagged ``dataloss`` instead (archived as truncated): it is retried the same way,
and fails the request when the retries are spent, so the page is reported, not parsed.
"""

from __future__ import annotations

import logging
import time
from email.utils import parsedate_to_datetime

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.downloadermiddlewares.retry import get_retry_request
from scrapy.exceptions import NotConfigured, ResponseDataLossError
from scrapy.http import Response
from scrapy.utils.asyncio import sleep

logger = logging.getLogger(__name__)

NOT_BEFORE_META_KEY = "wiki_retry_not_before"  # epoch seconds: the retry waits until then
RETRY_AFTER_STATUSES = frozenset({429, 503})


class RetryAfterMiddleware:
    def __init__(
        self,
        crawler: Crawler,
        *,
        retry_http_codes: frozenset[int],
        max_wait: float,
        backoff: float,
        backoff_max: float,
    ):
        self.crawler = crawler
        self.stats = crawler.stats
        self.retry_http_codes = retry_http_codes
        self.max_wait = max_wait
        self.backoff = backoff
        self.backoff_max = backoff_max

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> RetryAfterMiddleware:
        settings = crawler.settings
        if not settings.getbool("RETRY_ENABLED"):
            raise NotConfigured
        return cls(
            crawler,
            retry_http_codes=frozenset(int(c) for c in settings.getlist("RETRY_HTTP_CODES")),
            max_wait=settings.getfloat("WIKI_RETRY_AFTER_MAX"),
            backoff=settings.getfloat("WIKI_RETRY_BACKOFF"),
            backoff_max=settings.getfloat("WIKI_RETRY_BACKOFF_MAX"),
        )

    async def process_request(self, request: Request) -> None:
        not_before = request.meta.pop(NOT_BEFORE_META_KEY, None)
        if not_before is None or not request.meta.get("retry_times"):
            return
        wait = not_before - time.time()
        if wait > 0:
            self.stats.inc_value("retry/delayed")
            self.stats.inc_value("retry/delay_seconds", round(wait, 3))
            await sleep(wait)

    def process_response(self, request: Request, response: Response) -> Request | Response:
        if "dataloss" in response.flags:
            return self._retry_truncated(request, response)
        if response.status not in self.retry_http_codes or request.meta.get("dont_retry"):
            return response
        wait = self._backoff(request)
        if response.status in RETRY_AFTER_STATUSES:
            retry_after = parse_retry_after(response.headers.get("Retry-After"), time.time())
            if retry_after is not None and retry_after > self.max_wait:
                logger.warning(
                    "Not retrying %s in this crawl: HTTP %d with Retry-After %.0f s "
                    "(more than WIKI_RETRY_AFTER_MAX, %.0f s)",
                    request.url, response.status, retry_after, self.max_wait,
                )
                self.stats.inc_value("retry/retry_after_too_long")
                request.meta["dont_retry"] = True
                return response
            if retry_after is not None:
                self.stats.inc_value("retry/retry_after")
                wait = max(wait, retry_after)
        request.meta[NOT_BEFORE_META_KEY] = time.time() + wait
        return response

    def process_exception(self, request: Request, exception: Exception) -> None:
        # Timeouts, refused and reset connections, truncated bodies: RetryMiddleware decides
        # whether to retry; if it does, the retry waits for the backoff.
        if not request.meta.get("dont_retry"):
            request.meta[NOT_BEFORE_META_KEY] = time.time() + self._backoff(request)

    def _retry_truncated(self, request: Request, response: Response) -> Request:
        error = ResponseDataLossError(
            f"{len(response.body)} bytes received, fewer than the Content-Length"
        )
        retry = None
        if not request.meta.get("dont_retry"):
            retry = get_retry_request(request, spider=self.crawler.spider, reason=error)
        if retry is None:
            raise error
        retry.meta[NOT_BEFORE_META_KEY] = time.time() + self._backoff(request)
        return retry

    def _backoff(self, request: Request) -> float:
        attempt = request.meta.get("retry_times", 0)  # retries made before this failure
        return min(self.backoff * 2**attempt, self.backoff_max)


def parse_retry_after(value: bytes | None, now: float) -> float | None:
    """Seconds to wait from a Retry-After value (delay-seconds or an HTTP date), or None."""
    if not value:
        return None
    text = value.decode("latin-1").strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - now)

"""How a crawl fails loudly: a fatal message in the stats, the spider closed as failed.

Scrapy only logs an exception raised in a signal handler, and the crawl then ends as
"finished". Every handler of ours that can fail is wrapped in :func:`guarded`, so its
failure closes the crawl as ``failed`` with the message, which the summary, the exit
status and the catalog all see.
"""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Callable
from typing import Any, TypeVar

from scrapy.crawler import Crawler
from scrapy.exceptions import CloseSpider, DontCloseSpider
from scrapy.utils.defer import deferred_from_coro

from crawler.exits import EXIT_BUSY, EXIT_FAILED, EXIT_OK, EXIT_PARTIAL

logger = logging.getLogger(__name__)

FATAL_STAT = "wiki/fatal"
BUSY_STAT = "wiki/busy"  # another run holds the output folder
PAGES_FAILED_STAT = "wiki/pages_failed"  # pages given up after retries, fetched next run
# Set by the recorder when the archivist has written the tables after committing the
# crawl: what they hold and when.
EXPORT_STAT = "wiki/export"  # the ExportResult of the tables written after the crawl
TABLES_READY_STAT = "wiki/tables_ready_at"  # when they were in place (UTC, ISO 8601)
FAILED = "failed"  # the finish reason of a crawl that could not do its job


Handler = TypeVar("Handler", bound=Callable[..., Any])


def fatal_message(crawler: Crawler) -> str | None:
    """Why the crawl failed, or None while it has not."""
    return crawler.stats.get_value(FATAL_STAT)


def record_failure(crawler: Crawler, message: str) -> None:
    """Record why the crawl failed; the first reason wins."""
    if fatal_message(crawler) is None:
        crawler.stats.set_value(FATAL_STAT, message)
        logger.error(message)


def fail_crawl(crawler: Crawler, message: str, *, reason: str = FAILED) -> None:
    """Record why the crawl failed and close the spider."""
    record_failure(crawler, message)
    engine = getattr(crawler, "engine", None)
    if engine is not None and engine.spider is not None:
        deferred_from_coro(engine.close_spider_async(reason=reason))


def guarded(handler: Handler) -> Handler:
    """Wrap a signal handler of a component with a ``crawler`` attribute: an exception
    fails the crawl instead of being logged and forgotten. Scrapy's own control-flow
    exceptions (DontCloseSpider, CloseSpider) pass through."""

    # Scrapy passes a handler only the keyword arguments it names (signal, sender, …
    # otherwise): the wrapper, taking any, hands on just those.
    accepted = set(inspect.signature(handler).parameters)

    @functools.wraps(handler)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        kwargs = {name: value for name, value in kwargs.items() if name in accepted}
        try:
            return handler(self, *args, **kwargs)
        except (DontCloseSpider, CloseSpider):
            raise
        except Exception as exc:  # noqa: BLE001 - any failure here must end the crawl
            logger.debug("%s failed", handler.__qualname__, exc_info=True)
            fail_crawl(self.crawler, f"{describe(exc)} (in {handler.__qualname__})")
            return None

    return wrapper  # type: ignore[return-value]


def exit_status(crawler: Crawler) -> int:
    """The exit status a finished crawl's stats call for."""
    stats = crawler.stats
    if stats.get_value(BUSY_STAT):
        return EXIT_BUSY
    if fatal_message(crawler) is not None:
        return EXIT_FAILED
    if stats.get_value("finish_reason") != "finished" or stats.get_value(PAGES_FAILED_STAT):
        return EXIT_PARTIAL
    return EXIT_OK


def describe(exc: BaseException) -> str:
    """A one-line description that always names the error."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__

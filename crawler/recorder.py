"""Downloader middleware that archives every HTTP exchange into WARC files and the catalog.

It sits next to the downloader (priority 950, beside HttpCacheMiddleware at 900)
so it sees each response before decompression, redirects and retries: bodies
as received, 3xx and error responses included. Each exchange goes to the archivist
(crawler.archivist), a second process that writes it and hands it to the catalog's
ingest (archive.ingest) as the record a rebuild would read back; the response waits
for its answer (the parsed page, what it loads) while Scrapy downloads others. So the
per-page work is done as pages arrive, beside Scrapy's, and the crawl is in the
catalog when it ends.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from datetime import timedelta
from importlib.metadata import version
from pathlib import Path
from typing import Any

import scrapy
from scrapy import Request, Spider, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import IgnoreRequest, NotConfigured
from scrapy.http import Response
from scrapy.utils.defer import maybe_deferred_to_future
from twisted.python.threadpool import ThreadPool

from archive.layout import Layout
from archive.media import Held
from archive.redact import REQUEST_HEADERS, SESSION_HEADERS, redact_message
from archive.writer import Exchange, utc_now
from crawler.access import Denial
from crawler.archivist import Archived, Archivist, Finished, Setup
from crawler.archivist import take as take_archivist
from crawler.crawldelay import DELAY_SOURCE_STAT, DELAY_STAT
from crawler.handler import RAW_META_KEY
from crawler.login import LOGIN_META_KEY
from crawler.outcome import (
    EXPORT_STAT,
    TABLES_READY_STAT,
    describe,
    fail_crawl,
    fatal_message,
    guarded,
    record_failure,
)

logger = logging.getLogger(__name__)

LOCATION_META_KEY = "warc_location"
PAGE_META_KEY = "wiki_page"  # the parsed article's gist, so the spider need not parse it
DENIAL_META_KEY = "wiki_denial"  # the article was DokuWiki's Permission Denied answer
# What a response loads and links on the wiki (FOUND): an article's from the ingest's one
# parse, a stylesheet's or detail page's when the spider asks (DISCOVER). HELD is the
# capture a conditional request's validators came from, which a 304 confirms.
DISCOVER_META_KEY = "wiki_discover"
FOUND_META_KEY = "wiki_found"
HELD_META_KEY = "wiki_held"


class WarcRecorderMiddleware:
    """Has each exchange written to the WARC files and ingested by the archivist, so
    the crawl's pages are parsed and recorded as they arrive."""

    def __init__(
        self,
        crawler: Crawler,
        layout: Layout,
        *,
        prefix: str,
        max_size: int,
        date_format: str | None,
        login_user: str | None = None,
        login_method: str | None = None,
        excel_safe: bool = False,
    ):
        self.crawler = crawler
        self.stats = crawler.stats
        self.layout = layout
        self.prefix = prefix
        self.max_size = max_size
        self.date_format = date_format
        self.login_user = login_user
        self.login_method = login_method if login_user else None
        self.excel_safe = excel_safe
        self.archivist: Archivist | None = None
        self.pool: ThreadPool | None = None  # the thread that waits on the archivist
        self.spider: Spider | None = None
        self._info_key: tuple = ()
        self.site = ""
        self.storage_error: str | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> WarcRecorderMiddleware:
        settings = crawler.settings
        if not settings.getbool("WARC_ENABLED"):
            raise NotConfigured  # refused up front by crawler.checks
        mw = cls(
            crawler,
            Layout(Path(settings.get("WIKI_OUT_DIR"))),
            prefix=settings.get("WARC_PREFIX"),
            max_size=settings.getint("WARC_MAX_SIZE"),
            date_format=settings.get("WIKI_DATE_FORMAT"),
            login_user=settings.get("WIKI_LOGIN_USER") or None,
            login_method=settings.get("WIKI_LOGIN_METHOD"),
            excel_safe=settings.getbool("WIKI_EXCEL_SAFE"),
        )
        crawler.signals.connect(mw.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(mw.spider_closed, signal=signals.spider_closed)
        return mw

    @guarded
    def spider_opened(self, spider: Spider) -> None:
        if fatal_message(self.crawler) is not None:
            return  # refused before it began (busy folder, bad settings): write nothing
        self.site = spider.site
        self.spider = spider
        setup = Setup(
            out_dir=str(self.layout.root),
            prefix=self.prefix,
            max_size=self.max_size,
            crawl_id=spider.crawl_id,
            site=spider.site,
            mode=spider.mode,
            started_at=spider.started_at.isoformat(),
            date_format=self.date_format,
            login_user=self.login_user,
            login_method=self.login_method,
            excel_safe=self.excel_safe,
        )
        self._info_key = self._delay()
        self.archivist = take_archivist()
        self.archivist.open(setup, self._warcinfo())
        # One thread waits on the archivist, so the reactor never does.
        self.pool = ThreadPool(1, 1, name="wikiarchive-archivist")
        self.pool.start()

    async def process_response(
        self, request: Request, response: Response, spider: Spider = None
    ) -> Response:
        raw = request.meta.pop(RAW_META_KEY, None)
        if self.archivist is None:
            raise IgnoreRequest("not archived: the crawl was refused")
        if request.meta.get(LOGIN_META_KEY):
            # The login itself: its POST holds the password, and it is no page of the wiki.
            self.stats.inc_value("warc/skipped_login")
            return response
        if "cached" in response.flags:
            # A replay from Scrapy's HTTP cache is not a fresh capture.
            self.stats.inc_value("warc/skipped_cached")
            return response
        if raw is None or raw[0] is None or raw[1] is None:
            logger.warning("Not archived (no raw exchange from the downloader): %s", response.url)
            self.stats.inc_value("warc/skipped_no_raw")
            return response
        if self.storage_error:
            raise IgnoreRequest("not archived: the archive cannot be written")
        exchange = exchange_of(request, response, raw, session=self.login_user is not None)
        # A 304 to a conditional request confirms the capture its validators came from.
        held = request.meta.get(HELD_META_KEY) if response.status == 304 else None
        try:
            archived = await self._store(
                exchange, held=held, discover=bool(request.meta.get(DISCOVER_META_KEY))
            )
        except (OSError, sqlite3.Error) as exc:
            self._stop_on_storage_error(exc)
            raise IgnoreRequest(f"not archived: {exc}") from exc
        if isinstance(archived.parsed, Denial):
            request.meta[DENIAL_META_KEY] = archived.parsed
        elif archived.parsed is not None:  # an article, or a revision list
            request.meta[PAGE_META_KEY] = archived.parsed
        if archived.found:
            request.meta[FOUND_META_KEY] = archived.found
        if exchange.request_redacted or exchange.response_redacted:
            self.stats.inc_value("warc/redacted")
        request.meta[LOCATION_META_KEY] = archived.stored
        self.stats.inc_value("warc/records", 2)
        self.stats.inc_value("warc/exchanges")
        self.stats.inc_value("warc/revisits" if archived.revisit else "warc/responses")
        self.stats.inc_value("warc/bytes", len(exchange.response_head) + len(exchange.body))
        return response

    async def _store(self, exchange: Exchange, *, held: Held | None, discover: bool) -> Archived:
        """The archivist's answer, awaited on its thread; the warcinfo it writes for new
        files follows the delay in force (a robots.txt Crawl-delay may come later)."""
        from twisted.internet import reactor, threads

        info = None
        delay = self._delay()
        if delay != self._info_key:
            self._info_key = delay
            info = self._warcinfo()
        assert self.archivist is not None
        return await maybe_deferred_to_future(
            threads.deferToThreadPool(
                reactor, self.pool, self.archivist.store, exchange,
                held=held, discover=discover, info=info,
            )
        )

    def _delay(self) -> tuple:
        return (self.stats.get_value(DELAY_STAT), self.stats.get_value(DELAY_SOURCE_STAT))

    def _warcinfo(self) -> dict[str, str]:
        return warcinfo_fields(
            self.crawler.settings, self.spider, self.stats, self.login_user, self.login_method
        )

    def _stop_on_storage_error(self, exc: Exception) -> None:
        """Disk full, file too large, read-only, catalog unwritable: stop at once.

        What is written stays: the file being written keeps its .open name, and the next
        run recovers its complete records and ingests the crawl from the WARC files.
        """
        if self.storage_error:
            return  # a response awaited beside the one that failed first
        self.storage_error = f"cannot write the archive in {self.layout.root}: {describe(exc)}"
        self.stats.set_value("warc/storage_error", True)
        fail_crawl(self.crawler, self.storage_error, reason="storage_error")

    @guarded
    def spider_closed(self, spider: Spider, reason: str) -> None:
        """The crawl's summary record, the files closed, the crawl committed."""
        archivist, self.archivist = self.archivist, None
        if archivist is None:
            return
        try:
            if self.storage_error:
                # The archive is torn: the catalog stays as it was, and the next run
                # ingests whatever the recovery keeps.
                archivist.abort()
                return
            finished = archivist.finish(spider.crawl_summary(reason))
            if finished.archived:
                self.stats.set_value("warc/files", list(finished.files))
                self._published(finished)
        except (OSError, sqlite3.Error) as exc:
            # What is written stays; the next run ingests the crawl from its WARC files.
            record_failure(
                self.crawler,
                f"cannot write the archive in {self.layout.root}: {describe(exc)}",
            )
        except BaseException:
            archivist.abort()
            raise
        finally:
            archivist.close()
            self.pool.stop()
            # Reaped once the crawl is over (the tables are written meanwhile), so its
            # time and memory count as the crawl's.
            from twisted.internet import reactor

            reactor.addSystemEventTrigger("after", "shutdown", archivist.wait)

    def _published(self, finished: Finished) -> None:
        """What the archivist made of the tables after committing the crawl."""
        if finished.tables_error is not None:
            record_failure(
                self.crawler,
                "the crawl is archived, but its tables could not be written: "
                f"{describe(finished.tables_error)} (run `wikiarchive export` to write them)",
            )
            return
        self.stats.set_value(EXPORT_STAT, finished.tables)
        self.stats.set_value(TABLES_READY_STAT, finished.tables_ready_at)
        logger.info(finished.tables.render(self.layout.tables))


def exchange_of(
    request: Request, response: Response, raw: tuple[bytes, bytes], *, session: bool = False
) -> Exchange:
    """The exchange as it will be stored: credentials redacted (archive.redact) from the
    request always, and from the response's Set-Cookie when the crawl logs in (*session*:
    its cookies are the login's)."""
    sent, head = raw
    latency = request.meta.get("download_latency") or 0.0
    # "partial" is a body ended by closing the connection (no length): complete by HTTP/1.0
    # rules. "dataloss" is a body shorter than its Content-Length.
    truncated = "disconnect" if "dataloss" in response.flags else None
    sent, request_redacted = redact_message(sent, REQUEST_HEADERS)
    head, response_redacted = redact_message(head, SESSION_HEADERS if session else ())
    return Exchange(
        url=request.url,
        request=sent,
        response_head=dechunked_head(head, len(response.body)),
        body=response.body,
        started_at=utc_now() - timedelta(seconds=latency),
        ip_address=str(response.ip_address) if response.ip_address else None,
        truncated=truncated,
        request_redacted=request_redacted,
        response_redacted=response_redacted,
    )


def dechunked_head(head: bytes, body_length: int) -> bytes:
    """Make the stored header block match the stored (de-chunked) body.

    Twisted removes the chunked transfer coding before the body reaches us, so
    the original header is kept under ``X-Archive-Orig-`` (pywb's convention)
    and a Content-Length for the stored body is added.
    """
    lines = head.split(b"\r\n")
    if not any(_is_chunked_te(line) for line in lines):
        return head
    # A Content-Length sent beside chunked coding was ignored (RFC 9112 6.3) and
    # does not describe the stored body: it is kept under the prefix as well.
    for i, line in enumerate(lines):
        if _is_chunked_te(line) or _header_name(line) == b"content-length":
            lines[i] = b"X-Archive-Orig-" + line
    lines.insert(len(lines) - 2, b"Content-Length: %d" % body_length)
    return b"\r\n".join(lines)


def _header_name(line: bytes) -> bytes:
    if line[:1] in (b" ", b"\t"):
        return b""  # continuation of the previous header line
    return line.partition(b":")[0].strip().lower()


def _is_chunked_te(line: bytes) -> bool:
    name, _, value = line.partition(b":")
    return name.strip().lower() == b"transfer-encoding" and b"chunked" in value.lower()


def warcinfo_fields(
    settings: Any,
    spider: Spider,
    stats: Any = None,
    login_user: str | None = None,
    login_method: str | None = None,
) -> dict[str, str]:
    delay = stats.get_value(DELAY_STAT) if stats else None
    if delay is None:
        delay = settings.getfloat("DOWNLOAD_DELAY")
    source = (stats.get_value(DELAY_SOURCE_STAT) if stats else None) or "DOWNLOAD_DELAY"
    fields = {
        "software": (
            f"wikiarchive/{version('wikiarchive')} (Scrapy/{scrapy.__version__}; "
            f"warcio/{version('warcio')})"
        ),
        "format": "WARC File Format 1.1",
        "conformsTo": "https://iipc.github.io/warc-specifications/specifications/warc-format/warc-1.1/",
        "isPartOf": spider.crawl_id,
        "wikiarchive-crawl-id": spider.crawl_id,
        "wikiarchive-site": spider.site,
        "wikiarchive-mode": spider.mode,
        "wikiarchive-started-at": spider.started_at.isoformat(),
        "http-header-user-agent": settings.get("USER_AGENT"),
        "robots": "obey" if settings.getbool("ROBOTSTXT_OBEY") else "ignore",
        "wikiarchive-delay": f"{delay} s ({source})",
        "wikiarchive-settings": json.dumps(
            {name: settings.get(name) for name in SETTINGS_IN_WARCINFO}, sort_keys=True
        ),
        "wikiarchive-redacted": redaction_note(login_user is not None),
    }
    if login_user:
        # Which account read the pages (a rebuild judges access by it); never its password.
        fields["wikiarchive-login-user"] = login_user
        fields["wikiarchive-login-method"] = login_method or ""
    return fields


def redaction_note(session: bool) -> str:
    """What the records of a crawl had redacted, for its warcinfo."""
    note = (
        "values of the request headers Authorization, Proxy-Authorization and Cookie "
        "replaced by REDACTED"
    )
    if session:
        note += (
            "; cookie values of the response headers Set-Cookie replaced by REDACTED "
            "(the crawl logged in; its login exchange is not archived)"
        )
    return note + "; each such record names them in WikiArchive-Redacted"


SETTINGS_IN_WARCINFO = (
    "CONCURRENT_REQUESTS",
    "CONCURRENT_REQUESTS_PER_DOMAIN",
    "DOWNLOAD_DELAY",
    "AUTOTHROTTLE_ENABLED",
    "ROBOTSTXT_OBEY",
    "WARC_MAX_SIZE",
    "WIKI_DATE_FORMAT",
    "WIKI_DISCOVERY",
    "WIKI_MAX_PAGES",
    "WIKI_HISTORY",
    "WIKI_SOURCE",
    "WIKI_REQUISITES",
    "WIKI_MEDIA",
    "WIKI_MEDIA_MAX_SIZE",
)

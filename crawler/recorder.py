"""Downloader middleware that archives every HTTP exchange into WARC files and the catalog.

It sits next to the downloader (priority 950, beside HttpCacheMiddleware at 900)
so it sees each response before decompression, redirects and retries: bodies
as received, 3xx and error responses included. Each response is written, then handed
to the catalog's ingest (archive.ingest) as the record a rebuild would read back, so
the per-page work is done as pages arrive and the crawl is in the catalog when it ends.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from datetime import timedelta
from importlib.metadata import version
from io import BytesIO
from pathlib import Path
from typing import Any

import scrapy
from scrapy import Request, Spider, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import IgnoreRequest, NotConfigured
from scrapy.http import Response
from warcio.timeutils import iso_date_to_datetime

from archive.catalog import Catalog
from archive.ingest import CrawlIngest
from archive.layout import Layout
from archive.media import Held
from archive.reader import ArchivedResponse, decoded_payload, http_fields, parse_http_head
from archive.redact import REQUEST_HEADERS, SESSION_HEADERS, redact_message
from archive.writer import Exchange, RotatingWarcWriter, Stored, utc_now
from crawler.access import Denial
from crawler.crawldelay import DELAY_SOURCE_STAT, DELAY_STAT
from crawler.handler import RAW_META_KEY
from crawler.lifecycle import INGESTED_STAT
from crawler.login import LOGIN_META_KEY
from crawler.outcome import describe, fail_crawl, fatal_message, guarded, record_failure

logger = logging.getLogger(__name__)

LOCATION_META_KEY = "warc_location"
PAGE_META_KEY = "wiki_page"  # the parsed article, so the spider need not parse it again
DENIAL_META_KEY = "wiki_denial"  # the article was DokuWiki's Permission Denied answer
# What a response loads and links on the wiki (FOUND): an article's from the ingest's one
# parse, a stylesheet's or detail page's when the spider asks (DISCOVER). HELD is the
# capture a conditional request's validators came from, which a 304 confirms.
DISCOVER_META_KEY = "wiki_discover"
FOUND_META_KEY = "wiki_found"
HELD_META_KEY = "wiki_held"


class WarcRecorderMiddleware:
    """Writes each exchange to the WARC files and hands the response to the catalog's
    ingest at once, so the crawl's pages are parsed and recorded as they arrive."""

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
    ):
        self.crawler = crawler
        self.stats = crawler.stats
        self.layout = layout
        self.prefix = prefix
        self.max_size = max_size
        self.date_format = date_format
        self.login_user = login_user
        self.login_method = login_method if login_user else None
        self.writer: RotatingWarcWriter | None = None
        self.catalog: Catalog | None = None
        self.ingest: CrawlIngest | None = None
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
        )
        crawler.signals.connect(mw.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(mw.spider_closed, signal=signals.spider_closed)
        return mw

    @guarded
    def spider_opened(self, spider: Spider) -> None:
        if fatal_message(self.crawler) is not None:
            return  # refused before it began (busy folder, bad settings): write nothing
        self.site = spider.site
        # The warcinfo names the site and crawl id, which the spider knows.
        self.writer = RotatingWarcWriter(
            self.layout.warc,
            prefix=self.prefix,
            info=lambda: warcinfo_fields(
                self.crawler.settings, spider, self.stats, self.login_user, self.login_method
            ),
            max_size=self.max_size,
        )
        try:
            self.catalog = Catalog(self.layout.catalog)
            self.ingest = self._begin_ingest(spider)
        except (OSError, sqlite3.Error) as exc:
            if self.catalog is not None:
                self.catalog.close()
                self.catalog = None
            self._stop_on_storage_error(exc)

    def _begin_ingest(self, spider: Spider) -> CrawlIngest:
        return CrawlIngest(
            self.catalog,
            self.layout.warc,
            crawl_id=spider.crawl_id,
            site=spider.site,
            mode=spider.mode,
            started_at=spider.started_at.isoformat(),
            date_format=self.date_format,
            login=self.login_user,
            login_method=self.login_method,
        )

    def process_response(self, request: Request, response: Response, spider: Spider = None):
        raw = request.meta.pop(RAW_META_KEY, None)
        if self.writer is None or self.ingest is None:
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
            earlier = confirmed(held) if held else self._earlier(exchange)
            stored = self.writer.write_exchange(
                exchange, refers_to=earlier, not_modified=held.digest if held else None
            )
            parsed = self.ingest.add(
                archived_response(exchange, stored, earlier, self.site, self.ingest.crawl_id,
                                  digest=held.digest if held else None)
            )
            found = self.ingest.take_found(parse=bool(request.meta.get(DISCOVER_META_KEY)))
        except (OSError, sqlite3.Error) as exc:
            self._stop_on_storage_error(exc)
            raise IgnoreRequest(f"not archived: {exc}") from exc
        if isinstance(parsed, Denial):
            request.meta[DENIAL_META_KEY] = parsed
        elif parsed is not None:  # an article, or a revision list
            request.meta[PAGE_META_KEY] = parsed
        if found:
            request.meta[FOUND_META_KEY] = found
        if exchange.request_redacted or exchange.response_redacted:
            self.stats.inc_value("warc/redacted")
        request.meta[LOCATION_META_KEY] = stored
        self.stats.inc_value("warc/records", 2)
        self.stats.inc_value("warc/exchanges")
        self.stats.inc_value("warc/revisits" if earlier else "warc/responses")
        self.stats.inc_value("warc/bytes", len(exchange.response_head) + len(exchange.body))
        return response

    def _earlier(self, exchange: Exchange) -> Stored | None:
        """The first capture of the same payload, which a revisit record refers to."""
        if not exchange.body:
            return None
        row = self.catalog.payload(exchange.payload_digest)
        if row is None:
            return None
        return Stored(
            row["warc_filename"], row["warc_offset"], row["record_id"], row["date"], row["uri"],
            False,
        )

    def _stop_on_storage_error(self, exc: Exception) -> None:
        """Disk full, file too large, read-only, catalog unwritable: stop at once.

        What is written stays: the file being written keeps its .open name, and the next
        run recovers its complete records and ingests the crawl from the WARC files.
        """
        self.storage_error = f"cannot write the archive in {self.layout.root}: {describe(exc)}"
        self.stats.set_value("warc/storage_error", True)
        fail_crawl(self.crawler, self.storage_error, reason="storage_error")

    @guarded
    def spider_closed(self, spider: Spider, reason: str) -> None:
        """The crawl's summary record, the files closed, the crawl committed."""
        if self.ingest is None or self.writer is None or self.catalog is None:
            return
        ingest, self.ingest = self.ingest, None
        try:
            if self.storage_error or not self.writer.exchanges:
                # Nothing archived, or the archive is torn: the catalog stays as it was,
                # and the next run ingests whatever the recovery keeps.
                ingest.abort()
                return
            summary = spider.crawl_summary(reason)
            self.writer.write_metadata(spider.crawl_id, summary)
            self.writer.close()
            self.stats.set_value("warc/files", [p.name for p in self.writer.closed_files])
            ingest.finish(summary, [p.name for p in self.writer.closed_files])
            self.stats.set_value(INGESTED_STAT, True)
        except (OSError, sqlite3.Error) as exc:
            ingest.abort()
            # What is written stays; the next run ingests the crawl from its WARC files.
            record_failure(
                self.crawler,
                f"cannot write the archive in {self.layout.root}: {describe(exc)}",
            )
        except BaseException:
            ingest.abort()
            raise
        finally:
            self.catalog.close()


def confirmed(held: Held) -> Stored:
    """The capture a 304 confirms, as the revisit record refers to it."""
    return Stored(held.warc_filename, held.warc_offset, held.record_id, held.record_date,
                  held.record_uri, False)


def archived_response(
    exchange: Exchange,
    stored: Stored,
    earlier: Stored | None,
    site: str,
    crawl_id: str,
    *,
    digest: str | None = None,
) -> ArchivedResponse:
    """The response as a rebuild will read it back from the record just written (a 304
    revisit carries the payload digest of the capture it confirms, *digest*)."""
    http = stored.http or parse_http_head(exchange.response_head)
    return ArchivedResponse(
        url=exchange.url,
        date=iso_date_to_datetime(stored.date, tz_aware=True),
        filename=stored.filename,
        offset=stored.offset,
        crawl_id=crawl_id,
        site=site,
        rec_type="revisit" if stored.revisit else "response",
        payload_digest=digest or exchange.payload_digest,
        record_id=stored.record_id,
        refers_to=earlier.record_id if earlier else None,
        truncated=exchange.truncated,
        body=decoded_payload(http, BytesIO(exchange.body)),
        **http_fields(http),
    )


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

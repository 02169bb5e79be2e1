"""Downloader middleware that archives every HTTP exchange into WARC files.

It sits next to the downloader (priority 950, beside HttpCacheMiddleware at 900)
so it sees each response before decompression, redirects and retries: bodies
as received, 3xx and error responses included.
"""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from importlib.metadata import version
from pathlib import Path
from typing import Any

import scrapy
from scrapy import Request, Spider, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import IgnoreRequest, NotConfigured
from scrapy.http import Response
from scrapy.utils.defer import deferred_from_coro

from archive.catalog import CATALOG_NAME, Catalog
from archive.writer import Capture, Exchange, RotatingWarcWriter, utc_now
from crawler.handler import RAW_META_KEY

logger = logging.getLogger(__name__)

LOCATION_META_KEY = "warc_location"


class WarcRecorderMiddleware:
    def __init__(self, crawler: Crawler, directory: Path):
        self.crawler = crawler
        self.stats = crawler.stats
        self.directory = directory
        self.writer: RotatingWarcWriter | None = None
        self.storage_error: str | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> WarcRecorderMiddleware:
        settings = crawler.settings
        if not settings.getbool("WARC_ENABLED"):
            raise NotConfigured
        directory = settings.get("WARC_DIR") or Path(settings.get("WIKI_OUT_DIR"), "warc")
        mw = cls(crawler, Path(directory))
        crawler.signals.connect(mw.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(mw.spider_closed, signal=signals.spider_closed)
        return mw

    def spider_opened(self, spider: Spider) -> None:
        catalog = Path(self.crawler.settings.get("WIKI_OUT_DIR"), CATALOG_NAME)
        self.payloads = PayloadIndex(catalog if catalog.exists() else None)
        # The warcinfo names the site and crawl id, which the spider knows.
        settings = self.crawler.settings
        self.writer = RotatingWarcWriter(
            self.directory,
            prefix=settings.get("WARC_PREFIX"),
            info=warcinfo_fields(settings, spider),
            max_size=settings.getint("WARC_MAX_SIZE"),
        )

    def process_response(self, request: Request, response: Response, spider: Spider = None):
        raw = request.meta.pop(RAW_META_KEY, None)
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
        exchange = exchange_of(request, response, raw)
        digest = exchange.payload_digest if exchange.body else None
        earlier = self.payloads.get(digest) if digest else None
        try:
            capture = self.writer.write_exchange(exchange, refers_to=earlier)
        except OSError as exc:
            self._stop_on_storage_error(exc)
            raise IgnoreRequest(f"not archived: {exc}") from exc
        if digest and earlier is None:
            self.payloads.remember(digest, capture)
        request.meta[LOCATION_META_KEY] = capture
        self.stats.inc_value("warc/records", 2)
        self.stats.inc_value("warc/exchanges")
        self.stats.inc_value("warc/revisits" if earlier else "warc/responses")
        self.stats.inc_value("warc/bytes", len(exchange.response_head) + len(exchange.body))
        return response

    def _stop_on_storage_error(self, exc: OSError) -> None:
        """Disk full, file too large, read-only: stop at once; what is written stays.

        The file being written keeps its .open name; the next run recovers its
        complete records and cuts the torn one.
        """
        self.storage_error = f"cannot write the archive in {self.directory}: {exc.strerror or exc}"
        logger.error(self.storage_error)
        self.stats.set_value("wiki/fatal", self.storage_error)
        deferred_from_coro(self.crawler.engine.close_spider_async(reason="storage_error"))

    def spider_closed(self, spider: Spider, reason: str) -> None:
        if self.storage_error:
            self.payloads.close()
            return
        summary = getattr(spider, "crawl_summary", None)
        try:
            if summary is not None:
                self.writer.write_metadata(spider.crawl_id, summary(reason))
            self.writer.close()
        except OSError as exc:
            self._stop_on_storage_error(exc)
            self.payloads.close()
            return
        self.payloads.close()
        self.stats.set_value("warc/files", [p.name for p in self.writer.closed_files])


def exchange_of(request: Request, response: Response, raw: tuple[bytes, bytes]) -> Exchange:
    sent, head = raw
    latency = request.meta.get("download_latency") or 0.0
    # "partial" is a body ended by closing the connection (no length): complete by HTTP/1.0
    # rules. "dataloss" is a body shorter than its Content-Length.
    truncated = "disconnect" if "dataloss" in response.flags else None
    return Exchange(
        url=request.url,
        request=sent,
        response_head=dechunked_head(head, len(response.body)),
        body=response.body,
        started_at=utc_now() - timedelta(seconds=latency),
        ip_address=str(response.ip_address) if response.ip_address else None,
        truncated=truncated,
    )


class PayloadIndex:
    """Payloads archived before, so an identical one becomes a revisit record.

    Earlier crawls are looked up in the catalog; this crawl's are kept in memory.
    """

    def __init__(self, catalog_path: Path | None):
        self.catalog = Catalog(catalog_path, readonly=True) if catalog_path else None
        self.seen: dict[str, Capture] = {}

    def get(self, digest: str) -> Capture | None:
        if digest in self.seen:
            return self.seen[digest]
        row = self.catalog.payload(digest) if self.catalog else None
        if row is None:
            return None
        return Capture(
            row["warc_filename"], row["warc_offset"], row["record_id"], row["date"], row["uri"],
            False,
        )

    def remember(self, digest: str, capture: Capture) -> None:
        self.seen[digest] = capture

    def close(self) -> None:
        if self.catalog:
            self.catalog.close()


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


def warcinfo_fields(settings: Any, spider: Spider) -> dict[str, str]:
    return {
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
        "wikiarchive-settings": json.dumps(
            {name: settings.get(name) for name in SETTINGS_IN_WARCINFO}, sort_keys=True
        ),
    }


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
)

"""Rotating, gzip-compressed WARC files built with warcio.

A file being written is named ``*.warc.gz.open`` and renamed when closed, so an
interrupted crawl never leaves a file that looks complete. Every file starts with
a ``warcinfo`` record; a request and its response always land in the same file. Given
an indexer (archive.index.FileIndexer), each file is indexed as it is written.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from io import BytesIO
from pathlib import Path
from typing import Any, BinaryIO

from warcio.statusandheaders import StatusAndHeaders, StatusAndHeadersParser
from warcio.timeutils import datetime_to_iso_date
from warcio.warcwriter import WARCWriter
from zlib_ng import zlib_ng

logger = logging.getLogger(__name__)

OPEN_SUFFIX = ".open"
WARC_SUFFIX = ".warc.gz"
METADATA_URI_PREFIX = "urn:wikiarchive:crawl:"
# Names the headers of a record's HTTP message whose values were replaced (archive.redact).
REDACTED_FIELD = "WikiArchive-Redacted"
NOT_MODIFIED_PROFILE = "http://netpreserve.org/warc/1.1/revisit/server-not-modified"


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)  # no slots: the payload digest is kept once worked out
class Exchange:
    """One HTTP exchange as it went over the wire."""

    url: str
    request: bytes  # request line, headers and body as sent
    response_head: bytes  # status line and header lines as received, blank line included
    body: bytes  # the body as received (transfer coding removed, content coding kept)
    started_at: datetime
    ip_address: str | None = None
    truncated: str | None = None  # WARC-Truncated reason, e.g. "disconnect"
    # Headers whose values were redacted (archive.redact), named in each record.
    request_redacted: tuple[str, ...] = ()
    response_redacted: tuple[str, ...] = ()

    @cached_property  # asked for by the revisit lookup, the record and the ingest
    def payload_digest(self) -> str:
        return payload_digest(self.body)


@dataclass(frozen=True, slots=True)
class Location:
    filename: str  # final name, without the .open suffix
    offset: int


@dataclass(frozen=True, slots=True)
class Stored:
    """Where a response (or revisit) record went, and what a later revisit refers to."""

    filename: str
    offset: int
    record_id: str
    date: str  # WARC-Date
    uri: str
    revisit: bool
    http: StatusAndHeaders | None = None  # the response head as parsed, when just written


def payload_digest(body: bytes) -> str:
    """WARC-Payload-Digest as warcio writes it: base32 SHA-1."""
    return "sha1:" + base64.b32encode(hashlib.sha1(body).digest()).decode("ascii")


def new_record_id() -> str:
    return f"<urn:uuid:{uuid.uuid4()}>"


class GzipMembers:
    """A file-like wrapper that compresses each record into a gzip member of its own.

    warcio's writer flushes its output at the end of every record; that flush ends the
    member. zlib-ng at level 3, not warcio's zlib at 9: a crawl's records in 0.4x the time
    of zlib at 6 for 4% more bytes; level 6 took 0.6x, the biggest single cost of storing
    a page after its parse, and below 3 the bytes grow fast (benchmarks/RESULTS-gzip.md).
    """

    def __init__(self, out: BinaryIO, level: int = 3):
        self.out = out
        self.level = level
        self._compressor = self._new()

    def _new(self):
        return zlib_ng.compressobj(self.level, zlib_ng.DEFLATED, zlib_ng.MAX_WBITS + 16)

    def write(self, data: bytes) -> None:
        self.out.write(self._compressor.compress(data))

    def flush(self) -> None:
        self.out.write(self._compressor.flush())
        self.out.flush()
        self._compressor = self._new()


class RecordWriter:
    """Builds and writes WARC records through warcio's public writer.

    The clock and the record ids sit behind a seam, so tests can compare output byte
    for byte; every record names its own WARC-Date and WARC-Record-ID.
    """

    def __init__(
        self,
        out: BinaryIO,
        *,
        clock: Callable[[], datetime] = utc_now,
        make_id: Callable[[], str] = new_record_id,
    ):
        self.warc = WARCWriter(GzipMembers(out), gzip=False, warc_version="1.1")
        self.clock = clock
        self.make_id = make_id

    def warc_date(self, when: datetime | None = None) -> str:
        when = (when or self.clock()).astimezone(UTC).replace(tzinfo=None)
        return datetime_to_iso_date(when, use_micros=True)

    def headers(self, date: str | None = None, **extra: str | None) -> dict[str, str]:
        """WARC headers of a new record: its id, its date, and the extra ones given."""
        headers = {"WARC-Record-ID": self.make_id(), "WARC-Date": date or self.warc_date()}
        headers.update({k.replace("_", "-"): v for k, v in extra.items() if v})
        return headers

    def warcinfo(self, filename: str, info: dict[str, str]):
        record = self.warc.create_warcinfo_record(filename, info)
        for name, value in self.headers().items():
            record.rec_headers.replace_header(name, value)
        return record

    def write(self, record) -> None:
        self.warc.write_record(record)


class RotatingWarcWriter:
    """Writes exchanges into ``DIR/PREFIX-TIMESTAMP-SERIAL.warc.gz`` files."""

    def __init__(
        self,
        directory: Path,
        *,
        prefix: str,
        info: dict[str, str] | Callable[[], dict[str, str]],
        max_size: int = 1_000_000_000,
        clock: Callable[[], datetime] = utc_now,
        make_id: Callable[[], str] = new_record_id,
        indexer: Callable[[str], Any] | None = None,
    ):
        self.directory = Path(directory)
        # Makes the indexer of a new file, given its final name: ``add(record, offset,
        # length)`` for each record written, ``close(size)`` once the file is closed,
        # ``discard()`` when it failed.
        self.indexer = indexer
        self.prefix = prefix
        self.info = info
        self.max_size = max_size
        self._clock = clock
        self._make_id = make_id
        self._serial = 0
        self._file: BinaryIO | None = None
        self._path: Path | None = None
        self._writer: RecordWriter | None = None
        self._index: Any = None
        self.closed_files: list[Path] = []
        self.exchanges = 0

    def write_exchange(
        self,
        exchange: Exchange,
        refers_to: Stored | None = None,
        *,
        not_modified: str | None = None,
    ) -> Stored:
        """A response record (a revisit when ``refers_to`` holds the same payload), then
        its request record, in the same file.

        With ``not_modified`` (the payload digest of the capture ``refers_to``, which a 304
        answer to a conditional request confirms) the revisit has the server-not-modified
        profile (WARC 1.1 6.7.2) and holds the 304 head as received.
        """
        writer, out = self._current()
        warc = writer.warc
        date = writer.warc_date(exchange.started_at)
        extra = {
            "WARC_IP_Address": exchange.ip_address,
            "WARC_Truncated": exchange.truncated,
            **_redaction_note(exchange.response_redacted),
        }
        # The heads are given to warcio as sent, so it neither parses nor rewrites them;
        # the response's is parsed once, for whoever reads the exchange next.
        http = verbatim_head(exchange.response_head)
        if refers_to is None:
            response = warc.create_warc_record(
                exchange.url,
                "response",
                payload=BytesIO(exchange.body),
                length=len(exchange.body),
                http_headers=http,
                warc_headers_dict=writer.headers(
                    date, **extra, WARC_Payload_Digest=exchange.payload_digest
                ),
            )
        else:
            response = warc.create_revisit_record(
                exchange.url,
                not_modified or exchange.payload_digest,
                refers_to.uri,
                refers_to.date,
                http_headers=http,
                warc_headers_dict=writer.headers(
                    date, **extra, WARC_Refers_To=refers_to.record_id
                ),
            )
            if not_modified:
                response.rec_headers.replace_header("WARC-Profile", NOT_MODIFIED_PROFILE)
        record_id = response.rec_headers.get_header("WARC-Record-ID")
        head, body = _split_head(exchange.request)
        request = warc.create_warc_record(
            exchange.url,
            "request",
            payload=BytesIO(body),
            length=len(body),
            http_headers=_as_sent(head),
            warc_headers_dict=writer.headers(
                date, WARC_Concurrent_To=record_id, **_redaction_note(exchange.request_redacted)
            ),
        )
        offset = out.tell()
        self._write(response)
        self._write(request)
        self.exchanges += 1
        stored = Stored(
            self._final_name(), offset, record_id, date, exchange.url, refers_to is not None,
            http,
        )
        if out.tell() >= self.max_size:
            self.close()
        return stored

    def write_metadata(self, crawl_id: str, fields: dict) -> Location:
        """A JSON metadata record, e.g. the crawl summary written at the end of a crawl."""
        writer, out = self._current()
        payload = json.dumps(fields, sort_keys=True, ensure_ascii=False).encode()
        record = writer.warc.create_warc_record(
            METADATA_URI_PREFIX + crawl_id,
            "metadata",
            payload=BytesIO(payload),
            length=len(payload),
            warc_content_type="application/json",
            warc_headers_dict=writer.headers(),
        )
        offset = out.tell()
        self._write(record)
        return Location(self._final_name(), offset)

    def close(self) -> None:
        if self._file is None:
            return
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        assert self._path is not None
        final = self._path.with_name(self._final_name())
        os.replace(self._path, final)
        self.closed_files.append(final)
        self._file = self._path = self._writer = None
        index, self._index = self._index, None
        if index is not None:
            try:
                index.close(final.stat().st_size)
            except OSError as exc:  # the next index update reads the file instead
                logger.warning("Could not write the index part of %s: %s", final.name, exc)

    def _write(self, record) -> None:
        """Write *record* to the open file, and index it at the bytes it took there."""
        assert self._writer is not None and self._file is not None
        offset = self._file.tell()
        self._writer.write(record)
        if self._index is not None:
            try:
                self._index.add(record, offset, self._file.tell() - offset)
            except Exception:  # noqa: BLE001 - an aid only: the record is written
                logger.warning("Could not index %s as it was written; it will be read back",
                               self._final_name(), exc_info=True)
                self._index.discard()
                self._index = None

    def _current(self) -> tuple[RecordWriter, BinaryIO]:
        if self._file is None:
            self._open()
        assert self._writer is not None and self._file is not None
        return self._writer, self._file

    def _open(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        stamp = self._clock().astimezone(UTC).strftime("%Y%m%d%H%M%S%f")[:17]
        name = f"{self.prefix}-{stamp}-{self._serial:05d}{WARC_SUFFIX}"
        self._serial += 1
        self._path = self.directory / (name + OPEN_SUFFIX)
        # "x": never overwrite an existing archive file
        self._file = open(self._path, "xb")  # noqa: SIM115
        self._writer = RecordWriter(self._file, clock=self._clock, make_id=self._make_id)
        if self.indexer is not None:
            self._index = self.indexer(name)
        # Fields that are learnt during the crawl (the delay robots.txt asks for) are
        # read when each file opens.
        info = self.info() if callable(self.info) else self.info
        self._writer.write(self._writer.warcinfo(name, info))

    def _final_name(self) -> str:
        assert self._path is not None
        return self._path.name.removesuffix(OPEN_SUFFIX)


def _redaction_note(names: tuple[str, ...]) -> dict[str, str]:
    return {REDACTED_FIELD.replace("-", "_"): ", ".join(names)} if names else {}


class _VerbatimHead(StatusAndHeaders):
    """HTTP head that warcio writes back as the bytes it was parsed from.

    warcio re-serialises parsed headers (``Name: value``, folded lines joined,
    non-ASCII bytes percent-encoded); an archive keeps them as received.
    """

    def compute_headers_buffer(self, header_filter=None) -> None:
        pass  # headers_buff already holds the head as received


def verbatim_head(head: bytes) -> StatusAndHeaders:
    """An HTTP response head parsed as warcio parses it, written back as received."""
    parsed = StatusAndHeadersParser(["HTTP/1.0", "HTTP/1.1"], verify=False).parse(BytesIO(head))
    verbatim = _VerbatimHead(parsed.statusline, parsed.headers, parsed.protocol, len(head))
    verbatim.headers_buff = head
    return verbatim


def _as_sent(head: bytes) -> StatusAndHeaders:
    """A request head kept as the bytes sent; writing reads none of its parts (warcio
    only asks whether it has a status line)."""
    line = head.split(b"\r\n", 1)[0].decode("iso-8859-1")
    verbatim = _VerbatimHead(line, [], "", len(head))
    verbatim.headers_buff = head
    return verbatim


def _split_head(message: bytes) -> tuple[bytes, bytes]:
    """(head up to its blank line, body) of an HTTP message as sent."""
    end = message.find(b"\r\n\r\n")
    if end < 0:
        return message, b""
    return message[: end + 4], message[end + 4 :]


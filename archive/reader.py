"""Read responses back from WARC files: the input of every rebuild.

One record type, :class:`ArchivedResponse`, is what both ways into the catalog hand
to the ingest: the recorder as it writes (crawler.recorder) and a rebuild as it
reads the WARC files (here). Both decode the payload with the same function, so a
rebuild gives what the crawl recorded.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from io import BytesIO
from pathlib import Path
from typing import BinaryIO

from warcio.archiveiterator import ArchiveIterator
from warcio.bufferedreaders import BufferedReader, ChunkedDataReader
from warcio.exceptions import ArchiveLoadFailed
from warcio.recordloader import ArcWarcRecord
from warcio.statusandheaders import StatusAndHeaders, StatusAndHeadersParser
from warcio.timeutils import iso_date_to_datetime

from archive.writer import METADATA_URI_PREFIX, WARC_SUFFIX


@dataclass(frozen=True, slots=True)
class ArchivedResponse:
    """A response or revisit record: what it says about itself, where it is, and its
    decoded payload when asked for (a revisit's payload is in the record it refers to)."""

    url: str
    date: datetime  # WARC-Date, UTC, timezone-aware
    status: int
    content_type: str
    filename: str
    offset: int
    crawl_id: str | None
    site: str | None
    rec_type: str = "response"  # or "revisit"
    payload_digest: str | None = None
    record_id: str | None = None
    refers_to: str | None = None  # WARC-Refers-To of a revisit
    last_modified: str | None = None  # the HTTP validators, as sent
    etag: str | None = None
    truncated: str | None = None  # WARC-Truncated: the body is not the whole answer
    body: bytes | None = None


class ArchiveError(Exception):
    """A WARC file that cannot be read, or a record that is not what it should be."""


def warc_files(directory: Path) -> list[Path]:
    """Closed WARC files in name order."""
    return sorted(Path(directory).glob("*" + WARC_SUFFIX))


def parse_http_head(head: bytes) -> StatusAndHeaders:
    """The HTTP status line and headers of a stored head, parsed as warcio parses them."""
    return StatusAndHeadersParser(["HTTP/1.0", "HTTP/1.1"], verify=False).parse(BytesIO(head))


def decoded_payload(http: StatusAndHeaders | None, raw: BinaryIO) -> bytes:
    """The payload with its transfer and content coding removed, as warcio's
    ``content_stream()`` removes them (unknown codings are left as they are)."""
    if http is None:
        return raw.read()
    encoding = (http.get_header("content-encoding") or "").lower() or None
    if encoding not in BufferedReader.get_supported_decompressors():
        encoding = None
    if http.get_header("transfer-encoding") == "chunked":
        return ChunkedDataReader(raw, decomp_type=encoding).read()
    if encoding:
        return BufferedReader(raw, decomp_type=encoding).read()
    return raw.read()


def http_fields(http: StatusAndHeaders | None) -> dict:
    """What a response record says of itself in its HTTP head."""
    if http is None:
        return {"status": 0, "content_type": "", "last_modified": None, "etag": None}
    return {
        "status": int(http.get_statuscode() or 0),
        "content_type": http.get_header("Content-Type") or "",
        "last_modified": http.get_header("Last-Modified"),
        "etag": http.get_header("ETag"),
    }


def iter_warc_records(path: Path) -> Iterator[tuple[ArchiveIterator, ArcWarcRecord]]:
    """(iterator, record) pairs of one file; a file that is no WARC raises ArchiveError."""
    try:
        with open(path, "rb") as stream:
            records = ArchiveIterator(stream)
            for record in records:
                if record.format != "warc" or not record.rec_headers.get_header("WARC-Date"):
                    raise ArchiveError(f"{path.name}: not a WARC file")
                yield records, record
    except (ArchiveLoadFailed, OSError, EOFError, ValueError, zlib.error) as exc:
        raise ArchiveError(f"{path.name}: unreadable WARC file ({exc})") from exc


def iter_file_records(
    path: Path, want_body: Callable[[ArchivedResponse], bool] = lambda ref: False
) -> Iterator[ArchivedResponse | dict]:
    """One pass over a file: each response or revisit as an ArchivedResponse (with its
    decoded payload when ``want_body`` says so, read while the record is at hand), and
    the crawl summary as a dict."""
    info: dict[str, str] = {}
    for records, record in iter_warc_records(path):
        headers = record.rec_headers
        if record.rec_type == "warcinfo":
            info = _warc_fields(record.content_stream().read())
        elif record.rec_type in ("response", "revisit"):
            ref = ArchivedResponse(
                url=headers.get_header("WARC-Target-URI"),
                date=_warc_date(record),
                filename=path.name,
                offset=-1,  # known once the record is read through
                crawl_id=info.get("wikiarchive-crawl-id"),
                site=info.get("wikiarchive-site"),
                rec_type=record.rec_type,
                payload_digest=headers.get_header("WARC-Payload-Digest"),
                record_id=headers.get_header("WARC-Record-ID"),
                refers_to=headers.get_header("WARC-Refers-To"),
                truncated=headers.get_header("WARC-Truncated"),
                **http_fields(record.http_headers),
            )
            body = None
            if record.rec_type == "response" and want_body(ref):
                # before the offset: asking for it reads the record to its end
                body = decoded_payload(record.http_headers, record.raw_stream)
            yield replace(ref, offset=records.get_record_offset(), body=body)
        elif record.rec_type == "metadata":
            if (headers.get_header("WARC-Target-URI") or "").startswith(METADATA_URI_PREFIX):
                yield json.loads(record.content_stream().read())


def read_warcinfo(path: Path) -> dict[str, str]:
    """The fields of a file's warcinfo record, always its first."""
    for _, record in iter_warc_records(path):
        if record.rec_type == "warcinfo":
            return _warc_fields(record.content_stream().read())
        break
    raise ArchiveError(f"{path.name}: no warcinfo record first")


def crawl_files(warc_dir: Path) -> dict[str, list[Path]]:
    """Closed WARC files by crawl id: crawls in the order they started (as their
    warcinfo records say, whatever the files are called), each crawl's files in the
    order it wrote them."""
    crawls: dict[str, tuple[str, list[Path]]] = {}
    for path in warc_files(warc_dir):
        info = read_warcinfo(path)
        crawl_id = info.get("wikiarchive-crawl-id")
        if crawl_id:
            started = info.get("wikiarchive-started-at") or ""
            crawls.setdefault(crawl_id, (started, []))[1].append(path)
    ordered = sorted(crawls.items(), key=lambda item: (_instant(item[1][0]), item[0]))
    return {crawl_id: files for crawl_id, (_, files) in ordered}


def read_response(warc_dir: Path, filename: str, offset: int) -> ArchivedResponse:
    """The response record at a (filename, offset) locator, with its decoded payload."""
    path = Path(warc_dir) / filename
    try:
        with open(path, "rb") as stream:
            stream.seek(offset)
            record = next(iter(ArchiveIterator(stream)))
            if record.rec_type != "response":
                raise ArchiveError(f"{filename}@{offset} is a {record.rec_type} record")
            headers = record.rec_headers
            return ArchivedResponse(
                url=headers.get_header("WARC-Target-URI"),
                date=_warc_date(record),
                filename=filename,
                offset=offset,
                crawl_id=None,
                site=None,
                payload_digest=headers.get_header("WARC-Payload-Digest"),
                record_id=headers.get_header("WARC-Record-ID"),
                truncated=headers.get_header("WARC-Truncated"),
                body=decoded_payload(record.http_headers, record.raw_stream),
                **http_fields(record.http_headers),
            )
    except (ArchiveLoadFailed, OSError, EOFError, ValueError, zlib.error, StopIteration) as exc:
        raise ArchiveError(f"{filename}@{offset}: unreadable record ({exc})") from exc


def _instant(text: str) -> datetime:
    """A recorded start time; one that cannot be read sorts first."""
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        return datetime.min.replace(tzinfo=UTC)
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _warc_date(record: ArcWarcRecord) -> datetime:
    return iso_date_to_datetime(record.rec_headers.get_header("WARC-Date"), tz_aware=True)


def _warc_fields(payload: bytes) -> dict[str, str]:
    fields = {}
    for line in payload.decode("utf-8", "replace").splitlines():
        name, sep, value = line.partition(":")
        if sep:
            fields[name.strip()] = value.strip()
    return fields

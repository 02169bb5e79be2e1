"""Read captures back from WARC files: the input of every export."""

from __future__ import annotations

import json
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

from warcio.archiveiterator import ArchiveIterator
from warcio.exceptions import ArchiveLoadFailed
from warcio.recordloader import ArcWarcRecord
from warcio.timeutils import iso_date_to_datetime

from archive.writer import METADATA_URI_PREFIX, WARC_SUFFIX


@dataclass(frozen=True, slots=True)
class CaptureRef:
    """Where a response record is, and what it says about itself, without its body."""

    url: str
    date: datetime  # UTC, timezone-aware
    status: int
    content_type: str
    filename: str
    offset: int
    crawl_id: str | None
    site: str | None
    warcinfo: dict[str, str]
    rec_type: str = "response"  # or "revisit": the payload is in the record it refers to
    payload_digest: str | None = None
    record_id: str | None = None
    last_modified: str | None = None  # the HTTP validators, as sent
    etag: str | None = None
    truncated: str | None = None  # WARC-Truncated: the body is not the whole answer
    body: bytes | None = None  # decoded payload, when asked for


@dataclass(frozen=True, slots=True)
class Capture:
    """A response record, its HTTP payload decoded (transfer and content coding)."""

    url: str
    date: datetime  # UTC, timezone-aware
    status: int
    content_type: str
    body: bytes
    filename: str
    offset: int
    crawl_id: str | None
    site: str | None


def warc_files(directory: Path) -> list[Path]:
    """Closed WARC files in name order (names start with their creation time)."""
    return sorted(Path(directory).glob("*" + WARC_SUFFIX))


class ArchiveError(Exception):
    """A WARC file that cannot be read."""


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
    path: Path, want_body: Callable[[CaptureRef], bool] = lambda ref: False
) -> Iterator[CaptureRef | dict]:
    """One pass over a file: each response or revisit as a CaptureRef (with its decoded
    body when ``want_body`` says so, read while the record is at hand), and the crawl
    summary as a dict."""
    info: dict[str, str] = {}
    for records, record in iter_warc_records(path):
        headers = record.rec_headers
        if record.rec_type == "warcinfo":
            info = _warc_fields(record.content_stream().read())
        elif record.rec_type in ("response", "revisit"):
            http = record.http_headers
            ref = CaptureRef(
                url=headers.get_header("WARC-Target-URI"),
                date=_warc_date(record),
                status=int(http.get_statuscode() or 0) if http else 0,
                content_type=(http.get_header("Content-Type") or "") if http else "",
                filename=path.name,
                offset=-1,  # known once the record is read through
                crawl_id=info.get("wikiarchive-crawl-id"),
                site=info.get("wikiarchive-site"),
                warcinfo=info,
                rec_type=record.rec_type,
                payload_digest=headers.get_header("WARC-Payload-Digest"),
                record_id=headers.get_header("WARC-Record-ID"),
                last_modified=http.get_header("Last-Modified") if http else None,
                etag=http.get_header("ETag") if http else None,
                truncated=headers.get_header("WARC-Truncated"),
            )
            body = None
            if record.rec_type == "response" and want_body(ref):
                body = record.content_stream().read()  # before the offset: that reads to the end
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


def iter_warcinfos(directory: Path) -> Iterator[tuple[Path, dict[str, str]]]:
    for path in warc_files(directory):
        yield path, read_warcinfo(path)


def read_capture(
    directory: Path,
    filename: str,
    offset: int,
    *,
    crawl_id: str | None = None,
    site: str | None = None,
) -> Capture:
    """The capture at a (filename, offset) locator, as stored in the tables."""
    path = Path(directory) / filename
    with open(path, "rb") as stream:
        stream.seek(offset)
        record = next(iter(ArchiveIterator(stream)))
        if record.rec_type != "response":
            raise ValueError(f"{filename}@{offset} is a {record.rec_type} record")
        return _capture(record, filename, offset, crawl_id, site)


def _capture(
    record: ArcWarcRecord, filename: str, offset: int, crawl_id: str | None, site: str | None
) -> Capture:
    http = record.http_headers
    return Capture(
        url=record.rec_headers.get_header("WARC-Target-URI"),
        date=_warc_date(record),
        status=int(http.get_statuscode() or 0) if http else 0,
        content_type=(http.get_header("Content-Type") or "") if http else "",
        body=record.content_stream().read(),
        filename=filename,
        offset=offset,
        crawl_id=crawl_id,
        site=site,
    )


def _warc_date(record: ArcWarcRecord) -> datetime:
    return iso_date_to_datetime(record.rec_headers.get_header("WARC-Date"), tz_aware=True)


def _warc_fields(payload: bytes) -> dict[str, str]:
    fields = {}
    for line in payload.decode("utf-8", "replace").splitlines():
        name, sep, value = line.partition(":")
        if sep:
            fields[name.strip()] = value.strip()
    return fields

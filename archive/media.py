"""Requisites, media files and detail pages in the catalog: what each URL last held.

One row per URL (``resources``): what the latest answer was (a file, missing, failed,
skipped for its size), the file's SHA-256, size, type and, for images, width and height
read from its header, the response record holding those bytes, and the validators a
conditional request sends next time. A revisit, of either profile, is the same file as
the capture it refers to, never an empty one: its facts come from ``resource_payloads``
(by payload digest), and a revisit whose original is not in the archive is an error.

``page_media`` says which page shows or links which media file, as of the page's latest
capture; ``media_changes`` which media files changed in which crawl, so a page's change
can say its images changed. Everything here is rebuilt from the WARC files by the same
code (``archive.ingest.CrawlIngest`` hands each response on).
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC
from io import BytesIO

import imagesize
from warcio.timeutils import datetime_to_iso_date

from archive.reader import ArchivedResponse, ArchiveError
from crawler.dokuwiki import DETAIL, MEDIA, media_id_from_url, request_kind
from crawler.page import Page
from crawler.requisites import Resource, is_stylesheet, stylesheet_resources

RESOURCE_KINDS = frozenset({"requisite", MEDIA, DETAIL})

# What the latest answer for a URL was.
STORED = "stored"  # a file (a response, or a revisit confirming one)
MISSING = "missing"  # 403/404/410: no such file for a reader (a red media link)
FAILED = "failed"  # another answer, or a body cut short
SKIPPED = "skipped"  # larger than the crawl's size cap: not fetched, not truncated
MISSING_STATUSES = (403, 404, 410)

MEDIA_SCHEMA = """
CREATE TABLE resources (
    url TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    media_id TEXT,
    outcome TEXT NOT NULL,
    status INTEGER,
    mime_type TEXT,
    bytes INTEGER,
    sha256 TEXT,
    width INTEGER,
    height INTEGER,
    last_modified TEXT,
    etag TEXT,
    first_crawl_id TEXT NOT NULL,
    last_crawl_id TEXT NOT NULL,
    changed_crawl_id TEXT NOT NULL,
    fetched_at TEXT NOT NULL,
    record_id TEXT,
    record_date TEXT,
    record_uri TEXT,
    digest TEXT,
    warc_filename TEXT,
    warc_offset INTEGER
);
CREATE INDEX resources_media ON resources (media_id);
CREATE TABLE resource_payloads (
    digest TEXT PRIMARY KEY,
    sha256 TEXT NOT NULL,
    bytes INTEGER NOT NULL,
    width INTEGER,
    height INTEGER,
    mime_type TEXT
);
CREATE TABLE page_media (
    page_id TEXT NOT NULL,
    media_id TEXT NOT NULL,
    url TEXT NOT NULL,
    relation TEXT NOT NULL,
    crawl_id TEXT NOT NULL,
    PRIMARY KEY (page_id, url, relation)
);
CREATE INDEX page_media_media ON page_media (media_id);
CREATE TABLE media_changes (
    crawl_id TEXT NOT NULL,
    url TEXT NOT NULL,
    media_id TEXT NOT NULL,
    change TEXT NOT NULL,
    sha256_before TEXT,
    sha256_after TEXT,
    PRIMARY KEY (crawl_id, url)
);
"""


@dataclass(frozen=True, slots=True)
class Held:
    """What the archive holds for a URL: validators to ask with, the capture a 304
    confirms (a response record holding the bytes)."""

    url: str
    kind: str
    media_id: str | None
    last_modified: str | None
    etag: str | None
    record_id: str
    record_date: str  # its WARC-Date, as WARC-Refers-To-Date must be
    record_uri: str
    digest: str  # its WARC-Payload-Digest
    warc_filename: str
    warc_offset: int

    @property
    def conditional_headers(self) -> dict[str, str]:
        headers = {}
        if self.etag:
            headers["If-None-Match"] = self.etag
        if self.last_modified:
            headers["If-Modified-Since"] = self.last_modified
        return headers


def held_resources(db: sqlite3.Connection) -> dict[str, Held]:
    """Every URL whose latest answer is a stored file, with what a 304 would confirm."""
    rows = db.execute(
        "SELECT url, kind, media_id, last_modified, etag, record_id, record_date, record_uri,"
        " digest, warc_filename, warc_offset FROM resources"
        " WHERE outcome = ? AND record_id IS NOT NULL",
        (STORED,),
    )
    return {row[0]: Held(*row) for row in rows}


def known_media(db: sqlite3.Connection) -> dict[str, tuple[tuple[str, str], ...]]:
    """Media id -> (url, kind) of every media file URL and detail page the archive knows."""
    found: dict[str, list[tuple[str, str]]] = {}
    for url, kind, media_id in db.execute(
        "SELECT url, kind, media_id FROM resources WHERE media_id IS NOT NULL ORDER BY url"
    ):
        found.setdefault(media_id, []).append((url, kind))
    return {media_id: tuple(urls) for media_id, urls in found.items()}


def media_files(db: sqlite3.Connection) -> Iterator[sqlite3.Row]:
    """Every media file URL the archive knows, with what its latest answer held."""
    return db.execute(
        "SELECT * FROM resources WHERE kind = ? ORDER BY media_id, url", (MEDIA,)
    )


def page_media(db: sqlite3.Connection) -> Iterator[sqlite3.Row]:
    """Which page (as of its latest capture) shows or links which media file."""
    return db.execute("SELECT * FROM page_media ORDER BY page_id, media_id, url, relation")


def changed_media(db: sqlite3.Connection) -> dict[tuple[str, str], list[str]]:
    """(crawl id, page id) -> media ids the page shows whose file changed in that crawl
    (as the page shows them now)."""
    found: dict[tuple[str, str], list[str]] = {}
    for crawl_id, page_id, media_id in db.execute(
        "SELECT DISTINCT m.crawl_id, p.page_id, m.media_id FROM media_changes m"
        " JOIN page_media p ON p.media_id = m.media_id ORDER BY 1, 2, 3"
    ):
        found.setdefault((crawl_id, page_id), []).append(media_id)
    return found


def is_resource(resp: ArchivedResponse) -> bool:
    return request_kind(resp.url, resp.site or "") in RESOURCE_KINDS


def file_facts(body: bytes, content_type: str) -> tuple[str, int, int | None, int | None]:
    """(SHA-256, bytes, width, height) of a file; width and height for images whose
    header says them (read from the header, the image is never decoded)."""
    width = height = None
    if content_type.startswith("image/"):
        try:
            width, height = imagesize.get(BytesIO(body))
        except (ValueError, OSError):  # a header imagesize cannot read: no size
            width = height = -1
        if width is None or width < 0 or height is None or height < 0:
            width = height = None
    return hashlib.sha256(body).hexdigest(), len(body), width, height


def mime_type(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()


class ResourceIngest:
    """Records one crawl's requisites, media files and detail pages (part of the crawl's
    transaction, which :class:`archive.ingest.CrawlIngest` holds)."""

    def __init__(
        self,
        db: sqlite3.Connection,
        crawl_id: str,
        body_of: Callable[[ArchivedResponse], bytes],
    ):
        self.db = db
        self.crawl_id = crawl_id
        self.body_of = body_of  # a response's payload, a revisit's from its original

    def add(self, resp: ArchivedResponse) -> bool:
        """Record *resp* if it is a requisite, media file or detail page; say whether."""
        kind = request_kind(resp.url, resp.site or "")
        if kind not in RESOURCE_KINDS:
            return False
        media_id = media_id_from_url(resp.url, resp.site or "") if kind != "requisite" else None
        before = self._row(resp.url)
        fields = self._fields(resp)
        outcome = fields["outcome"]
        if outcome == FAILED and before is not None:
            # A server error says nothing of the file: the one held stays the latest (the
            # failure is in the crawl's errors), and is asked for again next time.
            return True
        same = before is not None and (before["outcome"], before["sha256"]) == (
            outcome, fields.get("sha256")
        )
        row = {
            "url": resp.url,
            "kind": kind,
            "media_id": media_id,
            "status": resp.status,
            "first_crawl_id": before["first_crawl_id"] if before else self.crawl_id,
            "last_crawl_id": self.crawl_id,
            "changed_crawl_id": before["changed_crawl_id"] if same else self.crawl_id,
            "fetched_at": resp.date.isoformat(),
            **fields,
        }
        names = ", ".join(row)
        marks = ", ".join("?" for _ in row)
        self.db.execute(f"INSERT OR REPLACE INTO resources ({names}) VALUES ({marks})",
                        tuple(row.values()))
        if kind == MEDIA and media_id and before is not None and not same:
            # A URL seen for the first time is no change of a file a reader saw before.
            self._media_change(resp.url, media_id, before, row)
        return True

    def _fields(self, resp: ArchivedResponse) -> dict:
        """What the answer says of the file: a stored file's facts and record, or why not."""
        empty = dict.fromkeys(("mime_type", "bytes", "sha256", "width", "height", "record_id",
                               "record_date", "record_uri", "digest", "warc_filename",
                               "warc_offset"))
        validators = {"last_modified": resp.last_modified, "etag": resp.etag}
        if resp.rec_type == "revisit" and resp.status in (200, 304):
            return {**empty, **self._revisit(resp), **validators, "outcome": STORED}
        if resp.status == 200 and resp.rec_type == "response" and not resp.truncated:
            body = resp.body if resp.body is not None else self.body_of(resp)
            mime = mime_type(resp.content_type)
            sha, size, width, height = file_facts(body, mime)
            self.db.execute(
                "INSERT OR IGNORE INTO resource_payloads VALUES (?,?,?,?,?,?)",
                (resp.payload_digest, sha, size, width, height, mime),
            )
            return {
                "outcome": STORED,
                "mime_type": mime,
                "bytes": size,
                "sha256": sha,
                "width": width,
                "height": height,
                "record_id": resp.record_id,
                "record_date": _warc_date(resp),
                "record_uri": resp.url,
                "digest": resp.payload_digest,
                "warc_filename": resp.filename,
                "warc_offset": resp.offset,
                **validators,
            }
        outcome = MISSING if resp.status in MISSING_STATUSES else FAILED
        return {**empty, "outcome": outcome, "last_modified": None, "etag": None}

    def _revisit(self, resp: ArchivedResponse) -> dict:
        """A revisit (identical payload, or a 304 confirming a capture) is the file of the
        record it refers to; that record's facts, or an error when it is not archived."""
        facts = self.db.execute(
            "SELECT sha256, bytes, width, height, mime_type FROM resource_payloads"
            " WHERE digest = ?", (resp.payload_digest or "",)
        ).fetchone()
        original = self.db.execute(
            "SELECT * FROM payloads WHERE record_id = ?", (resp.refers_to or "",)
        ).fetchone()
        if facts is None and original is not None:
            # The same bytes first came as something else (not a file of a page): read
            # them from that record.
            body = self.body_of(replace(resp, body=None))
            mime = mime_type(resp.content_type)
            facts = (*file_facts(body, mime), mime)
            self.db.execute("INSERT OR IGNORE INTO resource_payloads VALUES (?,?,?,?,?,?)",
                            (resp.payload_digest, *facts))
        if facts is None or original is None:
            raise ArchiveError(
                f"{resp.filename}@{resp.offset}: revisit of {resp.url} refers to "
                f"{resp.refers_to or 'no record'}, whose file is not in the archive"
            )
        return {
            "mime_type": mime_type(resp.content_type) if resp.status == 200 else facts[4],
            "bytes": facts[1],
            "sha256": facts[0],
            "width": facts[2],
            "height": facts[3],
            "record_id": original["record_id"],
            "record_date": original["date"],
            "record_uri": original["uri"],
            "digest": original["digest"],
            "warc_filename": original["warc_filename"],
            "warc_offset": original["warc_offset"],
        }

    def skipped(self, entries: Iterable[dict], fetched_at: str) -> None:
        """Files the crawl did not fetch for their size (from its summary): recorded as
        skipped with the size the server announced; a file held before stays held."""
        for entry in entries:
            url = entry["url"]
            before = self._row(url)
            if before is not None and before["last_crawl_id"] == self.crawl_id:
                continue  # answered in this crawl after all
            media_id = entry.get("media_id")
            self.db.execute(
                "INSERT OR REPLACE INTO resources (url, kind, media_id, outcome, bytes,"
                " first_crawl_id, last_crawl_id, changed_crawl_id, fetched_at)"
                " VALUES (?,?,?,?,?,?,?,?,?)",
                (url, entry.get("kind") or MEDIA, media_id, SKIPPED, entry.get("bytes"),
                 before["first_crawl_id"] if before else self.crawl_id, self.crawl_id,
                 self.crawl_id, entry.get("at") or fetched_at),
            )

    def page(self, page: Page, resources: Iterable[Resource]) -> None:
        """The media files a captured page shows or links, replacing what it did before."""
        self.db.execute("DELETE FROM page_media WHERE page_id = ?", (page.page_id,))
        if not page.exists:
            return
        rows = {
            (page.page_id, r.media_id, r.url, r.relation, self.crawl_id)
            for r in resources
            if r.kind == MEDIA and r.media_id
        }
        self.db.executemany("INSERT OR IGNORE INTO page_media VALUES (?,?,?,?,?)", sorted(rows))

    def found_in(self, resp: ArchivedResponse) -> tuple[Resource, ...]:
        """What a stylesheet or detail page loads and links (for the crawl to fetch); a
        revisit's from the file it confirms. Parsed only when asked: a rebuild never does."""
        kind = request_kind(resp.url, resp.site or "")
        site = resp.site or ""
        if resp.status not in (200, 304):
            return ()
        # A 304 names no type: the file it confirms does.
        content_type = resp.content_type or (self._row(resp.url) or {"mime_type": ""})[
            "mime_type"] or ""
        if kind == "requisite" and is_stylesheet(resp.url, content_type):
            # A 304's body is the stylesheet it confirms, read from that capture.
            body = self.body_of(replace(resp, body=None) if resp.status == 304 else resp)
            return stylesheet_resources(body, resp.url, site)
        if kind == DETAIL and resp.status == 200:
            from crawler.parse import parse_resources

            return parse_resources(resp.url, self.body_of(resp), site=site)
        return ()

    def media_changes_by_page(self) -> dict[str, list[str]]:
        """Page id -> media ids it shows or links whose file changed in this crawl."""
        rows = self.db.execute(
            "SELECT DISTINCT p.page_id, m.media_id FROM media_changes m"
            " JOIN page_media p ON p.media_id = m.media_id"
            " WHERE m.crawl_id = ? ORDER BY p.page_id, m.media_id",
            (self.crawl_id,),
        )
        found: dict[str, list[str]] = {}
        for page_id, media_id in rows:
            found.setdefault(page_id, []).append(media_id)
        return found

    def _media_change(self, url: str, media_id: str, before, row: dict) -> None:
        was = before["sha256"] if before is not None and before["outcome"] == STORED else None
        now = row.get("sha256") if row["outcome"] == STORED else None
        if was == now:
            return  # e.g. failed twice: nothing the reader saw changed
        change = "added" if was is None else "removed" if now is None else "modified"
        self.db.execute(
            "INSERT OR REPLACE INTO media_changes VALUES (?,?,?,?,?,?)",
            (self.crawl_id, url, media_id, change, was, now),
        )

    def _row(self, url: str) -> sqlite3.Row | None:
        return self.db.execute("SELECT * FROM resources WHERE url = ?", (url,)).fetchone()


def _warc_date(resp: ArchivedResponse) -> str:
    return datetime_to_iso_date(resp.date.astimezone(UTC).replace(tzinfo=None), use_micros=True)

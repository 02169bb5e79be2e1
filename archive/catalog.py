"""The crawl history: an embedded SQLite catalog of crawls and page versions.

It is an index over the WARC files, never the only copy of anything: every row
can be rebuilt from the WARCs (``archive.ingest.rebuild_catalog``).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from archive.media import MEDIA_SCHEMA, Held, held_resources, known_media

SCHEMA_VERSION = 7
CATALOG_NAME = "catalog.sqlite"

SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE crawls (
    seq INTEGER PRIMARY KEY,
    crawl_id TEXT NOT NULL UNIQUE,
    site TEXT NOT NULL,
    mode TEXT NOT NULL,
    started_at TEXT NOT NULL,
    finished_at TEXT,
    outcome TEXT NOT NULL,
    pages INTEGER,
    requests INTEGER,
    errors INTEGER,
    failed_pages TEXT NOT NULL DEFAULT '[]',
    feed_last_modified TEXT,
    feed_etag TEXT,
    sitemap_last_modified TEXT,
    sitemap_etag TEXT,
    captures INTEGER NOT NULL DEFAULT 0,  -- articles it archived (pages, missing or removed)
    login TEXT,  -- the account the crawl logged in as; NULL: anonymous
    not_readable INTEGER NOT NULL DEFAULT 0  -- pages the wiki refused to show it
);
CREATE TABLE page_versions (
    version_id INTEGER PRIMARY KEY,
    page_id TEXT NOT NULL,
    content_sha256 TEXT NOT NULL,
    last_modified TEXT,
    first_crawl_id TEXT NOT NULL,
    last_crawl_id TEXT NOT NULL,
    warc_filename TEXT NOT NULL,
    warc_offset INTEGER NOT NULL,
    fetched_at TEXT NOT NULL,
    revision INTEGER  -- the wiki revision (Unix time) this version is, when known
);
CREATE INDEX page_versions_page ON page_versions (page_id);
CREATE TABLE page_state (
    page_id TEXT PRIMARY KEY,
    present INTEGER NOT NULL,
    version_id INTEGER REFERENCES page_versions,
    crawl_id TEXT NOT NULL,
    warc_filename TEXT NOT NULL,
    warc_offset INTEGER NOT NULL,
    fetched_at TEXT NOT NULL,
    page BLOB  -- the capture parsed (compressed JSON), so tables need not parse it again
);
-- Pages whose latest answer was DokuWiki's "Permission Denied": the page's state and
-- versions stay as the last readable capture left them.
CREATE TABLE page_access (
    page_id TEXT PRIMARY KEY,
    access TEXT NOT NULL,
    login TEXT,  -- the account refused; NULL: anonymous
    since_crawl_id TEXT NOT NULL,  -- first of the crawls refused in a row (same account)
    crawl_id TEXT NOT NULL,
    warc_filename TEXT NOT NULL,
    warc_offset INTEGER NOT NULL,
    fetched_at TEXT NOT NULL
);
CREATE TABLE changes (
    from_crawl_id TEXT,
    to_crawl_id TEXT NOT NULL,
    page_id TEXT NOT NULL,
    change TEXT NOT NULL,
    title_changed INTEGER NOT NULL,
    body_changed INTEGER NOT NULL,
    footnotes_added INTEGER NOT NULL,
    footnotes_removed INTEGER NOT NULL,
    last_modified_before TEXT,
    last_modified_after TEXT,
    chars_added INTEGER NOT NULL,
    chars_removed INTEGER NOT NULL,
    before_version_id INTEGER,
    after_version_id INTEGER,
    -- set for a change between two wiki revisions (history crawls); empty for a change
    -- between two crawls
    revision_before INTEGER,
    revision_after INTEGER,
    media_changed INTEGER NOT NULL DEFAULT 0  -- media files it shows whose file changed
);
CREATE UNIQUE INDEX changes_key ON changes (to_crawl_id, page_id, ifnull(revision_after, -1));
CREATE INDEX changes_page ON changes (page_id);
CREATE TABLE errors (
    crawl_id TEXT NOT NULL,
    url TEXT NOT NULL,
    page_id TEXT,
    error TEXT NOT NULL,
    failed_at TEXT NOT NULL
);
CREATE TABLE payloads (
    digest TEXT PRIMARY KEY,
    uri TEXT NOT NULL,
    date TEXT NOT NULL,
    record_id TEXT NOT NULL,
    warc_filename TEXT NOT NULL,
    warc_offset INTEGER NOT NULL
);
CREATE INDEX payloads_record ON payloads (record_id);
CREATE TABLE revisions (  -- what the wiki's revision lists say, newest listing wins
    page_id TEXT NOT NULL,
    revision INTEGER NOT NULL,  -- Unix time, as in rev=
    date_shown TEXT NOT NULL,
    date TEXT,
    summary TEXT NOT NULL,
    author TEXT NOT NULL,
    size_change TEXT NOT NULL,
    minor INTEGER NOT NULL,
    deleted INTEGER NOT NULL,
    current INTEGER NOT NULL,
    served INTEGER NOT NULL,  -- listed with a link to its text
    not_served INTEGER NOT NULL DEFAULT 0,  -- asked for, and the wiki had no such revision
    crawl_id TEXT NOT NULL,  -- the crawl that listed it last
    version_id INTEGER REFERENCES page_versions,  -- its content, when archived
    PRIMARY KEY (page_id, revision)
);
CREATE TABLE revision_walks (  -- pages whose revision list was read to its end
    page_id TEXT PRIMARY KEY,
    crawl_id TEXT NOT NULL
);
CREATE TABLE version_pages (  -- versions parsed, kept for the changes between revisions
    version_id INTEGER PRIMARY KEY REFERENCES page_versions,
    page BLOB NOT NULL
);
CREATE TABLE sources (
    page_id TEXT NOT NULL,
    revision INTEGER,
    markup TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    crawl_id TEXT NOT NULL,
    fetched_at TEXT NOT NULL,
    warc_filename TEXT NOT NULL,
    warc_offset INTEGER NOT NULL
);
CREATE INDEX sources_page ON sources (page_id, revision);
CREATE TABLE warc_files (
    filename TEXT PRIMARY KEY,
    crawl_id TEXT NOT NULL
);
""" + MEDIA_SCHEMA


# A crawl the tables list: it archived a page, saw a media file change, met errors, or
# did not finish.
RECORDED = (
    "(captures > 0 OR COALESCE(errors, 0) > 0 OR outcome != 'finished'"
    " OR crawl_id IN (SELECT crawl_id FROM media_changes))"  # a media file changed
)


class CatalogError(Exception):
    """A catalog this version cannot use."""


class OutdatedCatalog(CatalogError):
    """A catalog of another schema version: rebuild it from the WARC files."""


@dataclass(frozen=True, slots=True)
class Version:
    version_id: int
    page_id: str
    content_sha256: str
    last_modified: str | None
    warc_filename: str
    warc_offset: int
    revision: int | None = None


@dataclass(frozen=True, slots=True)
class CrawlMark:
    """One earlier crawl of the site, as an incremental crawl needs to know it."""

    crawl_id: str
    outcome: str
    started_at: str  # the crawler's clock
    # The feed the crawl got: its validators for a conditional request, and its
    # Last-Modified (the wiki's clock) as the point from which edits are new.
    feed_last_modified: str | None
    feed_etag: str | None
    failed_pages: frozenset[str]
    # The sitemap the crawl got, for a conditional request (its Last-Modified as sent).
    sitemap_last_modified: str | None = None
    sitemap_etag: str | None = None
    login: str | None = None  # the account it logged in as; None: anonymous


@dataclass(frozen=True, slots=True)
class PreviousCrawl:
    """The site's earlier crawls, oldest first, and which crawl last captured each page."""

    crawls: tuple[CrawlMark, ...]
    captured_in: dict[str, str]  # page id -> crawl id, for pages that exist
    # page id -> the last-update date the version we hold states (wiki-local), or None
    held: dict[str, str | None] = field(default_factory=dict)
    # Pages the wiki last refused to show (Permission Denied): asked again every crawl.
    denied: frozenset[str] = frozenset()
    # Requisites, media files and detail pages held (URL -> validators and record), and
    # media id -> the (url, kind) of each URL of it the archive knows.
    resources: dict[str, Held] = field(default_factory=dict)
    media: dict[str, tuple[tuple[str, str], ...]] = field(default_factory=dict)

    @property
    def crawl_id(self) -> str:
        return self.crawls[-1].crawl_id

    @property
    def present_pages(self) -> frozenset[str]:
        return frozenset(self.captured_in)


class Catalog:
    def __init__(self, path: Path, *, readonly: bool = False):
        self.path = Path(path)
        if readonly:
            uri = self.path.resolve().as_uri() + "?mode=ro"
            self.db = sqlite3.connect(uri, uri=True, isolation_level=None)
        else:
            self.db = sqlite3.connect(self.path, isolation_level=None)
        self.db.row_factory = sqlite3.Row
        if not readonly:
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA foreign_keys=ON")
        self._migrate()

    def close(self) -> None:
        self.db.close()

    def begin(self) -> None:
        """Start a write transaction (taken at once, not at the first write)."""
        self.db.execute("BEGIN IMMEDIATE")

    def commit(self) -> None:
        self.db.execute("COMMIT")

    def rollback(self) -> None:
        if self.db.in_transaction:
            self.db.execute("ROLLBACK")

    def _migrate(self) -> None:
        tables = {r[0] for r in self.db.execute("SELECT name FROM sqlite_master")}
        if "meta" not in tables:
            # executescript commits on its own, so the transaction is spelled out in it.
            self.db.executescript(
                f"BEGIN; {SCHEMA} INSERT INTO meta VALUES ('schema_version', "
                f"'{SCHEMA_VERSION}'); COMMIT;"
            )
            return
        row = self.db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        if row is None or int(row[0]) != SCHEMA_VERSION:
            found = row[0] if row else "none"
            raise OutdatedCatalog(
                f"{self.path} has schema version {found}, this wikiarchive needs "
                f"{SCHEMA_VERSION}; rebuild it with `wikiarchive export`"
            )

    # ---- crawls

    def start_crawl(
        self, crawl_id: str, site: str, mode: str, started_at: str, login: str | None = None
    ) -> None:
        """The crawl's row, 'running' until finish_crawl; both happen in one transaction."""
        self.db.execute(
            "INSERT OR IGNORE INTO crawls (crawl_id, site, mode, started_at, outcome, login)"
            " VALUES (?,?,?,?, 'running', ?)",
            (crawl_id, site, mode, started_at, login),
        )

    def set_not_readable(self, crawl_id: str, pages: int) -> None:
        self.db.execute(
            "UPDATE crawls SET not_readable = ? WHERE crawl_id = ?", (pages, crawl_id)
        )

    def crawl_login(self, crawl_id: str) -> str | None:
        """The account a crawl logged in as; None for an anonymous (or unknown) crawl."""
        row = self.db.execute(
            "SELECT login FROM crawls WHERE crawl_id = ?", (crawl_id,)
        ).fetchone()
        return row[0] if row else None

    def finish_crawl(self, summary: dict, captures: int = 0) -> None:
        self.start_crawl(
            summary["crawl_id"], summary["site"], summary["mode"], summary["started_at"]
        )
        self.db.execute(
            "UPDATE crawls SET finished_at = ?, outcome = ?, pages = ?, requests = ?, errors = ?,"
            " failed_pages = ?, captures = ? WHERE crawl_id = ?",
            (
                summary.get("finished_at"),
                summary.get("finish_reason") or "interrupted",
                summary.get("pages"),
                summary.get("requests"),
                summary.get("errors"),
                json.dumps(sorted(summary.get("failed_pages", []))),
                captures,
                summary["crawl_id"],
            ),
        )

    def add_errors(self, crawl_id: str, errors: list[dict]) -> None:
        self.db.executemany(
            "INSERT INTO errors VALUES (?,?,?,?,?)",
            [(crawl_id, e["url"], e.get("page_id"), e["error"], e["failed_at"]) for e in errors],
        )

    def errors(self) -> list[sqlite3.Row]:
        return self.db.execute(
            "SELECT e.* FROM errors e JOIN crawls c USING (crawl_id) ORDER BY c.seq, e.rowid"
        ).fetchall()

    def crawl_seq(self, crawl_id: str) -> int | None:
        row = self.db.execute("SELECT seq FROM crawls WHERE crawl_id = ?", (crawl_id,)).fetchone()
        return row[0] if row else None

    def sites(self) -> list[str]:
        return [r[0] for r in self.db.execute("SELECT DISTINCT site FROM crawls ORDER BY seq")]

    def add_ingested_files(self, crawl_id: str, filenames: list[str]) -> None:
        self.db.executemany(
            "INSERT OR REPLACE INTO warc_files VALUES (?, ?)",
            [(name, crawl_id) for name in filenames],
        )

    def ingested_files(self) -> dict[str, str]:
        """WARC file name -> crawl id, for every file whose records are in the catalog."""
        return dict(self.db.execute("SELECT filename, crawl_id FROM warc_files").fetchall())

    def crawls(self) -> list[sqlite3.Row]:
        return self.db.execute("SELECT * FROM crawls ORDER BY seq").fetchall()

    def recorded_crawls(self) -> list[sqlite3.Row]:
        """Crawls that archived a page, met errors or did not finish: those the tables
        list. A crawl that found nothing to fetch stays in the catalog only."""
        return self.db.execute(f"SELECT * FROM crawls WHERE {RECORDED} ORDER BY seq").fetchall()

    def get_meta(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        self.db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    def last_seq(self) -> int:
        return self.db.execute("SELECT COALESCE(MAX(seq), 0) FROM crawls").fetchone()[0]

    def touched_after(self, seq: int) -> set[str]:
        """What the crawls after ``seq`` changed: 'crawls' (a recorded crawl), 'pages'
        (a page captured), 'versions', 'changes', 'errors', 'revisions' (a revision
        list read), 'sources', 'media' (a requisite, media file or page's media
        captured)."""
        later = "(SELECT crawl_id FROM crawls WHERE seq > ?)"
        queries = {
            "crawls": f"SELECT 1 FROM crawls WHERE seq > ? AND {RECORDED}",
            "pages": "SELECT 1 FROM crawls WHERE seq > ? AND captures > 0",
            "versions": f"SELECT 1 FROM page_versions WHERE first_crawl_id IN {later}"
            f" OR last_crawl_id IN {later}",
            "changes": f"SELECT 1 FROM changes WHERE to_crawl_id IN {later}",
            "errors": f"SELECT 1 FROM errors WHERE crawl_id IN {later}",
            "revisions": f"SELECT 1 FROM revisions WHERE crawl_id IN {later}",
            "sources": f"SELECT 1 FROM sources WHERE crawl_id IN {later}",
            "media": f"SELECT 1 FROM resources WHERE last_crawl_id IN {later}"
            f" UNION ALL SELECT 1 FROM page_media WHERE crawl_id IN {later}",
        }
        touched = set()
        for name, query in queries.items():
            args = (seq,) * query.count("?")
            if self.db.execute(query + " LIMIT 1", args).fetchone():
                touched.add(name)
        return touched

    def last_crawl_id(self, site: str, before_seq: int | None = None) -> str | None:
        """The latest recorded crawl of the site (before ``before_seq``)."""
        query = f"SELECT crawl_id FROM crawls WHERE site = ? AND {RECORDED}"
        args: list = [site]
        if before_seq is not None:
            query += " AND seq < ?"
            args.append(before_seq)
        row = self.db.execute(query + " ORDER BY seq DESC LIMIT 1", args).fetchone()
        return row[0] if row else None

    def previous_crawl(self, site: str) -> PreviousCrawl | None:
        rows = self.db.execute(
            "SELECT crawl_id, outcome, started_at, feed_last_modified, feed_etag, failed_pages,"
            " sitemap_last_modified, sitemap_etag, login FROM crawls WHERE site = ?"
            " ORDER BY seq",
            (site,),
        ).fetchall()
        if not rows:
            return None
        marks = tuple(
            CrawlMark(
                *row[:5],
                failed_pages=frozenset(json.loads(row["failed_pages"])),
                sitemap_last_modified=row["sitemap_last_modified"],
                sitemap_etag=row["sitemap_etag"],
                login=row["login"],
            )
            for row in rows
        )
        present = self.db.execute(
            "SELECT s.page_id, s.crawl_id, v.last_modified FROM page_state s"
            " JOIN page_versions v USING (version_id) WHERE s.present = 1"
        ).fetchall()
        denied = self.db.execute("SELECT page_id FROM page_access")
        return PreviousCrawl(
            marks,
            {page_id: crawl_id for page_id, crawl_id, _ in present},
            {page_id: last_modified for page_id, _, last_modified in present},
            frozenset(page_id for (page_id,) in denied),
            resources=held_resources(self.db),
            media=known_media(self.db),
        )

    def set_sitemap(self, crawl_id: str, last_modified: str | None, etag: str | None) -> None:
        self.db.execute(
            "UPDATE crawls SET sitemap_last_modified = ?, sitemap_etag = ? WHERE crawl_id = ?",
            (last_modified, etag, crawl_id),
        )

    def set_feed(self, crawl_id: str, last_modified: str | None, etag: str | None) -> None:
        self.db.execute(
            "UPDATE crawls SET feed_last_modified = ?, feed_etag = ? WHERE crawl_id = ?",
            (last_modified, etag, crawl_id),
        )

    # ---- pages

    def state(self, page_id: str) -> sqlite3.Row | None:
        return self.db.execute("SELECT * FROM page_state WHERE page_id = ?", (page_id,)).fetchone()

    def version(self, version_id: int | None) -> Version | None:
        if version_id is None:
            return None
        row = self.db.execute(
            "SELECT version_id, page_id, content_sha256, last_modified, warc_filename,"
            " warc_offset, revision FROM page_versions WHERE version_id = ?",
            (version_id,),
        ).fetchone()
        return Version(*row) if row else None

    def add_version(
        self,
        page_id: str,
        sha: str,
        last_modified: str | None,
        capture: dict,
        revision: int | None = None,
    ) -> int:
        cursor = self.db.execute(
            "INSERT INTO page_versions (page_id, content_sha256, last_modified, first_crawl_id,"
            " last_crawl_id, warc_filename, warc_offset, fetched_at, revision)"
            " VALUES (?,?,?,?,?,?,?,?,?)",
            (
                page_id,
                sha,
                last_modified,
                capture["crawl_id"],
                capture["crawl_id"],
                capture["warc_filename"],
                capture["warc_offset"],
                capture["fetched_at"],
                revision,
            ),
        )
        return cursor.lastrowid

    def touch_version(self, version_id: int, crawl_id: str) -> None:
        self.db.execute(
            "UPDATE page_versions SET last_crawl_id = ? WHERE version_id = ?",
            (crawl_id, version_id),
        )

    def set_state(
        self,
        page_id: str,
        present: bool,
        version_id: int | None,
        capture: dict,
        page: bytes | None,
    ) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO page_state VALUES (?,?,?,?,?,?,?,?)",
            (
                page_id,
                int(present),
                version_id,
                capture["crawl_id"],
                capture["warc_filename"],
                capture["warc_offset"],
                capture["fetched_at"],
                page,
            ),
        )

    def current_pages(self) -> Iterator[sqlite3.Row]:
        """Pages that exist now, with their latest capture and access ('denied' when the
        latest answer refused them, else NULL), in page-id order; streamed, as each row
        carries the parsed page."""
        return self.db.execute(
            "SELECT s.*, v.content_sha256, a.access FROM page_state s JOIN page_versions v"
            " USING (version_id) LEFT JOIN page_access a USING (page_id)"
            " WHERE s.present = 1 ORDER BY s.page_id"
        )

    # ---- access

    def access(self, page_id: str) -> sqlite3.Row | None:
        """The page's refusal, when the wiki's latest answer for it was one."""
        return self.db.execute(
            "SELECT * FROM page_access WHERE page_id = ?", (page_id,)
        ).fetchone()

    def set_access(self, page_id: str, access: dict, capture: dict) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO page_access VALUES (?,?,?,?,?,?,?,?)",
            (
                page_id,
                access["access"],
                access["login"],
                access["since_crawl_id"],
                capture["crawl_id"],
                capture["warc_filename"],
                capture["warc_offset"],
                capture["fetched_at"],
            ),
        )

    def clear_access(self, page_id: str) -> None:
        self.db.execute("DELETE FROM page_access WHERE page_id = ?", (page_id,))

    def refused_pages(self) -> Iterator[sqlite3.Row]:
        """Every refusal, in page-id order, with the last crawl that could read the page
        (``readable_crawl_id``, NULL when none could)."""
        return self.db.execute(
            "SELECT a.*, s.crawl_id AS readable_crawl_id FROM page_access a"
            " LEFT JOIN page_state s ON s.page_id = a.page_id AND s.present = 1"
            " ORDER BY a.page_id"
        )

    def presence(self) -> Iterator[tuple[str, bool]]:
        """Every page the archive knows: whether it exists as of the latest crawl."""
        for page_id, present in self.db.execute("SELECT page_id, present FROM page_state"):
            yield page_id, bool(present)

    def versions(self) -> Iterator[sqlite3.Row]:
        return self.db.execute("SELECT * FROM page_versions ORDER BY page_id, version_id")

    # ---- changes

    def add_change(self, row: dict) -> None:
        names = ", ".join(row)
        marks = ", ".join("?" for _ in row)
        self.db.execute(f"INSERT INTO changes ({names}) VALUES ({marks})", tuple(row.values()))

    def set_media_changed(self, crawl_id: str, page_id: str, count: int) -> bool:
        """Say on the page's change in this crawl how many of its media files changed;
        False when the page has no change in this crawl."""
        cursor = self.db.execute(
            "UPDATE changes SET media_changed = ? WHERE to_crawl_id = ? AND page_id = ?"
            " AND revision_after IS NULL",
            (count, crawl_id, page_id),
        )
        return cursor.rowcount > 0

    def delete_change(self, crawl_id: str, page_id: str) -> None:
        """The page's change between two crawls (not those between wiki revisions)."""
        self.db.execute(
            "DELETE FROM changes WHERE to_crawl_id = ? AND page_id = ?"
            " AND revision_after IS NULL",
            (crawl_id, page_id),
        )

    def changes(self, since_crawl_id: str | None = None) -> Iterator[sqlite3.Row]:
        query = (
            "SELECT c.* FROM changes c JOIN crawls k ON k.crawl_id = c.to_crawl_id"
        )
        args: tuple = ()
        if since_crawl_id is not None:
            query += " WHERE k.seq > (SELECT seq FROM crawls WHERE crawl_id = ?)"
            args = (since_crawl_id,)
        return self.db.execute(
            query + " ORDER BY k.seq, c.page_id, ifnull(c.revision_after, -1)", args
        )

    # ---- payload digests, for revisit records

    def add_payload(self, digest: str, ref: dict) -> None:
        self.db.execute(
            "INSERT OR IGNORE INTO payloads VALUES (?,?,?,?,?,?)",
            (
                digest,
                ref["uri"],
                ref["date"],
                ref["record_id"],
                ref["warc_filename"],
                ref["warc_offset"],
            ),
        )

    def payload(self, digest: str) -> sqlite3.Row | None:
        return self.db.execute("SELECT * FROM payloads WHERE digest = ?", (digest,)).fetchone()

    def payload_record(self, record_id: str) -> sqlite3.Row | None:
        """The response record a revisit refers to (its WARC-Refers-To)."""
        return self.db.execute(
            "SELECT * FROM payloads WHERE record_id = ?", (record_id,)
        ).fetchone()

    # ---- wiki revisions (history crawls)

    def list_revision(self, page_id: str, listed: dict, crawl_id: str) -> None:
        """A revision as a revision list shows it; a later listing replaces what an
        earlier one said (it may have become old, or its text pruned)."""
        self.db.execute(
            "INSERT INTO revisions (page_id, revision, date_shown, date, summary, author,"
            " size_change, minor, deleted, current, served, crawl_id)"
            " VALUES (:page_id, :revision, :date_shown, :date, :summary, :author,"
            " :size_change, :minor, :deleted, :current, :served, :crawl_id)"
            " ON CONFLICT (page_id, revision) DO UPDATE SET date_shown = :date_shown,"
            " date = :date, summary = :summary, author = :author, size_change = :size_change,"
            " minor = :minor, deleted = :deleted, current = :current, served = :served,"
            " crawl_id = :crawl_id",
            {**listed, "page_id": page_id, "crawl_id": crawl_id},
        )
        if listed["current"]:
            self.db.execute(
                "UPDATE revisions SET current = 0 WHERE page_id = ? AND revision != ?",
                (page_id, listed["revision"]),
            )

    def revisions_of(self, page_id: str) -> list[sqlite3.Row]:
        """The page's listed revisions, oldest first."""
        return self.db.execute(
            "SELECT * FROM revisions WHERE page_id = ? ORDER BY revision", (page_id,)
        ).fetchall()

    def all_revisions(self) -> Iterator[sqlite3.Row]:
        """Every listed revision with its archived version's locator, by page and time."""
        return self.db.execute(
            "SELECT r.*, v.warc_filename, v.warc_offset, w.page_id IS NOT NULL AS complete"
            " FROM revisions r LEFT JOIN page_versions v USING (version_id)"
            " LEFT JOIN revision_walks w USING (page_id) ORDER BY r.page_id, r.revision"
        )

    def set_revision_version(self, page_id: str, revision: int, version_id: int) -> None:
        """The revision's content is this version (and the version is that revision)."""
        self.db.execute(
            "UPDATE revisions SET version_id = ?, not_served = 0"
            " WHERE page_id = ? AND revision = ?",
            (version_id, page_id, revision),
        )
        self.db.execute(
            "UPDATE page_versions SET revision = ? WHERE version_id = ?", (revision, version_id)
        )

    def mark_not_served(self, page_id: str, revision: int) -> None:
        self.db.execute(
            "UPDATE revisions SET not_served = 1 WHERE page_id = ? AND revision = ?"
            " AND version_id IS NULL",
            (page_id, revision),
        )

    def revision_version(self, page_id: str, revision: int) -> Version | None:
        row = self.db.execute(
            "SELECT version_id FROM page_versions WHERE page_id = ? AND revision = ?"
            " ORDER BY version_id LIMIT 1",
            (page_id, revision),
        ).fetchone()
        return self.version(row[0]) if row else None

    def versions_without_revision(self, page_id: str) -> list[tuple[int, str | None]]:
        """(version id, last modified) of the page's versions no revision is known for."""
        return [
            (row[0], row[1])
            for row in self.db.execute(
                "SELECT version_id, last_modified FROM page_versions"
                " WHERE page_id = ? AND revision IS NULL",
                (page_id,),
            )
        ]

    def add_walk(self, page_id: str, crawl_id: str) -> None:
        self.db.execute("INSERT OR REPLACE INTO revision_walks VALUES (?, ?)", (page_id, crawl_id))

    def is_walked(self, page_id: str) -> bool:
        found = self.db.execute("SELECT 1 FROM revision_walks WHERE page_id = ?", (page_id,))
        return found.fetchone() is not None

    def history_known(self) -> dict[str, dict]:
        """Per page held or listed: whether its revision list was read to its end
        ("walked"), the revisions listed ("listed"), those whose content is archived
        ("archived"), those the wiki serves but whose content is not archived yet
        ("missing"), and the dates shown by its captures no revision is known for yet
        ("dates")."""
        known: dict[str, dict] = {}

        def entry(page_id: str) -> dict:
            return known.setdefault(
                page_id,
                {"walked": False, "listed": set(), "archived": set(), "missing": set(),
                 "dates": []},
            )

        for (page_id,) in self.db.execute("SELECT page_id FROM page_state"):
            entry(page_id)
        for (page_id,) in self.db.execute("SELECT page_id FROM revision_walks"):
            entry(page_id)["walked"] = True
        for page_id, revision, version_id, gone in self.db.execute(
            "SELECT page_id, revision, version_id, deleted OR NOT served OR not_served"
            " FROM revisions"
        ):
            entry(page_id)["listed"].add(revision)
            if version_id is not None:
                entry(page_id)["archived"].add(revision)
            elif not gone:
                entry(page_id)["missing"].add(revision)
        for page_id, date in self.db.execute(
            "SELECT page_id, last_modified FROM page_versions WHERE revision IS NULL"
        ):
            entry(page_id)["dates"].append(date)
        return known

    def keep_version_page(self, version_id: int, page: bytes) -> None:
        self.db.execute("INSERT OR IGNORE INTO version_pages VALUES (?, ?)", (version_id, page))

    def version_page(self, version_id: int) -> bytes | None:
        row = self.db.execute(
            "SELECT page FROM version_pages WHERE version_id = ?", (version_id,)
        ).fetchone()
        return row[0] if row else None

    def revision_changes(self, page_id: str) -> list[sqlite3.Row]:
        return self.db.execute(
            "SELECT * FROM changes WHERE page_id = ? AND revision_after IS NOT NULL",
            (page_id,),
        ).fetchall()

    def delete_revision_change(self, page_id: str, revision_after: int) -> None:
        self.db.execute(
            "DELETE FROM changes WHERE page_id = ? AND revision_after = ?",
            (page_id, revision_after),
        )

    # ---- page sources (do=export_raw)

    def add_source(self, row: dict) -> None:
        names = ", ".join(row)
        marks = ", ".join("?" for _ in row)
        self.db.execute(f"INSERT INTO sources ({names}) VALUES ({marks})", tuple(row.values()))

    def date_current_sources(self, page_id: str, crawl_id: str, revision: int) -> None:
        """Sources of the current page fetched by this crawl are of this revision."""
        self.db.execute(
            "UPDATE sources SET revision = ? WHERE page_id = ? AND crawl_id = ?"
            " AND revision IS NULL",
            (revision, page_id, crawl_id),
        )

    def sources(self) -> Iterator[sqlite3.Row]:
        return self.db.execute(
            "SELECT s.* FROM sources s JOIN crawls k USING (crawl_id)"
            " ORDER BY s.page_id, ifnull(s.revision, -1), k.seq, s.rowid"
        )

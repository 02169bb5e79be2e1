"""Archived responses into the catalog: the one place a capture becomes a page version.

Two ways in, one code path. The recorder hands each response to a :class:`CrawlIngest`
as it archives it, so the catalog is ready when the crawl ends; a rebuild reads the
same responses back from the WARC files (:func:`rebuild_catalog`, :func:`sync_catalog`)
and hands them to the same class. A crawl is applied in one transaction: a crawl killed
half-way leaves the catalog as it was, and the next run ingests its recovered files.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
from contextlib import suppress
from dataclasses import asdict, replace
from datetime import UTC
from email.utils import parsedate_to_datetime
from pathlib import Path

from warcio.timeutils import datetime_to_iso_date

from archive.catalog import CATALOG_NAME, Catalog, OutdatedCatalog
from archive.diff import PageChange, diff_pages
from archive.history import HistoryIngest
from archive.media import ResourceIngest, is_resource
from archive.reader import (
    ArchivedResponse,
    ArchiveError,
    crawl_files,
    iter_file_records,
    read_response,
    read_warcinfo,
)
from crawler.access import DENIED, Denial, denial, login_lost
from crawler.dokuwiki import history_view, page_id_from_url, request_kind
from crawler.page import Page, content_sha256, pack_page, unpack_page
from crawler.parse import parse_capture, parse_page
from crawler.requisites import Resource
from crawler.revisions import RevisionList

logger = logging.getLogger(__name__)

# Changes of access, in the changes table beside added, removed and modified.
NO_LONGER_READABLE = "no_longer_readable"
READABLE_AGAIN = "readable_again"


def is_article(resp: ArchivedResponse) -> bool:
    """True for a complete HTML answer to an article's permanent link.

    A truncated body (DOWNLOAD_FAIL_ON_DATALOSS off) is archived as received, never
    taken for the page.
    """
    return (
        resp.status == 200
        and not resp.truncated
        and "html" in resp.content_type
        and bool(resp.site)
        and page_id_from_url(resp.url, resp.site) is not None
    )


def is_history(resp: ArchivedResponse) -> bool:
    """A complete answer to a view of a history or source crawl: a revision list, an old
    revision, a page's markup."""
    return (
        resp.status == 200
        and not resp.truncated
        and bool(resp.site)
        and history_view(resp.url, resp.site) is not None
    )




def is_feed(resp: ArchivedResponse) -> bool:
    """The recent-changes feed as the crawl got it (a 304 names its validators too)."""
    return resp.status in (200, 304) and request_kind(resp.url, resp.site or "") == "feed"


def wants_body(resp: ArchivedResponse) -> bool:
    """Records whose payload the ingest reads: articles, revision lists, old revisions and
    sources, and the files a page loads."""
    return is_article(resp) or is_history(resp) or (resp.status == 200 and is_resource(resp))


def is_sitemap(resp: ArchivedResponse) -> bool:
    return request_kind(resp.url, resp.site or "") == "sitemap"


class CrawlIngest:
    """Applies one crawl's archived responses to the catalog, in the order archived.

    Opens a transaction at once; :meth:`finish` commits it, :meth:`abort` rolls it back.

    An article DokuWiki refused to show ("Permission Denied") is no version and no removal:
    the page keeps its state, and the refusal is recorded beside it (``page_access``).
    A change of access is news only between crawls of the same account (or two
    anonymous ones): a page read with a login and refused to an anonymous crawl is
    what anyone expects, not a change of the wiki.
    """

    def __init__(
        self,
        catalog: Catalog,
        warc_dir: Path,
        *,
        crawl_id: str,
        site: str,
        mode: str,
        started_at: str,
        date_format: str | None = None,
        login: str | None = None,
        login_method: str | None = None,
    ):
        self.catalog = catalog
        self.crawl_id = crawl_id
        self.date_format = date_format
        self.login = login or None  # the account the crawl logged in as; None: anonymous
        self.login_method = login_method if self.login else None
        self.pages = PageReader(warc_dir, date_format)
        self.warc_dir = Path(warc_dir)
        catalog.begin()
        catalog.start_crawl(crawl_id, site, mode, started_at, self.login)
        self.previous = catalog.last_crawl_id(site, before_seq=catalog.crawl_seq(crawl_id))
        self.before: dict[str, int | None] = {}  # each page's version before this crawl
        self.access_before: dict[str, sqlite3.Row] = {}  # and its refusal, if it had one
        self.denied: set[str] = set()  # pages refused to this crawl
        self.history = HistoryIngest(catalog, crawl_id, date_format, self.pages)
        # articles (refused ones too), revision lists, old revisions and sources recorded
        self.captures = 0
        self.resources = ResourceIngest(catalog.db, crawl_id, self._body)
        self._found: tuple[Resource, ...] | ArchivedResponse = ()

    def add(self, resp: ArchivedResponse) -> Page | RevisionList | Denial | None:
        """Record one response; return the page it holds when it is an article, the
        revisions it lists when it is a revision list, the denial when DokuWiki refused
        to show it."""
        self._remember(resp)
        self._found = ()
        if self.resources.add(resp):
            self._found = resp  # what it loads is read only if the crawl asks (take_found)
            return None
        if is_history(resp):
            view = history_view(resp.url, resp.site)
            self.captures += 1
            body = self._body(resp)
            refused = denial(body)
            if refused is not None:
                return refused  # no revision and no list: the page's answer tells its access
            return self.history.add(resp, view, body)
        if not is_article(resp):
            return None
        body = self._body(resp)
        self.captures += 1
        refused = denial(body)
        if refused is not None:
            self._deny(resp, refused)
            return refused
        page, self._found = parse_capture(
            resp.url, body, site=resp.site, date_format=self.date_format
        )
        self._apply(resp, page)
        self.resources.page(page, self._found)
        return page

    def take_found(self, *, parse: bool = True) -> tuple[Resource, ...]:
        """What the response last added loads and links on the wiki: an article's
        requisites, media files and detail pages (from its one parse); with *parse*, a
        stylesheet's ``url(...)`` and a detail page's image and original file."""
        found, self._found = self._found, ()
        if isinstance(found, ArchivedResponse):
            return self.resources.found_in(found) if parse else ()
        return found

    def finish(self, summary: dict, files: list[str]) -> None:
        """The crawl's outcome and errors, the files now ingested; then commit."""
        self.history.finish()
        self.resources.skipped(summary.get("skipped_files", []), summary.get("finished_at") or "")
        self._record_media_changes()
        self.catalog.finish_crawl(summary, self.captures)
        self.catalog.set_not_readable(self.crawl_id, len(self.denied))
        self.catalog.add_errors(self.crawl_id, summary.get("error_list", []))
        self.catalog.add_ingested_files(self.crawl_id, files)
        self.catalog.commit()

    def abort(self) -> None:
        self.catalog.rollback()

    def _body(self, resp: ArchivedResponse) -> bytes:
        """The payload, a revisit's from the record it refers to; never invented."""
        if resp.body is not None:
            return resp.body
        original = self.catalog.payload_record(resp.refers_to or "")
        if original is None:
            raise ArchiveError(
                f"{resp.filename}@{resp.offset}: revisit of {resp.url} refers to "
                f"{resp.refers_to or 'no record'}, which is not in the archive"
            )
        body = read_response(
            self.warc_dir, original["warc_filename"], original["warc_offset"]
        ).body
        assert body is not None
        return body

    def _apply(self, resp: ArchivedResponse, page: Page) -> None:
        page_id = page_id_from_url(resp.url, resp.site)
        state = self.catalog.state(page_id)
        present = state is not None and bool(state["present"])
        current = state["version_id"] if present else None
        was_page = self._was(page_id, state)
        capture = self._capture(resp)
        self.catalog.clear_access(page_id)  # the wiki answered for the page
        self.denied.discard(page_id)
        now = None
        if page.exists:
            sha = content_sha256(page)
            version = self.catalog.version(current)
            if version and (version.content_sha256, version.last_modified) == (
                sha,
                page.last_modified,
            ):
                self.catalog.touch_version(version.version_id, self.crawl_id)
                now = version.version_id
            else:
                now = self.catalog.add_version(page_id, sha, page.last_modified, capture)
            self.catalog.set_state(page_id, True, now, capture, pack_page(page))
        elif state is not None:
            self.catalog.set_state(page_id, False, None, capture, None)
        self._record_change(page_id, page, now, (self.before[page_id], was_page))

    def _was(self, page_id: str, state: sqlite3.Row | None) -> Page | None:
        """The page as it stood before this crawl, noting its version and refusal then:
        its state's parsed copy, unless this crawl already captured it once (rare), then
        its version's capture."""
        present = state is not None and bool(state["present"])
        if page_id not in self.before:
            self.before[page_id] = state["version_id"] if present else None
            refusal = self.catalog.access(page_id)
            if refusal is not None:  # rare: no entry for every page of a big wiki
                self.access_before[page_id] = refusal
            return unpack_page(state["page"]) if present else None
        old = self.catalog.version(self.before[page_id])
        return self.pages.at(old.warc_filename, old.warc_offset) if old else None

    def _capture(self, resp: ArchivedResponse) -> dict:
        return {
            "crawl_id": self.crawl_id,
            "warc_filename": resp.filename,
            "warc_offset": resp.offset,
            "fetched_at": resp.date.isoformat(),
        }

    def _refused_before(self, page_id: str) -> bool:
        """Whether the wiki refused the page to this crawl's account before this crawl."""
        refusal = self.access_before.get(page_id)
        return refusal is not None and refusal["login"] == self.login

    def _deny(self, resp: ArchivedResponse, refused: Denial) -> None:
        """DokuWiki refused the page: record the refusal; the page's state stays."""
        if login_lost(refused, self.login_method):
            # The wiki no longer sees the login: no word on the account's rights. The
            # crawl reports the page as failed (crawler.spiders.wiki).
            return
        page_id = page_id_from_url(resp.url, resp.site)
        state = self.catalog.state(page_id)
        self._was(page_id, state)
        refusal = self.catalog.access(page_id)
        same = refusal is not None and refusal["login"] == self.login
        since = refusal["since_crawl_id"] if same else self.crawl_id
        self.catalog.set_access(
            page_id, {"access": DENIED, "login": self.login, "since_crawl_id": since},
            self._capture(resp),
        )
        self.denied.add(page_id)
        self.catalog.delete_change(self.crawl_id, page_id)  # captured twice: the last counts
        before = self.catalog.version(self.before[page_id])
        if before is None or self._refused_before(page_id):
            return  # never read, or already refused to this account: nothing new
        if self.catalog.crawl_login(state["crawl_id"]) != self.login:
            return  # read with another account (or none): this account never could
        change = _unchanged(page_id, before.last_modified, NO_LONGER_READABLE)
        self._add_change(change, before.version_id, before.version_id)

    def _record_change(
        self, page_id: str, page: Page, now: int | None, was: tuple[int | None, Page | None]
    ) -> None:
        """The page's change in this crawl: from its state before the crawl to now."""
        self.catalog.delete_change(self.crawl_id, page_id)  # captured twice: the last counts
        again = page.exists and self._refused_before(page_id)
        if was[0] == now and not again:
            return
        change = diff_pages(was[1], page)
        if again:
            # Readable again to the account it was refused to; what changed meanwhile,
            # if anything, is counted against the last version read.
            change = (
                replace(change, change=READABLE_AGAIN)
                if change is not None
                else _unchanged(page_id, page.last_modified, READABLE_AGAIN)
            )
        if change is not None:
            self._add_change(change, was[0], now)

    def _add_change(self, change: PageChange, before: int | None, after: int | None) -> None:
        row = asdict(change)
        row.update(
            from_crawl_id=self.previous,
            to_crawl_id=self.crawl_id,
            before_version_id=before,
            after_version_id=after,
        )
        self.catalog.add_change(row)

    def _record_media_changes(self) -> None:
        """Pages showing a media file whose file changed in this crawl say so in their
        change (one is made, text unchanged, when the page's text did not change)."""
        for page_id, media_ids in self.resources.media_changes_by_page().items():
            if self.catalog.set_media_changed(self.crawl_id, page_id, len(media_ids)):
                continue
            state = self.catalog.state(page_id)
            if state is None or not state["present"]:
                continue
            version = self.catalog.version(state["version_id"])
            self.catalog.add_change({
                "from_crawl_id": self.previous,
                "to_crawl_id": self.crawl_id,
                "page_id": page_id,
                "change": "modified",
                "title_changed": 0,
                "body_changed": 0,
                "footnotes_added": 0,
                "footnotes_removed": 0,
                "last_modified_before": version.last_modified if version else None,
                "last_modified_after": version.last_modified if version else None,
                "chars_added": 0,
                "chars_removed": 0,
                "before_version_id": state["version_id"],
                "after_version_id": state["version_id"],
                "media_changed": len(media_ids),
            })

    def _remember(self, resp: ArchivedResponse) -> None:
        """What every capture leaves: its payload for later revisits, the feed's validators."""
        if resp.rec_type == "response" and resp.payload_digest and resp.record_id:
            self.catalog.add_payload(
                resp.payload_digest,
                {
                    "uri": resp.url,
                    # the referred record's WARC-Date, as WARC-Refers-To-Date must be
                    "date": datetime_to_iso_date(
                        resp.date.astimezone(UTC).replace(tzinfo=None), use_micros=True
                    ),
                    "record_id": resp.record_id,
                    "warc_filename": resp.filename,
                    "warc_offset": resp.offset,
                },
            )
        if is_feed(resp):
            self.catalog.set_feed(self.crawl_id, _iso_http_date(resp.last_modified), resp.etag)
        elif is_sitemap(resp) and resp.status in (200, 304):
            self.catalog.set_sitemap(self.crawl_id, resp.last_modified, resp.etag)


def _unchanged(page_id: str, last_modified: str | None, kind: str) -> PageChange:
    """A change of access alone: the content as it was."""
    return PageChange(page_id, kind, False, False, 0, 0, last_modified, last_modified, 0, 0)


class PageReader:
    """Pages parsed again from their records, each with its own crawl's site and date
    format (unless one format is forced)."""

    def __init__(self, warc_dir: Path, date_format: str | None = None):
        self.warc_dir = Path(warc_dir)
        self.date_format = date_format
        self._infos: dict[str, dict[str, str]] = {}

    def at(self, filename: str, offset: int) -> Page:
        """The page parsed from the response record at a locator."""
        if filename not in self._infos:
            self._infos[filename] = read_warcinfo(self.warc_dir / filename)
        info = self._infos[filename]
        resp = read_response(self.warc_dir, filename, offset)
        return parse_page(
            resp.url,
            resp.body or b"",
            site=info.get("wikiarchive-site") or "",
            date_format=self.date_format or crawl_date_format(info),
        )


def ingest_crawl(
    catalog: Catalog, warc_dir: Path, files: list[Path], *, date_format: str | None = None
) -> None:
    """Apply one crawl, read from its WARC files, to the catalog (all or nothing)."""
    info = read_warcinfo(files[0])
    summary = _summary_from_warcinfo(info)
    ingest = CrawlIngest(
        catalog,
        warc_dir,
        crawl_id=summary["crawl_id"],
        site=summary["site"],
        mode=summary["mode"],
        started_at=summary["started_at"],
        date_format=date_format or crawl_date_format(info),
        login=info.get("wikiarchive-login-user"),
        login_method=info.get("wikiarchive-login-method"),
    )
    try:
        for path in files:
            for item in iter_file_records(path, want_body=wants_body):
                if isinstance(item, dict):
                    summary = item
                else:
                    ingest.add(item)
        ingest.finish(summary, [p.name for p in files])
    except BaseException:
        ingest.abort()
        raise


def rebuild_catalog(out_dir: Path, *, date_format: str | None = None) -> Path:
    """Build ``OUT/catalog.sqlite`` anew from ``OUT/warc/`` and swap it in.

    Call only while holding the folder's lock.
    """
    out_dir = Path(out_dir)
    target = out_dir / CATALOG_NAME
    scratch = out_dir / (CATALOG_NAME + ".new")
    _remove_database(scratch)
    catalog = Catalog(scratch)
    try:
        for files in crawl_files(out_dir / "warc").values():
            ingest_crawl(catalog, out_dir / "warc", files, date_format=date_format)
        catalog.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        catalog.close()
    # The old database's -wal and -shm must not be paired with the new file.
    for leftover in _sidecars(target):
        leftover.unlink(missing_ok=True)
    os.replace(scratch, target)
    return target


def sync_catalog(out_dir: Path) -> str:
    """Bring the catalog up to the closed WARC files; return what was done.

    Crawls it lacks (one recovered after a kill) are ingested when they come after
    every crawl it holds; anything else (a lost, outdated or inconsistent catalog, a
    file of a known crawl not ingested, a WARC file gone) rebuilds it from the WARCs.
    Call only while holding the folder's lock.
    """
    out_dir = Path(out_dir)
    warc_dir = out_dir / "warc"
    path = out_dir / CATALOG_NAME
    crawls = crawl_files(warc_dir)
    if not path.exists():
        if not crawls:
            return "empty"
        rebuild_catalog(out_dir)
        return "rebuilt"
    try:
        catalog = Catalog(path)
    except (OutdatedCatalog, sqlite3.DatabaseError) as exc:
        # Derived data: an outdated or damaged catalog is made again from the WARCs.
        logger.warning("%s: %s; rebuilding it from the WARC files", path.name, exc)
        rebuild_catalog(out_dir)
        return "rebuilt"
    try:
        known = [row["crawl_id"] for row in catalog.crawls()]
        new = _new_crawls(catalog.ingested_files(), known, crawls)
        if new is None:
            catalog.close()
            logger.warning("The catalog does not match the WARC files; rebuilding it")
            rebuild_catalog(out_dir)
            return "rebuilt"
        for crawl_id in new:
            ingest_crawl(catalog, warc_dir, crawls[crawl_id])
        return f"ingested {len(new)}" if new else "up to date"
    finally:
        catalog.close()


def _new_crawls(
    ingested: dict[str, str], known: list[str], on_disk: dict[str, list[Path]]
) -> list[str] | None:
    """Crawls to ingest after the known ones, or None when only a rebuild is right."""
    files = {p.name: crawl_id for crawl_id, paths in on_disk.items() for p in paths}
    if any(files.get(name) != crawl_id for name, crawl_id in ingested.items()):
        return None  # a file the catalog relies on is gone
    known_set = set(known)
    if any(crawl_id in known_set and name not in ingested for name, crawl_id in files.items()):
        return None  # part of a known crawl was never ingested
    if list(on_disk)[: len(known)] != known:
        return None  # a crawl on disk started before one the catalog holds
    return list(on_disk)[len(known):]


def _sidecars(database: Path) -> tuple[Path, Path]:
    return Path(f"{database}-wal"), Path(f"{database}-shm")


def _remove_database(path: Path) -> None:
    for leftover in (path, *_sidecars(path)):
        with suppress(FileNotFoundError):
            leftover.unlink()


def _summary_from_warcinfo(info: dict[str, str]) -> dict:
    """An interrupted crawl has no summary record: what its warcinfo says."""
    return {
        "crawl_id": info.get("wikiarchive-crawl-id"),
        "site": info.get("wikiarchive-site"),
        "mode": info.get("wikiarchive-mode", "full"),
        "started_at": info.get("wikiarchive-started-at"),
        "finish_reason": "interrupted",
    }


def _iso_http_date(value: str | None) -> str | None:
    try:
        return parsedate_to_datetime(value).isoformat() if value else None
    except (TypeError, ValueError):
        return None


def crawl_date_format(warcinfo: dict[str, str]) -> str | None:
    """The date format the crawl ran with, so a rebuild reads dates the same way."""
    try:
        return json.loads(warcinfo.get("wikiarchive-settings", "{}")).get("WIKI_DATE_FORMAT")
    except ValueError:
        return None

"""Wiki revisions into the catalog: revision lists, old revisions and page sources.

Part of the ingest: :class:`archive.ingest.CrawlIngest` hands these responses here, in
the crawl and in a rebuild alike. A wiki revision is (page id, revision time). Its content
is a page version: the version of its rendered old revision (``&rev=``), or, for the
revision that was current when a crawl captured the page, the version of that capture
(matched by the date the page shows, :func:`crawler.revisions.dates_to_versions`), so a
page held from an earlier crawl is never fetched again to fill in its history. When the
crawl ends, each page it touched gets one change row per pair of consecutive revisions
whose content is known (:meth:`HistoryIngest.finish`).
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict

from archive.catalog import Catalog
from archive.diff import diff_pages
from archive.reader import ArchivedResponse
from crawler.page import Page, content_sha256, pack_page, unpack_page
from crawler.parse import parse_page
from crawler.revisions import RevisionList, dates_to_versions, parse_revision_list


class HistoryIngest:
    """The history part of one crawl's ingest (same transaction)."""

    def __init__(self, catalog: Catalog, crawl_id: str, date_format: str | None, pages):
        self.catalog = catalog
        self.crawl_id = crawl_id
        self.date_format = date_format
        self.pages = pages  # archive.ingest.PageReader, for captures parsed before
        self.touched: set[str] = set()
        self.current: dict[str, int] = {}  # page id -> its current revision, as listed now

    def add(
        self, resp: ArchivedResponse, view: tuple[str, str, int | None], body: bytes
    ) -> RevisionList | None:
        """Record a revision list, an old revision or a source; return a list read."""
        kind, page_id, number = view
        if kind == "revisions":
            return self._list(page_id, number or 0, body)
        capture = {
            "crawl_id": self.crawl_id,
            "warc_filename": resp.filename,
            "warc_offset": resp.offset,
            "fetched_at": resp.date.isoformat(),
        }
        if kind == "revision" and number is not None:
            self._revision(resp, page_id, number, body, capture)
        elif kind == "source" and resp.content_type.startswith("text/plain"):
            # A page or revision that does not exist answers with an HTML page.
            markup = body.decode("utf-8", errors="replace")
            self.catalog.add_source(
                {
                    "page_id": page_id,
                    "revision": number,
                    "markup": markup,
                    "sha256": hashlib.sha256(body).hexdigest(),
                    **capture,
                }
            )
        return None

    def _list(self, page_id: str, first: int, body: bytes) -> RevisionList | None:
        listing = parse_revision_list(
            body, page_id=page_id, first=first, date_format=self.date_format
        )
        if listing is None:
            return None
        for rev in listing.revisions:
            self.catalog.list_revision(page_id, asdict(rev), self.crawl_id)
            if rev.current:
                self.current[page_id] = rev.revision
        if listing.next_first is None:
            # The spider reads a list screen after screen, so its last screen means the
            # whole list was read in this crawl.
            self.catalog.add_walk(page_id, self.crawl_id)
        self.touched.add(page_id)
        return listing

    def _revision(
        self, resp: ArchivedResponse, page_id: str, revision: int, body: bytes, capture: dict
    ) -> None:
        page = parse_page(resp.url, body, site=resp.site or "", date_format=self.date_format)
        self.touched.add(page_id)
        if not page.exists:  # "No such revision": listed, but its text is gone
            self.catalog.mark_not_served(page_id, revision)
            return
        version = self.catalog.revision_version(page_id, revision)
        if version is not None:
            self.catalog.touch_version(version.version_id, self.crawl_id)
            version_id = version.version_id
        else:
            version_id = self.catalog.add_version(
                page_id, content_sha256(page), page.last_modified, capture, revision
            )
        self.catalog.keep_version_page(version_id, pack_page(page))
        self.catalog.set_revision_version(page_id, revision, version_id)

    def finish(self) -> None:
        """Match revisions to the captures that hold them, then the changes between them."""
        for page_id in sorted(self.touched):
            self._match(page_id)
            self._changes(page_id)

    def _match(self, page_id: str) -> None:
        rows = self.catalog.revisions_of(page_id)
        for row in rows:
            if row["version_id"] is None and not row["deleted"]:
                version = self.catalog.revision_version(page_id, row["revision"])
                if version is not None:
                    self.catalog.set_revision_version(page_id, row["revision"], version.version_id)
        current, state = self.current.get(page_id), self.catalog.state(page_id)
        captured_now = state is not None and state["crawl_id"] == self.crawl_id
        if current is not None and captured_now and state["version_id"] is not None:
            # Captured in this crawl, which listed `current` as the current revision: the
            # capture holds it if it shows its date (even one an older revision shares).
            version = self.catalog.version(state["version_id"])
            row = next((r for r in rows if r["revision"] == current), None)
            if (version.revision is None and row is not None and row["version_id"] is None
                    and row["date"] and row["date"] == version.last_modified):
                self.catalog.set_revision_version(page_id, current, version.version_id)
        matched = dates_to_versions(
            ((row["revision"], row["date"]) for row in rows if not row["deleted"]),
            self.catalog.versions_without_revision(page_id),
        )
        held = {row["revision"] for row in self.catalog.revisions_of(page_id)
                if row["version_id"] is not None}
        for revision, version_id in sorted(matched.items()):
            if revision not in held:  # one version per revision
                self.catalog.set_revision_version(page_id, revision, version_id)
        if current is not None and captured_now:
            version = self.catalog.revision_version(page_id, current)
            if version is not None and version.version_id == state["version_id"]:
                self.catalog.date_current_sources(page_id, self.crawl_id, current)

    def _changes(self, page_id: str) -> None:
        """One change row per pair of consecutive revisions whose content is known: a
        version, or nothing for a deletion. A revision whose text is not archived is
        skipped (the row names the two revisions it spans); the first revision counts as
        added only when the list was read to its end and that revision is known."""
        wanted: dict[int, tuple[int | None, int | None, int | None]] = {}
        started = self.catalog.is_walked(page_id)  # what was before the first: nothing
        before: tuple[int | None, int | None] = (None, None)
        for i, row in enumerate(self.catalog.revisions_of(page_id)):
            if not row["deleted"] and row["version_id"] is None:
                started = started and i > 0
                continue
            after = None if row["deleted"] else row["version_id"]
            if started:
                wanted[row["revision"]] = (*before, after)
            before, started = (row["revision"], after), True
        existing = {row["revision_after"]: row for row in self.catalog.revision_changes(page_id)}
        for revision, row in existing.items():
            key = (row["revision_before"], row["before_version_id"], row["after_version_id"])
            if wanted.get(revision) != key:
                self.catalog.delete_revision_change(page_id, revision)
        for revision, (revision_before, before_id, after_id) in sorted(wanted.items()):
            old = existing.get(revision)
            if old is not None and wanted[revision] == (
                old["revision_before"], old["before_version_id"], old["after_version_id"]
            ):
                continue
            change = diff_pages(self._page(page_id, before_id), self._page(page_id, after_id))
            if change is None:
                continue
            earlier = self.catalog.version(before_id)
            row = asdict(change)
            row.update(
                from_crawl_id=self._first_crawl(earlier.version_id) if earlier else None,
                to_crawl_id=self.crawl_id,
                before_version_id=before_id,
                after_version_id=after_id,
                revision_before=revision_before,
                revision_after=revision,
            )
            self.catalog.add_change(row)

    def _first_crawl(self, version_id: int) -> str:
        return self.catalog.db.execute(
            "SELECT first_crawl_id FROM page_versions WHERE version_id = ?", (version_id,)
        ).fetchone()[0]

    def _page(self, page_id: str, version_id: int | None) -> Page | None:
        """A version's page as parsed when archived: kept, the page's current state, or
        (a capture of an earlier crawl no longer current) parsed again from its record."""
        if version_id is None:
            return None
        blob = self.catalog.version_page(version_id)
        if blob is None:
            state = self.catalog.state(page_id)
            if state is not None and state["version_id"] == version_id and state["page"]:
                blob = state["page"]
            else:
                version = self.catalog.version(version_id)
                blob = pack_page(self.pages.at(version.warc_filename, version.warc_offset))
            self.catalog.keep_version_page(version_id, blob)
        return unpack_page(blob)

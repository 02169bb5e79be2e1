"""Replay crawls from their WARC files into the catalog: versions, page states, changes.

A crawl is ingested once, at its end; rebuilding the catalog is ingesting every
crawl again in order, from the WARC files alone.
"""

from __future__ import annotations

import json
import os
from contextlib import suppress
from dataclasses import asdict
from datetime import UTC
from email.utils import parsedate_to_datetime
from pathlib import Path

from warcio.timeutils import datetime_to_iso_date

from archive.catalog import CATALOG_NAME, Catalog
from archive.diff import diff_pages
from archive.reader import (
    CaptureRef,
    iter_file_records,
    iter_warcinfos,
    read_capture,
    read_warcinfo,
    warc_files,
)
from crawler.dokuwiki import page_id_from_url, request_kind
from crawler.page import Page, content_sha256, pack_page, unpack_page
from crawler.parse import parse_page


def crawl_files(warc_dir: Path) -> dict[str, list[Path]]:
    """Closed WARC files grouped by crawl id, crawls in the order they started."""
    files: dict[str, list[Path]] = {}
    for path, info in iter_warcinfos(warc_dir):
        crawl_id = info.get("wikiarchive-crawl-id")
        if crawl_id:
            files.setdefault(crawl_id, []).append(path)
    return files


def is_article(ref: CaptureRef) -> bool:
    # A truncated body (DOWNLOAD_FAIL_ON_DATALOSS off) is archived as received, never
    # taken for the page.
    return (
        ref.status == 200
        and not ref.truncated
        and "html" in ref.content_type
        and bool(ref.site)
        and page_id_from_url(ref.url, ref.site) is not None
    )


def is_feed(ref: CaptureRef) -> bool:
    """The recent-changes feed as the crawl got it (a 304 names its validators too)."""
    return ref.status in (200, 304) and request_kind(ref.url, ref.site or "") == "feed"


class Replayer:
    """Parses captures for one catalog; a date format override applies to every crawl."""

    def __init__(self, catalog: Catalog, warc_dir: Path, date_format: str | None = None):
        self.catalog = catalog
        self.warc_dir = Path(warc_dir)
        self.date_format = date_format
        self._infos: dict[str, dict[str, str]] = {}

    def ingest(self, crawl_id: str, files: list[Path]) -> None:
        """Record one crawl's captures, page states and changes in one transaction.

        One pass over its files; each article is parsed once, and its parsed form kept
        with the page's state, so tables and later diffs need not parse it again.
        """
        info = read_warcinfo(files[0])
        summary = _summary_from_warcinfo(info)
        with self.catalog.transaction():
            self.catalog.start_crawl(crawl_id, summary["site"], summary["mode"],
                                     summary["started_at"])
            seq = self.catalog.crawl_seq(crawl_id)
            previous = self.catalog.last_crawl_id(summary["site"], before_seq=seq)
            before: dict[str, int | None] = {}  # version before this crawl, by page
            for path in files:
                for item in iter_file_records(path, want_body=is_article):
                    if isinstance(item, dict):
                        summary = item
                    elif is_article(item):
                        self._apply(item, crawl_id, previous, before)
                    else:
                        self._remember(item, crawl_id)
            self.catalog.finish_crawl(summary)
            self.catalog.add_errors(crawl_id, summary.get("error_list", []))

    def page_at(self, filename: str, offset: int) -> Page:
        """The page parsed from the response record at a locator."""
        info = self._warcinfo(filename)
        capture = read_capture(self.warc_dir, filename, offset)
        return parse_page(
            capture.url,
            capture.body,
            site=info.get("wikiarchive-site") or "",
            date_format=self.date_format or _crawl_date_format(info),
        )

    def _warcinfo(self, filename: str) -> dict[str, str]:
        if filename not in self._infos:
            self._infos[filename] = read_warcinfo(self.warc_dir / filename)
        return self._infos[filename]

    def _apply(
        self,
        ref: CaptureRef,
        crawl_id: str,
        previous: str | None,
        before: dict[str, int | None],
    ) -> None:
        self._remember(ref, crawl_id)
        page = self._parse(ref)
        page_id = page_id_from_url(ref.url, ref.site)
        state = self.catalog.state(page_id)
        present = state is not None and bool(state["present"])
        current = state["version_id"] if present else None
        # The page as it stood before this crawl: its state's parsed copy, unless this
        # crawl already captured it once (rare), then its version's capture.
        if page_id not in before:
            before[page_id] = current
            was_page = unpack_page(state["page"]) if present else None
        else:
            old = self.catalog.version(before[page_id])
            was_page = self.page_at(old.warc_filename, old.warc_offset) if old else None
        capture = {
            "crawl_id": crawl_id,
            "warc_filename": ref.filename,
            "warc_offset": ref.offset,
            "fetched_at": ref.date.isoformat(),
        }
        now = None
        if page.exists:
            sha = content_sha256(page)
            version = self.catalog.version(current)
            if version and (version.content_sha256, version.last_modified) == (
                sha,
                page.last_modified,
            ):
                self.catalog.touch_version(version.version_id, crawl_id)
                now = version.version_id
            else:
                now = self.catalog.add_version(page_id, sha, page.last_modified, capture)
            self.catalog.set_state(page_id, True, now, capture, pack_page(page))
        elif state is not None:
            self.catalog.set_state(page_id, False, None, capture, None)
        self._record_change(page_id, page, now, crawl_id, previous, (before[page_id], was_page))

    def _record_change(
        self,
        page_id: str,
        page: Page,
        now: int | None,
        crawl_id: str,
        previous: str | None,
        was: tuple[int | None, Page | None],
    ) -> None:
        """The page's change in this crawl: from its state before the crawl to now."""
        self.catalog.delete_change(crawl_id, page_id)  # a page captured twice: the last counts
        if was[0] == now:
            return
        change = diff_pages(was[1], page)
        if change is None:
            return
        row = asdict(change)
        row.update(
            from_crawl_id=previous,
            to_crawl_id=crawl_id,
            before_version_id=was[0],
            after_version_id=now,
        )
        self.catalog.add_change(row)

    def _parse(self, ref: CaptureRef) -> Page:
        date_format = self.date_format or _crawl_date_format(ref.warcinfo)
        body = ref.body
        if ref.rec_type == "revisit":
            original = self.catalog.payload(ref.payload_digest or "")
            if original is not None:
                body = read_capture(
                    self.warc_dir, original["warc_filename"], original["warc_offset"]
                ).body
        return parse_page(ref.url, body or b"", site=ref.site, date_format=date_format)

    def _remember(self, ref: CaptureRef, crawl_id: str) -> None:
        """What every capture leaves: its payload for later revisits, the feed's validators."""
        if ref.rec_type == "response" and ref.payload_digest and ref.record_id:
            self.catalog.add_payload(
                ref.payload_digest,
                {
                    "uri": ref.url,
                    # the referred record's WARC-Date, as WARC-Refers-To-Date must be
                    "date": datetime_to_iso_date(
                        ref.date.astimezone(UTC).replace(tzinfo=None), use_micros=True
                    ),
                    "record_id": ref.record_id,
                    "warc_filename": ref.filename,
                    "warc_offset": ref.offset,
                },
            )
        if is_feed(ref):
            self.catalog.set_feed(crawl_id, _iso_http_date(ref.last_modified), ref.etag)


def rebuild_catalog(out_dir: Path, *, date_format: str | None = None) -> Path:
    """Build ``OUT/catalog.sqlite`` anew from ``OUT/warc/`` and swap it in."""
    out_dir = Path(out_dir)
    target = out_dir / CATALOG_NAME
    scratch = out_dir / (CATALOG_NAME + ".new")
    for leftover in (scratch, Path(f"{scratch}-wal"), Path(f"{scratch}-shm")):
        with suppress(FileNotFoundError):
            leftover.unlink()
    catalog = Catalog(scratch)
    try:
        replayer = Replayer(catalog, out_dir / "warc", date_format)
        for crawl_id, files in crawl_files(out_dir / "warc").items():
            replayer.ingest(crawl_id, files)
        catalog.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        catalog.close()
    os.replace(scratch, target)
    return target


def sync_catalog(out_dir: Path) -> None:
    """Bring the catalog up to the closed WARC files: rebuilt when missing, and any
    crawl it lacks (one recovered after a kill) ingested in order."""
    out_dir = Path(out_dir)
    path = out_dir / CATALOG_NAME
    if not path.exists():
        if warc_files(out_dir / "warc"):
            rebuild_catalog(out_dir)
        return
    catalog = Catalog(path)
    try:
        known = {row["crawl_id"] for row in catalog.crawls()}
        replayer = Replayer(catalog, out_dir / "warc")
        for crawl_id, files in crawl_files(out_dir / "warc").items():
            if crawl_id not in known:
                replayer.ingest(crawl_id, files)
    finally:
        catalog.close()


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


def _crawl_date_format(warcinfo: dict[str, str]) -> str | None:
    """The date format the crawl ran with, so a rebuild reads dates the same way."""
    try:
        return json.loads(warcinfo.get("wikiarchive-settings", "{}")).get("WIKI_DATE_FORMAT")
    except ValueError:
        return None

"""Readable change reports from the catalog: what ``wikiarchive changes`` prints."""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from pathlib import Path

from archive.catalog import CATALOG_NAME, Catalog
from archive.diff import unified_diff
from archive.ingest import PageReader
from archive.media import changed_media
from exports.tables import CHANGES, change_row
from exports.write import csv_value


class ReportError(Exception):
    """A request the catalog cannot answer (unknown crawl or page)."""


def change_rows(catalog: Catalog, since: str | None = None) -> list[dict]:
    """Changes after crawl ``since``; without it, those the latest crawl saw."""
    crawls = [row["crawl_id"] for row in catalog.crawls()]
    if since is not None and since not in crawls:
        raise ReportError(f"no crawl {since!r} in {catalog.path}")
    if since is None:
        if not crawls:
            return []
        rows = [r for r in catalog.changes() if r["to_crawl_id"] == crawls[-1]]
    else:
        rows = catalog.changes(since)
    media = changed_media(catalog.db)
    return [with_media(change_row(row), media) for row in rows]


def with_media(row: dict, media: dict[tuple[str, str], list[str]]) -> dict:
    """The row with ``media_ids``: the media files (space-separated) whose change it counts."""
    ids = media.get((row["to_crawl_id"], row["page_id"]), []) if row["media_changed"] else []
    return {**row, "media_ids": " ".join(ids)}


def render_text(rows: list[dict]) -> str:
    if not rows:
        return "No changes."
    lines = []
    for crawl_id in dict.fromkeys(r["to_crawl_id"] for r in rows):
        mine = [r for r in rows if r["to_crawl_id"] == crawl_id]
        counts = Counter(r["change"] for r in mine)
        since = mine[0]["from_crawl_id"] or "nothing"
        kinds = ("added", "removed", "modified")
        summary = ", ".join(f"{counts[k]} {k}" for k in kinds if counts[k])
        lines.append(f"Crawl {crawl_id} (since {since}): {summary}")
        width = max(len(r["page_id"]) for r in mine)
        for row in sorted(mine, key=lambda r: (r["change"], r["page_id"])):
            lines.append(f"  {row['change']:<9} {row['page_id']:<{width}}  {_parts(row)}".rstrip())
    return "\n".join(lines)


def render_csv(rows: list[dict]) -> str:
    out = io.StringIO()
    fields = [c.name for c in CHANGES] + ["media_ids"]
    writer = csv.DictWriter(out, fieldnames=fields, lineterminator="\r\n")
    writer.writeheader()
    writer.writerows({k: csv_value(v) for k, v in row.items()} for row in rows)
    return out.getvalue()


def render_json(rows: list[dict]) -> str:
    plain = [{k: csv_value(v) if v is not None else None for k, v in r.items()} for r in rows]
    return json.dumps(plain, indent=2, ensure_ascii=False)


def page_diff(out_dir: Path, page_id: str, crawl_id: str | None = None) -> str:
    """Unified diff of a page's text: its change in ``crawl_id`` (default: its latest)."""
    catalog = Catalog(Path(out_dir) / CATALOG_NAME)
    try:
        rows = [r for r in catalog.changes() if r["page_id"] == page_id]
        if crawl_id is not None:
            rows = [r for r in rows if r["to_crawl_id"] == crawl_id]
        if not rows:
            where = f" in crawl {crawl_id}" if crawl_id else ""
            raise ReportError(f"no change of page {page_id!r}{where}")
        row = rows[-1]
        reader = PageReader(Path(out_dir) / "warc")
        pages = []
        for version_id in (row["before_version_id"], row["after_version_id"]):
            version = catalog.version(version_id)
            pages.append(
                reader.at(version.warc_filename, version.warc_offset) if version else None
            )
        return unified_diff(pages[0], pages[1])
    finally:
        catalog.close()


def _parts(row: dict) -> str:
    if row["change"] != "modified":
        return ""
    parts = []
    if row["title_changed"]:
        parts.append("title")
    if row["body_changed"]:
        parts.append(f"text +{row['chars_added']}/-{row['chars_removed']} chars")
    if row["footnotes_added"] or row["footnotes_removed"]:
        parts.append(f"footnotes +{row['footnotes_added']}/-{row['footnotes_removed']}")
    if row["last_modified_before"] != row["last_modified_after"]:
        before, after = (_day(row[k]) for k in ("last_modified_before", "last_modified_after"))
        parts.append(f"last update {before} -> {after}")
    if row.get("media_changed"):
        parts.append(f"media files changed: {row.get('media_ids') or row['media_changed']}")
    return "; ".join(parts)


def _day(value: object) -> str:
    return csv_value(value) or "none"

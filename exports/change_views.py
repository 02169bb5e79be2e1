"""Readable change reports from the catalog: what ``wikiarchive changes`` prints."""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from archive.catalog import CATALOG_NAME, Catalog
from archive.diff import unified_diff
from archive.ingest import PageReader
from archive.media import changed_media
from exports.tables import CHANGES, change_row
from exports.write import csv_value

KINDS = ("added", "removed", "modified", "no_longer_readable", "readable_again")
# How the text report names a change of access.
LABELS = {"no_longer_readable": "no longer readable", "readable_again": "readable again"}
# Changes whose rows count what changed in the text.
WITH_PARTS = frozenset({"modified", "readable_again"})


def label(change: str) -> str:
    return LABELS.get(change, change)


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
        summary = ", ".join(f"{counts[k]} {label(k)}" for k in KINDS if counts[k])
        lines.append(f"Crawl {crawl_id} (since {since}): {summary}")
        width = max(len(r["page_id"]) for r in mine)
        kind_width = max(9, *(len(label(r["change"])) + 1 for r in mine))
        for row in sorted(mine, key=lambda r: (r["change"], r["page_id"],
                                               r["revision_after"] or -1)):
            parts = "; ".join(filter(None, (_revision(row), _parts(row))))
            kind = label(row["change"])
            lines.append(f"  {kind:<{kind_width}}{row['page_id']:<{width}}  {parts}".rstrip())
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


def page_diff(
    out_dir: Path, page_id: str, crawl_id: str | None = None, revisions: str | None = None
) -> str:
    """Unified diff of a page's text: its change in ``crawl_id`` (default: its latest), or
    between two wiki revisions (``revisions`` = ``"A..B"``, Unix times as in the revisions
    table; a single ``"B"`` is the change revision B made)."""
    catalog = Catalog(Path(out_dir) / CATALOG_NAME)
    try:
        if revisions is not None:
            versions = _revision_versions(catalog, page_id, revisions)
        else:
            rows = [r for r in catalog.changes() if r["page_id"] == page_id]
            if crawl_id is not None:
                rows = [r for r in rows if r["to_crawl_id"] == crawl_id]
            if not rows:
                where = f" in crawl {crawl_id}" if crawl_id else ""
                raise ReportError(f"no change of page {page_id!r}{where}")
            versions = (rows[-1]["before_version_id"], rows[-1]["after_version_id"])
        reader = PageReader(Path(out_dir) / "warc")
        pages = []
        for version_id in versions:
            version = catalog.version(version_id)
            pages.append(
                reader.at(version.warc_filename, version.warc_offset) if version else None
            )
        return unified_diff(pages[0], pages[1])
    finally:
        catalog.close()


def _revision_versions(
    catalog: Catalog, page_id: str, spec: str
) -> tuple[int | None, int | None]:
    """The versions holding revisions ``A..B`` of a page (None for a deletion)."""
    first, dots, last = spec.partition("..")
    try:
        wanted = [int(x) for x in ((first, last) if dots else (last or first,))]
    except ValueError:
        raise ReportError(
            f"--rev {spec!r}: give revisions as A..B or B, Unix times as in the revisions "
            "table (column revision)"
        ) from None
    listed = {row["revision"]: row for row in catalog.revisions_of(page_id)}
    if not listed:
        raise ReportError(f"no revisions of page {page_id!r} (crawl with --history)")
    for revision in wanted:
        row = listed.get(revision)
        if row is None:
            raise ReportError(f"page {page_id!r} lists no revision {revision}")
        if row["version_id"] is None and not row["deleted"]:
            raise ReportError(f"revision {revision} of page {page_id!r} is not archived")
    if len(wanted) == 1:
        change = next(
            (r for r in catalog.revision_changes(page_id) if r["revision_after"] == wanted[0]),
            None,
        )
        if change is None:
            raise ReportError(f"no change recorded for revision {wanted[0]} of {page_id!r}")
        return change["before_version_id"], change["after_version_id"]
    return listed[wanted[0]]["version_id"], listed[wanted[1]]["version_id"]


def _revision(row: dict) -> str:
    """The wiki revision of a change between revisions, as its UTC time."""
    if row.get("revision_after") is None:
        return ""
    when = datetime.fromtimestamp(row["revision_after"], UTC)
    return f"revision {row['revision_after']} ({when:%Y-%m-%d %H:%M} UTC)"


def _parts(row: dict) -> str:
    if row["change"] not in WITH_PARTS:
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

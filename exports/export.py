"""Write the tables from the catalog; ``export_tables`` rebuilds it from the WARCs first.

Only what must change is written: the catalog records up to which crawl the tables
are current, and a table is made again only when a later crawl touched what it holds
(a crawl that found nothing to fetch touches nothing). A table made again that came
out the same is not swapped in, so its file and mtime stay.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path

from archive.catalog import CATALOG_NAME, Catalog
from archive.ingest import rebuild_catalog
from crawler.page import unpack_page
from exports.datapackage import PACKAGE_NAME, write_datapackage
from exports.tables import (
    SCHEMAS,
    Provenance,
    change_row,
    citation_rows,
    crawl_row,
    error_row,
    footnote_rows,
    link_rows,
    page_row,
    version_row,
)
from exports.write import TableSet

logger = logging.getLogger(__name__)

PAGE_TABLES = ("pages", "footnotes", "citations", "links")
# What a crawl touched (archive.catalog.Catalog.touched_after) -> the tables holding it.
TABLES_OF = {
    "pages": PAGE_TABLES,
    "versions": ("page_versions",),
    "changes": ("changes",),
    "crawls": ("crawls",),
    "errors": ("errors",),
}
# Kept in the catalog's meta table: up to which crawl the tables are current, how they
# were written, and what the last writing found (for runs that write nothing).
META_SEQ = "tables_seq"
META_VERSION = "tables_version"
META_NOTES = "tables_notes"


@dataclass(frozen=True, slots=True)
class ExportResult:
    rows: dict[str, int]  # rows per table
    unreadable_dates: list[str]  # pages whose date was shown but could not be parsed
    rewritten: list[str] = field(default_factory=list)  # files that changed

    def render(self, tables_dir: Path) -> str:
        counts = ", ".join(f"{n} {name}" for name, n in self.rows.items())
        state = "" if self.rewritten else " (unchanged)"
        lines = [f"Tables in {tables_dir}{state}: {counts}"]
        if self.unreadable_dates:
            lines.append(
                f"Warning: {len(self.unreadable_dates)} pages show a date that could not be read "
                "(kept in last_modified_raw); name the wiki's format with --date-format"
            )
        return "\n".join(lines)


def export_tables(
    out_dir: Path, *, date_format: str | None = None, excel_safe: bool = False
) -> ExportResult:
    """Rebuild the catalog and every table of ``OUT`` from ``OUT/warc/`` alone."""
    rebuild_catalog(out_dir, date_format=date_format)
    return write_tables(out_dir, excel_safe=excel_safe)


def write_tables(out_dir: Path, *, excel_safe: bool = False) -> ExportResult:
    """Bring ``OUT/tables/*.csv|parquet`` (and their data package) up to the catalog;
    only tables whose content a crawl since the last writing touched are made again."""
    out_dir = Path(out_dir)
    catalog = Catalog(out_dir / CATALOG_NAME)
    try:
        written_as = tables_version(excel_safe)
        dirty = dirty_tables(catalog, out_dir / "tables", written_as)
        notes = json.loads(catalog.get_meta(META_NOTES) or "{}")
        rows = notes.get("rows", {})
        unreadable = notes.get("unreadable_dates", [])
        replaced: list[str] = []
        if dirty:
            tables = TableSet(out_dir / "tables", SCHEMAS, excel_safe=excel_safe, only=dirty)
            try:
                found = _write(catalog, tables)
                write_datapackage(tables.scratch)
                rows = {**rows, **tables.commit()}
            except BaseException:
                tables.abort()
                raise
            replaced = tables.replaced
            if found is not None:
                unreadable = found
        catalog.begin()
        catalog.set_meta(META_SEQ, str(catalog.last_seq()))
        catalog.set_meta(META_VERSION, written_as)
        notes = {"rows": rows, "unreadable_dates": unreadable}
        catalog.set_meta(META_NOTES, json.dumps(notes, ensure_ascii=False))
        catalog.commit()
    finally:
        catalog.close()
    if unreadable:
        logger.warning("%d pages with an unreadable date: %s", len(unreadable), unreadable[:10])
    ordered = {name: rows[name] for name in SCHEMAS if name in rows}
    return ExportResult(ordered, unreadable, replaced)


def tables_version(excel_safe: bool) -> str:
    """How the tables are written: another version or option means writing them all."""
    schemas = {name: str(schema) for name, schema in SCHEMAS.items()}
    return json.dumps(
        {"wikiarchive": version("wikiarchive"), "excel_safe": excel_safe, "schemas": schemas},
        sort_keys=True,
    )


def dirty_tables(catalog: Catalog, tables_dir: Path, written_as: str) -> set[str]:
    """The tables to make again: all of them when any file is missing or they were
    written otherwise, else those holding what crawls since the last writing touched."""
    files = [tables_dir / PACKAGE_NAME]
    files += [tables_dir / f"{name}.{ext}" for name in SCHEMAS for ext in ("csv", "parquet")]
    seq = catalog.get_meta(META_SEQ)
    if seq is None or catalog.get_meta(META_VERSION) != written_as:
        return set(SCHEMAS)
    if not all(path.exists() for path in files):
        return set(SCHEMAS)
    touched = catalog.touched_after(int(seq))
    return {table for what in touched for table in TABLES_OF[what]}


def _write(catalog: Catalog, tables: TableSet) -> list[str] | None:
    """Rows of the dirty tables; the pages with an unreadable date when pages were read."""
    unreadable = None
    if any(name in tables for name in PAGE_TABLES):
        unreadable = []
        presence = catalog.presence()
        for state in catalog.current_pages():
            page = unpack_page(state["page"])
            if page.last_modified_raw and not page.last_modified:
                unreadable.append(page.page_id)
            where = Provenance.of(state)
            tables["pages"].write([page_row(page, where, state["content_sha256"])])
            tables["footnotes"].write(footnote_rows(page, where.crawl_id))
            tables["citations"].write(citation_rows(page, where.crawl_id))
            tables["links"].write(link_rows(page, where.crawl_id, presence))
    if "page_versions" in tables:
        tables["page_versions"].write(version_row(v) for v in catalog.versions())
    if "changes" in tables:
        tables["changes"].write(change_row(c) for c in catalog.changes())
    if "crawls" in tables:
        tables["crawls"].write(crawl_row(c) for c in catalog.recorded_crawls())
    if "errors" in tables:
        tables["errors"].write(error_row(e) for e in catalog.errors())
    return unreadable

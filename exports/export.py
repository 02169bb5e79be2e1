"""Write the tables from the catalog; ``export_tables`` rebuilds it from the WARCs first.

Only what must change is written: the catalog records up to which crawl the tables
are current, and a table is made again only when a later crawl touched what it holds
(a crawl that found nothing to fetch touches nothing). A table made again that came
out the same is not swapped in, so its file and mtime stay.
"""

from __future__ import annotations

import json
import logging
from importlib.metadata import version
from itertools import groupby
from pathlib import Path

from archive.catalog import CATALOG_NAME, Catalog
from archive.ingest import rebuild_catalog
from archive.media import media_files, page_media
from crawler.page import LAYOUT_UNKNOWN, Page, unpack_page
from exports.datapackage import PACKAGE_NAME, write_datapackage
from exports.presence import Presence
from exports.result import PROBLEM_KINDS, ExportResult
from exports.tables import (
    SCHEMAS,
    Provenance,
    access_denied_row,
    change_row,
    citation_columns,
    crawl_row,
    error_row,
    footnote_columns,
    link_columns,
    media_row,
    page_media_row,
    page_row,
    revision_rows,
    source_row,
    version_row,
)
from exports.write import TableSet

logger = logging.getLogger(__name__)

PAGE_TABLES = ("pages", "footnotes", "citations", "links")
# What a crawl touched (archive.catalog.Catalog.touched_after) -> the tables holding it.
TABLES_OF = {
    # A page's refusal comes and goes with a capture of it, as its row in pages does.
    "pages": (*PAGE_TABLES, "access_denied"),
    "versions": ("page_versions",),
    "changes": ("changes",),
    "crawls": ("crawls",),
    "errors": ("errors",),
    # A history crawl may link earlier versions to their revisions and split earlier
    # changes between revisions.
    "revisions": ("revisions", "page_versions", "changes"),
    "sources": ("sources",),
    "media": ("media", "page_media"),
}
# Kept in the catalog's meta table: up to which crawl the tables are current, how they
# were written, and what the last writing found (for runs that write nothing).
META_SEQ = "tables_seq"
META_VERSION = "tables_version"
META_NOTES = "tables_notes"


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
        problems = {kind: notes.get(kind, []) for kind in PROBLEM_KINDS}
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
            problems = found or problems
        catalog.begin()
        catalog.set_meta(META_SEQ, str(catalog.last_seq()))
        catalog.set_meta(META_VERSION, written_as)
        catalog.set_meta(META_NOTES, json.dumps({"rows": rows, **problems}, ensure_ascii=False))
        catalog.commit()
    finally:
        catalog.close()
    ordered = {name: rows[name] for name in SCHEMAS if name in rows}
    result = ExportResult(ordered, rewritten=replaced, **problems)
    for warning, pages in result.problems():  # once per writing, the first pages named
        logger.warning("%s: %s%s", warning, " ".join(pages[:10]), " …" if pages[10:] else "")
    return result


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


def _write(catalog: Catalog, tables: TableSet) -> dict[str, list[str]] | None:
    """Rows of the dirty tables; the pages read badly, by kind, when pages were read."""
    problems = None
    if any(name in tables for name in PAGE_TABLES):
        problems = {kind: [] for kind in PROBLEM_KINDS}
        presence = Presence(catalog.presence)
        for state in catalog.current_pages():
            page = unpack_page(state["page"])
            if page.last_modified_raw and not page.last_modified:
                problems["unreadable_dates"].append(page.page_id)
            elif not page.last_modified_raw and not page.last_modified:
                problems["undated"].append(page.page_id)
            if _unrecognised(page):
                problems["unrecognised"].append(page.page_id)
            where = Provenance.of(state)
            access = state["access"] or "readable"
            tables["pages"].write([page_row(page, where, state["content_sha256"], access)])
            tables["footnotes"].write_columns(footnote_columns(page, where.crawl_id))
            tables["citations"].write_columns(citation_columns(page, where.crawl_id))
            tables["links"].write_columns(link_columns(page, where.crawl_id, presence))
    if "page_versions" in tables:
        tables["page_versions"].write(version_row(v) for v in catalog.versions())
    if "changes" in tables:
        tables["changes"].write(change_row(c) for c in catalog.changes())
    if "revisions" in tables:
        for _, revisions in groupby(catalog.all_revisions(), key=lambda r: r["page_id"]):
            tables["revisions"].write(revision_rows(list(revisions)))
    if "sources" in tables:
        tables["sources"].write(source_row(s) for s in catalog.sources())
    if "crawls" in tables:
        tables["crawls"].write(crawl_row(c) for c in catalog.recorded_crawls())
    if "errors" in tables:
        tables["errors"].write(error_row(e) for e in catalog.errors())
    if "access_denied" in tables:
        site = next(iter(catalog.sites()), "")
        tables["access_denied"].write(
            access_denied_row(r, site) for r in catalog.refused_pages()
        )
    if "media" in tables:
        tables["media"].write(media_row(r) for r in media_files(catalog.db))
    if "page_media" in tables:
        tables["page_media"].write(page_media_row(r) for r in page_media(catalog.db))
    return problems


def _unrecognised(page: Page) -> bool:
    """An existing page whose article was not found by DokuWiki's markup, or is empty.

    Pages packed before the parser recorded how it found them (layout None) are judged
    by their text alone."""
    return not page.body_text.strip() or page.layout == LAYOUT_UNKNOWN

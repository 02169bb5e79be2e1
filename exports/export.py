"""Write the tables from the catalog; ``export_tables`` rebuilds it from the WARCs first."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from archive.catalog import CATALOG_NAME, Catalog
from archive.ingest import rebuild_catalog
from crawler.page import unpack_page
from exports.datapackage import write_datapackage
from exports.tables import (
    SCHEMAS,
    Provenance,
    access_denied_row,
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


@dataclass(frozen=True, slots=True)
class ExportResult:
    rows: dict[str, int]  # rows per table
    unreadable_dates: list[str]  # pages whose date was shown but could not be parsed

    def render(self, tables_dir: Path) -> str:
        counts = ", ".join(f"{n} {name}" for name, n in self.rows.items())
        lines = [f"Tables in {tables_dir}: {counts}"]
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
    """``OUT/tables/*.csv|parquet`` from the catalog and the captures it points at."""
    out_dir = Path(out_dir)
    catalog = Catalog(out_dir / CATALOG_NAME)
    tables = TableSet(out_dir / "tables", SCHEMAS, excel_safe=excel_safe)
    unreadable = []
    try:
        for state in catalog.current_pages():
            page = unpack_page(state["page"])
            if page.last_modified_raw and not page.last_modified:
                unreadable.append(page.page_id)
            where = Provenance.of(state)
            access = state["access"] or "readable"
            tables["pages"].write([page_row(page, where, state["content_sha256"], access)])
            tables["footnotes"].write(footnote_rows(page, where.crawl_id))
            tables["citations"].write(citation_rows(page, where.crawl_id))
            tables["links"].write(link_rows(page, where.crawl_id))
        tables["page_versions"].write(version_row(v) for v in catalog.versions())
        tables["changes"].write(change_row(c) for c in catalog.changes())
        tables["crawls"].write(crawl_row(c) for c in catalog.crawls())
        tables["errors"].write(error_row(e) for e in catalog.errors())
        site = next(iter(catalog.sites()), "")
        tables["access_denied"].write(
            access_denied_row(r, site) for r in catalog.refused_pages()
        )
        write_datapackage(tables.scratch)
    except BaseException:
        tables.abort()
        raise
    finally:
        catalog.close()
    if unreadable:
        logger.warning("%d pages with an unreadable date: %s", len(unreadable), unreadable[:10])
    return ExportResult(tables.commit(), unreadable)

"""Write the tables from the catalog; ``export_tables`` rebuilds it from the WARCs first."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from archive.catalog import CATALOG_NAME, Catalog
from archive.ingest import rebuild_catalog
from crawler.page import LAYOUT_UNKNOWN, Page, unpack_page
from exports.datapackage import write_datapackage
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


@dataclass(frozen=True, slots=True)
class ExportResult:
    rows: dict[str, int]  # rows per table
    unreadable_dates: list[str]  # pages whose date was shown but could not be parsed
    # Pages showing no date at all: the template prints it where it is not looked for.
    undated: list[str] = field(default_factory=list)
    # Pages whose body is empty or was not found by DokuWiki's markup: an unknown template.
    unrecognised: list[str] = field(default_factory=list)

    def render(self, tables_dir: Path) -> str:
        """The table counts, then one warning line per kind of page read badly."""
        counts = ", ".join(f"{n} {name}" for name, n in self.rows.items())
        lines = [f"Tables in {tables_dir}: {counts}"]
        lines += [f"Warning: {warning}" for warning in self.warnings()]
        return "\n".join(lines)

    def warnings(self) -> list[str]:
        """One line per kind of page read badly, with how many and an example page."""
        return [message for message, _ in self.problems()]

    def problems(self) -> list[tuple[str, list[str]]]:
        """(warning, the pages) per kind of page read badly; none when all read well."""
        found = []
        if self.unreadable_dates:
            found.append((
                f"{len(self.unreadable_dates)} pages show a date that could not be read "
                f"(e.g. {self.unreadable_dates[0]}; kept in last_modified_raw); name the "
                "wiki's format with --date-format",
                self.unreadable_dates,
            ))
        if self.undated:
            found.append((
                f"{len(self.undated)} pages show no date where DokuWiki's templates put it "
                f"(e.g. {self.undated[0]}); last_modified is empty for them",
                self.undated,
            ))
        if self.unrecognised:
            found.append((
                f"{len(self.unrecognised)} pages have an empty body or no DokuWiki page "
                f"structure (e.g. {self.unrecognised[0]}); their text may be incomplete or "
                "hold the template's menus",
                self.unrecognised,
            ))
        return found


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
    unreadable: list[str] = []
    undated: list[str] = []
    unrecognised: list[str] = []
    try:
        for state in catalog.current_pages():
            page = unpack_page(state["page"])
            if page.last_modified_raw and not page.last_modified:
                unreadable.append(page.page_id)
            elif not page.last_modified_raw and not page.last_modified:
                undated.append(page.page_id)
            if _unrecognised(page):
                unrecognised.append(page.page_id)
            where = Provenance.of(state)
            tables["pages"].write([page_row(page, where, state["content_sha256"])])
            tables["footnotes"].write(footnote_rows(page, where.crawl_id))
            tables["citations"].write(citation_rows(page, where.crawl_id))
            tables["links"].write(link_rows(page, where.crawl_id))
        tables["page_versions"].write(version_row(v) for v in catalog.versions())
        tables["changes"].write(change_row(c) for c in catalog.changes())
        tables["crawls"].write(crawl_row(c) for c in catalog.crawls())
        tables["errors"].write(error_row(e) for e in catalog.errors())
        write_datapackage(tables.scratch)
    except BaseException:
        tables.abort()
        raise
    finally:
        catalog.close()
    result = ExportResult(tables.commit(), unreadable, undated, unrecognised)
    for warning, pages in result.problems():  # once per export, the first pages named
        logger.warning("%s: %s%s", warning, " ".join(pages[:10]), " …" if pages[10:] else "")
    return result


def _unrecognised(page: Page) -> bool:
    """An existing page whose article was not found by DokuWiki's markup, or is empty.

    Pages packed before the parser recorded how it found them (layout None) are judged
    by their text alone."""
    return not page.body_text.strip() or page.layout == LAYOUT_UNKNOWN

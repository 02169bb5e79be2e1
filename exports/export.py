"""Rebuild every table from the WARC files alone."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from archive.reader import (
    CaptureRef,
    iter_crawl_summaries,
    iter_responses,
    iter_warcinfos,
    read_capture,
)
from crawler.dokuwiki import page_id_from_url
from crawler.parse import Page, parse_page
from exports.tables import (
    SCHEMAS,
    Provenance,
    citation_rows,
    crawl_row,
    footnote_rows,
    link_rows,
    page_row,
)
from exports.write import TableSet

logger = logging.getLogger(__name__)


def article_captures(warc_dir: Path) -> dict[str, CaptureRef]:
    """The latest capture of each article, by page id."""
    latest: dict[str, CaptureRef] = {}
    for ref in iter_responses(warc_dir):
        if ref.status != 200 or "html" not in ref.content_type or not ref.site:
            continue
        page_id = page_id_from_url(ref.url, ref.site)
        if page_id is None:
            continue
        known = latest.get(page_id)
        if known is None or ref.date >= known.date:
            latest[page_id] = ref
    return latest


def iter_pages(
    warc_dir: Path, date_format: str | None = None
) -> Iterator[tuple[Page, Provenance]]:
    """Parsed current pages in page-id order; pages whose latest capture is missing are gone."""
    latest = article_captures(warc_dir)
    for page_id in sorted(latest):
        ref = latest[page_id]
        capture = read_capture(warc_dir, ref.filename, ref.offset)
        page = parse_page(
            capture.url, capture.body, site=ref.site, date_format=date_format or _date_format(ref)
        )
        if page.exists:
            yield page, Provenance(ref.crawl_id, ref.date, ref.filename, ref.offset)


@dataclass(frozen=True, slots=True)
class ExportResult:
    rows: dict[str, int]  # rows per table
    unreadable_dates: list[str]  # pages whose date was shown but could not be parsed

    def render(self, tables_dir: Path) -> str:
        lines = [f"Tables in {tables_dir}: " + ", ".join(f"{n} {k}" for k, n in self.rows.items())]
        if self.unreadable_dates:
            lines.append(
                f"Warning: {len(self.unreadable_dates)} pages show a date that could not be read "
                "(kept in last_modified_raw); name the wiki's format with --date-format"
            )
        return "\n".join(lines)


def export_tables(out_dir: Path, *, date_format: str | None = None) -> ExportResult:
    """Write ``OUT/tables/*.csv|parquet`` from ``OUT/warc/``."""
    out_dir = Path(out_dir)
    warc_dir = out_dir / "warc"
    tables = TableSet(out_dir / "tables", SCHEMAS)
    unreadable = []
    try:
        for page, where in iter_pages(warc_dir, date_format):
            if page.last_modified_raw and not page.last_modified:
                unreadable.append(page.page_id)
            tables["pages"].write([page_row(page, where)])
            tables["footnotes"].write(footnote_rows(page, where.crawl_id))
            tables["citations"].write(citation_rows(page, where.crawl_id))
            tables["links"].write(link_rows(page, where.crawl_id))
        tables["crawls"].write(crawl_rows(warc_dir))
    except BaseException:
        tables.abort()
        raise
    if unreadable:
        logger.warning("%d pages with an unreadable date: %s", len(unreadable), unreadable[:10])
    return ExportResult(tables.commit(), unreadable)


def crawl_rows(warc_dir: Path) -> list[dict]:
    summaries = {s["crawl_id"]: s for s in iter_crawl_summaries(warc_dir)}
    infos: dict[str, dict[str, str]] = {}
    for info in iter_warcinfos(warc_dir):
        infos.setdefault(info.get("wikiarchive-crawl-id", ""), info)
    return [crawl_row(infos[cid], summaries.get(cid)) for cid in sorted(infos) if cid]


def _date_format(ref: CaptureRef) -> str | None:
    """The date format the crawl was run with, so a rebuild parses dates the same way."""
    try:
        return json.loads(ref.warcinfo.get("wikiarchive-settings", "{}")).get("WIKI_DATE_FORMAT")
    except ValueError:
        return None

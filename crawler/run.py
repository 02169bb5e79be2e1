"""Run one crawl in this process, then record it in the catalog and write the tables."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scrapy.crawler import CrawlerProcess
from scrapy.settings import Settings

from archive.catalog import CATALOG_NAME, Catalog
from archive.index import update_index
from archive.ingest import Replayer, crawl_files, sync_catalog
from archive.recover import recover_open_files
from crawler import settings as default_settings
from crawler.dokuwiki import site_root
from crawler.lock import locked
from crawler.spiders.wiki import WikiSpider, load_previous
from exports.export import ExportResult, write_tables


class CrawlError(Exception):
    """The crawl could not do its job (site unreachable, not a DokuWiki, …)."""


@dataclass(frozen=True, slots=True)
class CrawlSummary:
    crawl_id: str
    mode: str
    outcome: str  # Scrapy's finish reason: "finished", "shutdown" (SIGINT/SIGTERM), ...
    pages: int
    requests: int
    errors: int
    failed_pages: list[str]
    warc_files: list[str]
    export: ExportResult
    tables_dir: Path

    def as_dict(self) -> dict[str, Any]:
        return {
            "crawl_id": self.crawl_id,
            "mode": self.mode,
            "outcome": self.outcome,
            "pages": self.pages,
            "requests": self.requests,
            "errors": self.errors,
            "failed_pages": self.failed_pages,
            "warc_files": self.warc_files,
            "tables": self.export.rows,
            "unreadable_dates": len(self.export.unreadable_dates),
            "undated_pages": len(self.export.undated),
            "unrecognised_pages": len(self.export.unrecognised),
        }

    @property
    def complete(self) -> bool:
        return self.outcome == "finished"

    def render(self) -> str:
        lines = [
            f"Crawl {self.crawl_id} ({self.mode}): {self.pages} pages, "
            f"{self.requests} requests, {self.errors} errors",
        ]
        if not self.complete:
            lines.append(
                f"Stopped before the end ({self.outcome}): the next run fetches what is missing"
            )
        lines += [
            f"WARC files: {', '.join(self.warc_files) or 'none'}",
        ]
        if self.failed_pages:
            lines.append(
                f"Failed, to be retried next run: {', '.join(self.failed_pages[:20])}"
                + (" …" if len(self.failed_pages) > 20 else "")
            )
        lines.append(self.export.render(self.tables_dir))
        return "\n".join(lines)


def project_settings(overrides: dict[str, Any]) -> Settings:
    settings = Settings()
    settings.setmodule(default_settings, priority="project")
    settings.update(overrides, priority="cmdline")
    return settings


def prepare(out_dir: Path) -> None:
    """Before a run relies on the archive: WARC files a killed run left open are
    recovered, and the catalog is brought up to the WARC files (rebuilt if lost)."""
    recover_open_files(out_dir / "warc")
    sync_catalog(out_dir)


def record(out_dir: Path, crawl_id: str) -> list[Path]:
    """After a crawl: its WARC files into the catalog (versions, states, changes)."""
    files = crawl_files(out_dir / "warc").get(crawl_id, [])
    if files:
        catalog = Catalog(out_dir / CATALOG_NAME)
        try:
            Replayer(catalog, out_dir / "warc").ingest(crawl_id, files)
        finally:
            catalog.close()
    return files


def publish(out_dir: Path, *, excel_safe: bool = False) -> ExportResult:
    """The tables (and what describes them) from the catalog, and the CDXJ index."""
    result = write_tables(out_dir, excel_safe=excel_safe)
    update_index(out_dir)
    return result


def run_crawl(overrides: dict[str, Any], out_dir: Path) -> CrawlSummary:
    out_dir = Path(out_dir)
    settings = project_settings({**overrides, "WIKI_CLI_RUN": True})
    with locked(out_dir):
        prepare(out_dir)
        full = settings.get("WIKI_CRAWL_MODE") == "full"
        previous = None if full else load_previous(out_dir, site_root(settings.get("WIKI_SITE")))
        process = CrawlerProcess(settings)
        crawler = process.create_crawler(WikiSpider)
        process.crawl(crawler, previous=previous)
        process.start()
        spider = crawler.spider
        stats = crawler.stats.get_stats()
        files = record(out_dir, spider.crawl_id)
        if stats.get("wiki/fatal"):
            raise CrawlError(stats["wiki/fatal"])
        export = publish(out_dir, excel_safe=settings.getbool("WIKI_EXCEL_SAFE"))
    return CrawlSummary(
        crawl_id=spider.crawl_id,
        mode=spider.mode,
        outcome=stats.get("finish_reason", "unknown"),
        pages=stats.get("wiki/articles_fetched", 0),
        requests=stats.get("downloader/request_count", 0),
        errors=stats.get("wiki/request_errors", 0) + stats.get("spider_exceptions/count", 0),
        failed_pages=sorted(spider.failed),
        warc_files=[p.name for p in files],
        export=export,
        tables_dir=out_dir / "tables",
    )

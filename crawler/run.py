"""Run one crawl in this process, then rebuild the tables from its WARC files."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scrapy.crawler import CrawlerProcess
from scrapy.settings import Settings

from crawler import settings as default_settings
from crawler.spiders.wiki import WikiSpider
from exports.export import ExportResult, export_tables


class CrawlError(Exception):
    """The crawl could not do its job (site unreachable, not a DokuWiki, …)."""


@dataclass(frozen=True, slots=True)
class CrawlSummary:
    crawl_id: str
    pages: int
    requests: int
    errors: int
    warc_files: list[str]
    export: ExportResult
    tables_dir: Path

    def render(self) -> str:
        return "\n".join(
            [
                f"Crawl {self.crawl_id}: {self.pages} pages, {self.requests} requests, "
                f"{self.errors} errors",
                f"WARC files: {', '.join(self.warc_files) or 'none'}",
                self.export.render(self.tables_dir),
            ]
        )


def project_settings(overrides: dict[str, Any]) -> Settings:
    settings = Settings()
    settings.setmodule(default_settings, priority="project")
    settings.update(overrides, priority="cmdline")
    return settings


def run_crawl(overrides: dict[str, Any], out_dir: Path) -> CrawlSummary:
    process = CrawlerProcess(project_settings(overrides))
    crawler = process.create_crawler(WikiSpider)
    process.crawl(crawler)
    process.start()
    stats = crawler.stats.get_stats()
    if stats.get("wiki/fatal"):
        raise CrawlError(stats["wiki/fatal"])
    export = export_tables(out_dir)
    spider = crawler.spider
    return CrawlSummary(
        crawl_id=spider.crawl_id,
        pages=stats.get("wiki/articles_fetched", 0),
        requests=stats.get("downloader/request_count", 0),
        errors=stats.get("wiki/request_errors", 0) + stats.get("spider_exceptions/count", 0),
        warc_files=stats.get("warc/files", []),
        export=export,
        tables_dir=Path(out_dir) / "tables",
    )

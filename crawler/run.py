"""``wikiarchive crawl`` in this process: settings in, a summary out.

The work is the crawl lifecycle (crawler.lifecycle), the same as for ``scrapy crawl
wiki``; this module runs it in a CrawlerProcess and reads the outcome from its stats.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scrapy.crawler import CrawlerProcess
from scrapy.settings import Settings

from archive.layout import Layout
from crawler import archivist, outcome
from crawler import settings as default_settings
from crawler.checks import settings_problems
from crawler.crawldelay import DELAY_SOURCE_STAT, DELAY_STAT
from crawler.lock import Busy
from crawler.outcome import BUSY_STAT, EXPORT_STAT, FATAL_STAT, TABLES_READY_STAT, exit_status
from crawler.spiders.wiki import WikiSpider
from exports.result import ExportResult


class CrawlError(Exception):
    """The crawl could not do its job (site unreachable, not a DokuWiki, …)."""


class SettingsError(Exception):
    """Settings the archive cannot honour."""


@dataclass(frozen=True, slots=True)
class CrawlSummary:
    crawl_id: str
    mode: str
    outcome: str  # Scrapy's finish reason: "finished", "shutdown" (SIGINT/SIGTERM), ...
    pages: int
    requests: int
    errors: int
    failed_pages: list[str]
    exit_code: int
    plan: str | None
    plan_reasons: dict[str, int] | None
    delay: float | None
    delay_source: str | None
    tables_ready_at: str | None  # when the tables were in place (UTC)
    warc_files: list[str]
    export: ExportResult
    tables_dir: Path
    revisions: int = 0  # old revisions requested (--history)
    sources: int = 0  # page sources requested (--source)
    not_readable: list[str] = field(default_factory=list)  # DokuWiki's Permission Denied
    login: str | None = None  # the account the crawl logged in as

    def as_dict(self) -> dict[str, Any]:
        return {
            "crawl_id": self.crawl_id,
            "mode": self.mode,
            "outcome": self.outcome,
            "pages": self.pages,
            "requests": self.requests,
            "errors": self.errors,
            "failed_pages": self.failed_pages,
            "not_readable": len(self.not_readable),
            "not_readable_pages": self.not_readable,
            "login": self.login,
            "tables_ready_at": self.tables_ready_at,
            "delay": self.delay,
            "delay_source": self.delay_source,
            "plan": self.plan,
            "plan_reasons": self.plan_reasons,
            "warc_files": self.warc_files,
            "tables": self.export.rows,
            "revisions": self.revisions,
            "sources": self.sources,
            "unreadable_dates": len(self.export.unreadable_dates),
            "undated_pages": len(self.export.undated),
            "unrecognised_pages": len(self.export.unrecognised),
        }

    @property
    def complete(self) -> bool:
        return self.outcome == "finished"

    def render(self) -> str:
        readable = f" ({len(self.not_readable)} not readable)" if self.not_readable else ""
        account = f", logged in as {self.login}" if self.login else ""
        lines = [
            f"Crawl {self.crawl_id} ({self.mode}{account}): {self.pages} pages{readable}, "
            f"{self.requests} requests, {self.errors} errors",
        ]
        if not self.complete:
            lines.append(
                f"Stopped before the end ({self.outcome}): the next run fetches what is missing"
            )
        if self.delay_source and self.delay_source != "DOWNLOAD_DELAY":
            lines.append(f"Requests spaced by {self.delay} s ({self.delay_source})")
        if self.revisions or self.sources:
            lines.append(f"History: {self.revisions} old revisions and {self.sources} sources "
                         "requested")
        lines += [
            f"WARC files: {', '.join(self.warc_files) or 'none'}",
        ]
        if self.failed_pages:
            lines.append(
                f"Failed, to be retried next run: {', '.join(self.failed_pages[:20])}"
                + (" …" if len(self.failed_pages) > 20 else "")
            )
        if self.not_readable:
            lines.append(
                "Not readable (the wiki answered Permission Denied; listed in the "
                f"access_denied table, never recorded as removed): "
                f"{', '.join(self.not_readable[:20])}"
                + (" …" if len(self.not_readable) > 20 else "")
            )
        lines.append(self.export.render(self.tables_dir))
        return "\n".join(lines)


def project_settings(overrides: dict[str, Any]) -> Settings:
    settings = Settings()
    settings.setmodule(default_settings, priority="project")
    settings.update(overrides, priority="cmdline")
    return settings


def run_crawl(overrides: dict[str, Any]) -> CrawlSummary:
    """Crawl with these settings through the crawl lifecycle; the outcome as a summary.

    Raises SettingsError for settings the archive cannot honour (before anything is
    fetched), Busy when another run holds the folder, CrawlError when the crawl failed.
    """
    settings = project_settings(overrides)
    problems = settings_problems(settings)
    if problems:
        raise SettingsError("; ".join(problems))
    if settings.getbool("WARC_ENABLED"):
        archivist.start_spare()
    try:
        process = CrawlerProcess(settings)
        # The CLI prints the reason a crawl failed itself, as its one-line error.
        logging.getLogger(outcome.__name__).disabled = True
        crawler = process.create_crawler(WikiSpider)
        process.crawl(crawler)
        process.start()
    finally:
        archivist.drop_spare()
    stats = crawler.stats.get_stats()
    fatal = stats.get(FATAL_STAT)
    if stats.get(BUSY_STAT):
        raise Busy(fatal or "another wikiarchive run is using the output folder")
    if fatal:
        raise CrawlError(fatal)
    export = stats.get(EXPORT_STAT)
    if export is None:
        raise CrawlError("nothing was archived")
    spider = crawler.spider
    return CrawlSummary(
        crawl_id=spider.crawl_id,
        mode=spider.mode,
        outcome=stats.get("finish_reason", "unknown"),
        pages=stats.get("wiki/articles_fetched", 0),
        requests=stats.get("downloader/request_count", 0),
        errors=stats.get("wiki/request_errors", 0) + stats.get("spider_exceptions/count", 0),
        failed_pages=sorted(spider.failed),
        exit_code=exit_status(crawler),
        tables_ready_at=stats.get(TABLES_READY_STAT),
        delay=stats.get(DELAY_STAT),
        delay_source=stats.get(DELAY_SOURCE_STAT),
        plan=stats.get("wiki/plan_reason"),
        plan_reasons=stats.get("wiki/plan_reasons"),
        warc_files=stats.get("warc/files", []),
        export=export,
        tables_dir=Layout(Path(settings.get("WIKI_OUT_DIR"))).tables,
        revisions=stats.get("wiki/revisions_fetched", 0),
        sources=stats.get("wiki/sources_fetched", 0),
        not_readable=sorted(spider.denied),
        login=spider.login_user,
    )

"""The ``wikiarchive`` command: a few lines over the library for each subcommand."""

from __future__ import annotations

import json
import logging
import os
import socket
import sqlite3
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import click

from crawler import archivist
from crawler import settings as defaults
from crawler.allocators import tune_allocators
from crawler.dates import parse_wiki_date
from crawler.dokuwiki import site_root
from crawler.exits import EXIT_BUSY, EXIT_FAILED, EXIT_USAGE

DEFAULT_OUT = "wikiarchive-data"


DISCOVERY_MEANS = frozenset(defaults.WIKI_DISCOVERY)


class Failure(click.ClickException):
    """A one-line error with its own exit status."""

    def __init__(self, message: str, exit_code: int):
        super().__init__(message)
        self.exit_code = exit_code


LOG_LEVELS = ["DEBUG", "INFO", "WARNING", "ERROR"]


def run_options(*, summary: bool = True, quiet: bool = True) -> Callable:
    """The options every command that runs for a while shares: ``--log-file``,
    ``--log-level``, and where they make sense ``--quiet`` and ``--summary-json``."""
    options = []
    if quiet:
        options.append(click.option(
            "--quiet", is_flag=True, help="Print errors only: no progress, no summary (for cron)."
        ))
    options.append(click.option(
        "--log-file",
        type=click.Path(dir_okay=False, path_type=Path),
        help="Write the log to this file instead of the terminal.",
    ))
    options.append(click.option(
        "--log-level",
        type=click.Choice(LOG_LEVELS, case_sensitive=False),
        default="INFO",
        show_default=True,
        help="How much is logged.",
    ))
    if summary:
        options.append(click.option(
            "--summary-json",
            type=click.Path(dir_okay=False, path_type=Path),
            help="Write a machine-readable summary of the run here (for monitoring); "
            "written on failure too.",
        ))

    def decorate(command: Callable) -> Callable:
        for option in reversed(options):
            command = option(command)
        return command

    return decorate


class Run:
    """One command's run: its log set up, its outcome printed (unless quiet) and written
    as JSON (``--summary-json``), failures included."""

    def __init__(
        self,
        command: str,
        out_dir: Path,
        *,
        quiet: bool = False,
        log_file: Path | None = None,
        log_level: str = "INFO",
        summary_json: Path | None = None,
        **base: Any,
    ):
        self.quiet = quiet
        self.report = SummaryReport(
            summary_json, {"command": command, "out_dir": str(out_dir), **base}
        )
        handler: logging.Handler
        if log_file is not None:
            try:
                handler = logging.FileHandler(log_file, encoding="utf-8")
            except OSError as exc:
                raise click.ClickException(f"cannot write {log_file}: {exc.strerror}") from None
        else:
            handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s [%(name)s] %(levelname)s: %(message)s"))
        logging.basicConfig(
            level="ERROR" if quiet else log_level.upper(), handlers=[handler], force=True
        )

    def __enter__(self) -> Run:
        return self

    def __exit__(self, kind: type | None, exc: BaseException | None, tb: Any) -> None:
        if isinstance(exc, click.ClickException):
            self.report.failed(exc.format_message(), exc.exit_code)

    def done(self, text: str, fields: dict[str, Any]) -> None:
        self.report.write({"outcome": "done", **fields, "exit_code": 0, "error": None})
        if not self.quiet:
            click.echo(text)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="wikiarchive")
def main() -> None:
    """Archive a DokuWiki into WARC files and CSV/Parquet tables."""
    tune_allocators()


@main.command()
@click.argument("site_url", default=defaults.WIKI_SITE)
@click.option(
    "--out",
    "out_dir",
    default=DEFAULT_OUT,
    show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Output folder: WARC files go to OUT/warc, tables to OUT/tables.",
)
@click.option(
    "--delay",
    type=click.FloatRange(min=0),
    help="Seconds between requests (default 1; AutoThrottle may slow down further).",
)
@click.option(
    "--concurrency",
    type=click.IntRange(min=1),
    help="Requests in flight to the wiki at once (default 1).",
)
@click.option(
    "--max-pages",
    type=click.IntRange(min=0),
    default=0,
    help="Stop scheduling articles after this many (0: no limit).",
)
@click.option(
    "--excel-safe",
    is_flag=True,
    help="In CSV files, defuse cells a spreadsheet would run as formulas.",
)
@click.option(
    "--full",
    is_flag=True,
    help="Fetch every page even when OUT holds an earlier crawl of the site.",
)
@click.option(
    "--history",
    is_flag=True,
    help="Also archive every page's revision list and each old revision the wiki serves "
    "(only those not archived yet).",
)
@click.option(
    "--source",
    is_flag=True,
    help="Also archive each page's wiki markup (do=export_raw); with --history, of every "
    "old revision fetched too.",
)
@click.option(
    "--warc-max-size",
    type=click.FloatRange(min=0, min_open=True),
    default=1000,
    show_default=True,
    help="Start a new WARC file past this size, in MB.",
)
@click.option(
    "--date-format",
    help="The wiki's date format (DokuWiki's dformat), e.g. '%d.%m.%Y %H:%M'.",
)
@click.option(
    "--discovery",
    default=",".join(sorted(DISCOVERY_MEANS)),
    show_default=True,
    help="How to find pages: any of index, links, sitemap, comma-separated.",
)
@click.option(
    "--login",
    metavar="USER",
    help="Log in as USER; the password comes from --password-env or --password-file, "
    "never from the command line.",
)
@click.option(
    "--login-method",
    type=click.Choice(["form", "basic"]),
    default="form",
    show_default=True,
    help="How to log in: DokuWiki's login form, or HTTP basic auth (a web server password).",
)
@click.option(
    "--password-env",
    metavar="NAME",
    default=defaults.WIKI_PASSWORD_ENV,
    show_default=True,
    help="Environment variable holding the --login password.",
)
@click.option(
    "--password-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="File holding the --login password (its first line); wins over --password-env.",
)
@click.option(
    "--no-requisites",
    is_flag=True,
    help="Do not fetch what pages load to look as they did (stylesheets, scripts, "
    "template images, favicon, fonts).",
)
@click.option(
    "--no-media",
    is_flag=True,
    help="Do not fetch the wiki's media files (images, PDFs, downloads) or images' "
    "detail pages.",
)
@click.option(
    "--media-max-size",
    type=click.FloatRange(min=0, min_open=True),
    default=50,
    show_default=True,
    help="Skip (and record as skipped) a media file larger than this, in MB.",
)
@click.option(
    "-s",
    "--set",
    "overrides",
    multiple=True,
    metavar="NAME=VALUE",
    help="Any Scrapy setting, e.g. -s AUTOTHROTTLE_ENABLED=False (repeatable).",
)
@run_options()
def crawl(site_url: str, out_dir: Path, **options: Any) -> None:
    """Crawl SITE_URL (default: the Neurosurgery Wiki) into OUT."""
    from crawler.lock import Busy
    from crawler.outcome import describe
    from crawler.run import CrawlError, SettingsError, run_crawl

    try:
        site = site_root(site_url)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="SITE_URL") from None
    discovery = [d.strip() for d in options["discovery"].split(",") if d.strip()]
    options["discovery"] = discovery
    if not discovery or set(discovery) - DISCOVERY_MEANS:
        raise click.BadParameter(
            "use index, links and/or sitemap, comma-separated", param_hint="--discovery"
        )
    check_date_format(options["date_format"])
    if options["password_file"] and not options["login"]:
        raise click.BadParameter("give the user name with --login", param_hint="--password-file")
    settings = crawl_settings(site, out_dir, **options)
    report = SummaryReport(
        options["summary_json"], {"command": "crawl", "site": site, "out_dir": str(out_dir)}
    )
    try:
        ensure_writable(out_dir)
        ensure_reachable(site)
        summary = run_crawl(settings)
    except Busy as exc:
        report.failed(str(exc), EXIT_BUSY)
        raise Failure(str(exc), EXIT_BUSY) from None
    except SettingsError as exc:
        report.failed(str(exc), EXIT_USAGE)
        raise Failure(f"cannot crawl with these settings: {exc}", EXIT_USAGE) from None
    except (CrawlError, click.ClickException) as exc:
        message = exc.message if isinstance(exc, click.ClickException) else str(exc)
        report.failed(message, EXIT_FAILED)
        raise click.ClickException(message) from None
    except Exception as exc:  # noqa: BLE001 - one line, never a traceback
        report.failed(describe(exc), EXIT_FAILED)
        raise click.ClickException(f"the crawl failed: {describe(exc)}") from None
    code = summary.exit_code
    report.done(summary, code)
    if not options["quiet"]:
        click.echo(summary.render())
    sys.exit(code)


def check_date_format(date_format: str | None) -> None:
    if date_format is None:
        return
    try:
        if "%" not in date_format:
            raise ValueError("use % directives, e.g. '%d.%m.%Y %H:%M'")
        parse_wiki_date("", date_format)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--date-format") from None


@main.command()
@click.argument("out_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--date-format", help="Override the date format the crawl used.")
@click.option(
    "--excel-safe",
    is_flag=True,
    help="In CSV files, defuse cells a spreadsheet would run as formulas.",
)
@run_options()
def export(out_dir: Path, date_format: str | None, excel_safe: bool, **speak: Any) -> None:
    """Rebuild OUT_DIR/tables from the WARC files in OUT_DIR/warc alone."""
    from archive.catalog import CatalogError
    from archive.index import update_index
    from archive.reader import ArchiveError
    from archive.recover import recover_open_files
    from crawler.lock import Busy, locked
    from exports.export import export_tables
    from exports.write import load_arrow

    with Run("export", out_dir, **speak) as run:
        check_date_format(date_format)
        warc_dir = out_dir / "warc"
        if not warc_dir.is_dir():
            raise click.ClickException(f"{warc_dir} does not exist: nothing to export")
        ensure_writable(out_dir)
        load_arrow()
        try:
            with locked(out_dir):
                recover_open_files(warc_dir)
                result = export_tables(out_dir, date_format=date_format, excel_safe=excel_safe)
                update_index(out_dir)
        except Busy as exc:
            raise Failure(str(exc), EXIT_BUSY) from None
        except (ArchiveError, CatalogError) as exc:
            raise click.ClickException(f"cannot export {out_dir}: {exc}") from None
        except (OSError, sqlite3.Error) as exc:
            raise click.ClickException(f"cannot write to {out_dir}: {exc}") from None
        run.done(result.render(out_dir / "tables"), {
            "tables": result.rows,
            "rewritten": result.rewritten,
            "unreadable_dates": len(result.unreadable_dates),
        })


@main.command()
@click.argument("out_dir", type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.option("--since", metavar="CRAWL_ID", help="Changes in every crawl after this one.")
@click.option(
    "--format",
    "output",
    type=click.Choice(["text", "csv", "json"]),
    default="text",
    show_default=True,
    help="Readable summary, or rows for other tools.",
)
@click.option("--diff", "diff_page", metavar="PAGE_ID", help="Show a unified diff of one page.")
@click.option(
    "--crawl", "crawl_id", metavar="CRAWL_ID", help="With --diff: its change in this crawl."
)
@click.option(
    "--rev",
    "revisions",
    metavar="A..B",
    help="With --diff: between wiki revisions A and B (Unix times, as in the revisions "
    "table); a single B: the change revision B made.",
)
@run_options(summary=False, quiet=False)
def changes(
    out_dir: Path,
    since: str | None,
    output: str,
    diff_page: str | None,
    crawl_id: str | None,
    revisions: str | None,
    **speak: Any,
) -> None:
    """What changed in OUT_DIR's wiki: by default, in its latest crawl."""
    Run("changes", out_dir, **speak)  # its output is the answer: no --quiet
    from archive.catalog import CATALOG_NAME, Catalog, CatalogError
    from exports.change_views import (
        ReportError,
        change_rows,
        page_diff,
        render_csv,
        render_json,
        render_text,
    )

    path = out_dir / CATALOG_NAME
    if not path.exists():
        raise click.ClickException(f"{path} does not exist: crawl first (or run export)")
    try:
        if (crawl_id or revisions) and not diff_page:
            raise click.UsageError("--crawl and --rev go with --diff PAGE_ID")
        if crawl_id and revisions:
            raise click.UsageError("give --crawl or --rev, not both")
        if diff_page:
            diff = page_diff(out_dir, diff_page, crawl_id, revisions)
            click.echo(diff or "No text difference.", nl=False)
            return
        catalog = Catalog(path, readonly=True)
        try:
            rows = change_rows(catalog, since)
        finally:
            catalog.close()
    except (ReportError, CatalogError) as exc:
        raise click.ClickException(str(exc)) from None
    render = {"text": render_text, "csv": render_csv, "json": render_json}[output]
    click.echo(render(rows))


def crawl_settings(site: str, out_dir: Path, **options: Any) -> dict[str, Any]:
    """Turn CLI options into Scrapy settings."""
    settings: dict[str, Any] = {
        "WIKI_SITE": site,
        "WIKI_DISCOVERY": options["discovery"],
        "WIKI_MAX_PAGES": options["max_pages"],
        "WIKI_DATE_FORMAT": options["date_format"],
        "WIKI_OUT_DIR": str(out_dir),
        "WIKI_CRAWL_MODE": "full" if options["full"] else "auto",
        "WIKI_EXCEL_SAFE": options["excel_safe"],
        "WIKI_HISTORY": options.get("history", False),
        "WIKI_SOURCE": options.get("source", False),
        "WARC_MAX_SIZE": int(options["warc_max_size"] * 1_000_000),
        "LOG_LEVEL": "ERROR" if options["quiet"] else options["log_level"].upper(),
        "WIKI_PROGRESS": "off" if options["quiet"] else "auto",
        "WIKI_REQUISITES": not options["no_requisites"],
        "WIKI_MEDIA": not options["no_media"],
        "WIKI_MEDIA_MAX_SIZE": int(options["media_max_size"] * 1_000_000),
    }
    if options.get("login"):
        # The user and where the password is; the password itself stays out of settings.
        settings["WIKI_LOGIN_USER"] = options["login"]
        settings["WIKI_LOGIN_METHOD"] = options["login_method"]
        settings["WIKI_PASSWORD_ENV"] = options["password_env"]
        if options.get("password_file"):
            settings["WIKI_PASSWORD_FILE"] = str(options["password_file"])
    if options["log_file"]:
        settings["LOG_FILE"] = str(options["log_file"])
    if options["delay"] is not None:
        settings["DOWNLOAD_DELAY"] = options["delay"]
        settings["AUTOTHROTTLE_START_DELAY"] = options["delay"]
    if options["concurrency"] is not None:
        settings["CONCURRENT_REQUESTS"] = options["concurrency"] + archivist.ARCHIVING_ROOM
        settings["CONCURRENT_REQUESTS_PER_DOMAIN"] = options["concurrency"]
        settings["AUTOTHROTTLE_TARGET_CONCURRENCY"] = float(options["concurrency"])
    for item in options["overrides"]:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise click.BadParameter(f"{item!r} is not NAME=VALUE", param_hint="--set")
        settings[name.strip()] = value
    return settings


class SummaryReport:
    """The run's outcome as JSON, for monitoring (``--summary-json``); written on failure too."""

    def __init__(self, path: Path | None, base: dict[str, Any]):
        self.path = path
        self.base = base

    def done(self, summary: Any, exit_code: int) -> None:
        self.write({**summary.as_dict(), "exit_code": exit_code, "error": None})

    def failed(self, message: str, exit_code: int) -> None:
        self.write({"outcome": "failed", "exit_code": exit_code, "error": message})

    def write(self, fields: dict[str, Any]) -> None:
        if self.path is None:
            return
        try:
            self.path.write_text(json.dumps({**self.base, **fields}, indent=2, default=str))
        except OSError as exc:
            raise click.ClickException(f"cannot write {self.path}: {exc.strerror}") from None


def ensure_reachable(site: str, timeout: float = 15) -> None:
    """A bare TCP connect, so an unreachable site fails in one line, not in tracebacks."""
    parts = urlsplit(site)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        socket.create_connection((parts.hostname, port), timeout=timeout).close()
    except OSError as exc:
        raise click.ClickException(f"cannot reach {site}: {exc.strerror or exc}") from None


def ensure_writable(out_dir: Path) -> None:
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=out_dir):
            pass
    except OSError as exc:
        raise click.ClickException(f"cannot write to {out_dir}: {exc.strerror or exc}") from None


@main.command("report")
@click.argument("out_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    help="HTML file to write (default: OUT_DIR/report.html).",
)
@run_options()
def report(out_dir: Path, output: Path | None, **speak: Any) -> None:
    """Write an HTML report of OUT_DIR: crawl history, pages and footnotes per crawl, and
    the latest changes with their diffs and citations. The file is self-contained (no
    script, nothing loaded from elsewhere)."""
    from archive.catalog import CATALOG_NAME, CatalogError
    from archive.reader import ArchiveError
    from exports.html_report import write_report

    with Run("report", out_dir, **speak) as run:
        if not out_dir.is_dir():
            raise click.ClickException(f"{out_dir} is not a folder")
        if not (out_dir / CATALOG_NAME).exists():
            raise click.ClickException(
                f"{out_dir / CATALOG_NAME} does not exist: crawl first (or run export)"
            )
        output = output if output is not None else out_dir / "report.html"
        try:
            output.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise click.ClickException(f"cannot write {output}: {exc.strerror or exc}") from None
        try:
            path = write_report(out_dir, output)
        except (CatalogError, ArchiveError, sqlite3.Error) as exc:
            raise click.ClickException(f"cannot read {out_dir}: {exc}") from None
        except OSError as exc:
            writing = str(exc.filename or "").startswith(str(output))  # the file or its scratch
            what = f"write {output}" if writing else f"read {out_dir}"
            raise click.ClickException(f"cannot {what}: {exc.strerror or exc}") from None
        run.done(f"Report written to {path}", {"report": str(path)})


@main.command("package")
@click.argument("out_dir", type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.option(
    "--wacz",
    "wacz_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The WACZ file to write (name ending in .wacz); replaced if it exists.",
)
@click.option(
    "--title",
    help="Title replay tools show for the archive (default: 'Archive of SITE_URL').",
)
@click.option("--description", help="A description stored in the WACZ's datapackage.json.")
@run_options()
def package(
    out_dir: Path, wacz_path: Path, title: str | None, description: str | None, **speak: Any
) -> None:
    """Package OUT_DIR into one WACZ file: its WARC files, their CDXJ index and a page
    list of every current article (URL, title, capture time), for ReplayWeb.page."""
    from archive.package import PackageError, package_wacz
    from crawler.lock import Busy, locked

    with Run("package", out_dir, **speak) as run:
        if wacz_path.suffix.lower() != ".wacz":
            raise click.BadParameter("the file name must end in .wacz", param_hint="--wacz")
        if not (out_dir / "warc").is_dir():
            raise click.ClickException(f"{out_dir / 'warc'} does not exist: nothing to package")
        try:
            with locked(out_dir):  # not while a crawl is writing the archive
                result = package_wacz(out_dir, wacz_path, title=title, description=description)
        except Busy as exc:
            raise Failure(str(exc), EXIT_BUSY) from None
        except PackageError as exc:
            raise click.ClickException(str(exc)) from None
        except OSError as exc:
            raise click.ClickException(f"cannot package {out_dir}: {exc.strerror or exc}") from None
        run.done(result.render(), {
            "wacz": str(result.path), "warc_files": result.warc_files, "pages": result.pages,
            "bytes": result.size,
        })


def run() -> None:
    """The installed ``wikiarchive`` command: :func:`main`, then out without the
    interpreter's teardown.

    A command closes and syncs everything it writes before it returns (WARC files,
    catalog, tables, index, summary, lock); what is left is freeing what a crawl held,
    about a third of a second after a 2,000-page crawl. Output and the log are flushed
    first; a message exit, or an exception, goes the interpreter's own way.
    """
    try:
        main()
    except SystemExit as done:
        code = done.code
    else:
        code = 0
    if code is not None and not isinstance(code, int):
        raise SystemExit(code)
    logging.shutdown()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except OSError:  # a closed pipe: the status Python itself would give
        code = code or 120
    os._exit(code or 0)


if __name__ == "__main__":
    run()

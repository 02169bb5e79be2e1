"""``wikiarchive report``: the archive's history as one self-contained HTML file."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import click


@click.command("report")
@click.argument("out_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    help="HTML file to write (default: OUT_DIR/report.html).",
)
def report(out_dir: Path, output: Path | None) -> None:
    """Write an HTML report of OUT_DIR: crawl history, pages and footnotes per crawl, and
    the latest changes with their diffs and citations. The file is self-contained (no
    script, nothing loaded from elsewhere)."""
    from archive.catalog import CATALOG_NAME, CatalogError
    from archive.reader import ArchiveError
    from exports.report import write_report

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
    click.echo(f"Report written to {path}")


if __name__ == "__main__":
    report()

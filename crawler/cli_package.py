"""``wikiarchive package``: the archive as one WACZ file (registered by crawler.cli)."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("package")
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
def package(out_dir: Path, wacz_path: Path, title: str | None, description: str | None) -> None:
    """Package OUT_DIR into one WACZ file: its WARC files, their CDXJ index and a page
    list of every current article (URL, title, capture time), for ReplayWeb.page."""
    from archive.package import PackageError, package_wacz
    from crawler.cli import EXIT_BUSY, Failure
    from crawler.lock import Busy, locked

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
    click.echo(result.render())

"""Package the archive as one WACZ file (Web Archive Collection Zipped) with py-wacz.

The WACZ holds every closed WARC file of ``OUT/warc`` (``archive/``), their CDXJ index
(``indexes/index.cdx.gz`` with ``indexes/index.idx``, as py-wacz writes it), a page list
(``pages/pages.jsonl``: one entry per current article, with its URL, title and capture time)
and ``datapackage.json`` with the hash of every file. ReplayWeb.page opens it as it is.

The page list comes from the catalog's current pages: the latest capture of every article
that exists, its title read back from that capture with the crawler's own parser.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import json
import os
import shutil
import tempfile
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC
from pathlib import Path

from warcio.timeutils import datetime_to_iso_date, iso_date_to_timestamp

from archive.catalog import CATALOG_NAME, Catalog, CatalogError
from archive.index import confirmed_as_held, held_bytes, is_not_modified
from archive.reader import ArchiveError, read_response, read_warcinfo, warc_files
from crawler.page import unpack_page

PAGES_HEADER = {"format": "json-pages-1.0", "id": "pages", "title": "Articles"}


class PackageError(Exception):
    """The archive cannot be packaged (nothing archived, unreadable, unwritable…)."""


@dataclass(frozen=True, slots=True)
class PackageResult:
    path: Path
    warc_files: list[str]
    pages: int
    size: int

    def render(self) -> str:
        return (
            f"WACZ {self.path}: {len(self.warc_files)} WARC files, {self.pages} pages, "
            f"{self.size:,} bytes"
        )


def current_pages(out_dir: Path) -> list[dict[str, str]]:
    """One pages.jsonl entry per current article: url, title, ts (its WARC-Date), id."""
    out_dir = Path(out_dir)
    path = out_dir / CATALOG_NAME
    if not path.exists():
        raise PackageError(f"{path} does not exist: crawl first (or run export)")
    warc_dir = out_dir / "warc"
    catalog = Catalog(path, readonly=True)
    try:
        return [_page_entry(state, warc_dir) for state in catalog.current_pages()]
    finally:
        catalog.close()


def _page_entry(state: Mapping, warc_dir: Path) -> dict[str, str]:
    # The title from the page's parsed copy in the catalog; URL and time from the record
    # itself, as replay looks them up.
    capture = read_response(warc_dir, state["warc_filename"], state["warc_offset"])
    when = capture.date.astimezone(UTC).replace(tzinfo=None)
    return {
        "url": capture.url,
        "title": unpack_page(state["page"]).title,
        "ts": datetime_to_iso_date(when, use_micros=True),  # the record's WARC-Date
        "id": state["page_id"],
    }


def package_wacz(
    out_dir: Path,
    wacz_path: Path,
    *,
    title: str | None = None,
    description: str | None = None,
) -> PackageResult:
    """Write ``wacz_path`` from ``OUT/warc`` and the catalog of ``OUT``, atomically.

    Raises PackageError when there is nothing to package, the archive cannot be read, or
    py-wacz left a page out of the page list.
    """
    out_dir, wacz_path = Path(out_dir), Path(wacz_path)
    warcs = warc_files(out_dir / "warc")
    if not warcs:
        raise PackageError(f"no closed WARC file in {out_dir / 'warc'}: nothing to package")
    try:
        pages = current_pages(out_dir)
        sites = {read_warcinfo(w).get("wikiarchive-site") for w in warcs} - {None, ""}
    except (ArchiveError, CatalogError, OSError, ValueError) as exc:
        raise PackageError(f"cannot read the archive in {out_dir}: {exc}") from exc
    if not pages:
        raise PackageError(f"the catalog of {out_dir} lists no current page")
    if title is None:
        title = "Archive of " + ", ".join(sorted(sites)) if sites else "wikiarchive"
    try:
        wacz_path.parent.mkdir(parents=True, exist_ok=True)
        fd, scratch_name = tempfile.mkstemp(
            dir=wacz_path.parent, prefix=f".{wacz_path.stem}.", suffix=".wacz.tmp"
        )
        os.close(fd)
    except OSError as exc:
        raise PackageError(f"cannot write {wacz_path}: {exc.strerror or exc}") from exc
    scratch = Path(scratch_name)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            pages_file = Path(tmp) / "pages.jsonl"
            with open(pages_file, "w", encoding="utf-8") as out:
                for entry in [PAGES_HEADER, *pages]:
                    out.write(json.dumps(entry, ensure_ascii=False) + "\n")
            args = ["create", "-o", str(scratch), "--pages", str(pages_file), "--title", title]
            if description:
                args += ["--desc", description]
            _run_wacz([*args, *map(str, warcs)])
        _check(scratch, pages, warcs)
        _confirm_as_held(scratch)
        os.chmod(scratch, 0o644)
        os.replace(scratch, wacz_path)
    except OSError as exc:
        raise PackageError(f"cannot write {wacz_path}: {exc.strerror or exc}") from exc
    finally:
        scratch.unlink(missing_ok=True)
    return PackageResult(wacz_path, [w.name for w in warcs], len(pages), wacz_path.stat().st_size)


def _run_wacz(args: list[str]) -> None:
    """``wacz create …`` in this process; its chatter is kept for the error message."""
    try:
        from wacz.main import main as wacz_main  # slow to import (frictionless): when used
    except ImportError as exc:
        raise PackageError(f"py-wacz is not installed ({exc}): pip install wacz") from exc

    said = io.StringIO()
    try:
        with contextlib.redirect_stdout(said), contextlib.redirect_stderr(said):
            status = wacz_main(args)
    except SystemExit as exc:  # argparse
        status = exc.code
    except (ValueError, KeyError, zipfile.BadZipFile) as exc:
        raise PackageError(f"wacz create failed: {exc}") from exc
    if status not in (0, None):
        last = said.getvalue().strip().splitlines()[-1:] or ["no message"]
        raise PackageError(f"wacz create failed: {last[0]}")


def _check(wacz: Path, pages: list[dict[str, str]], warcs: list[Path]) -> None:
    """py-wacz drops a page it cannot match to a capture with a printed note only."""
    with zipfile.ZipFile(wacz) as archive:
        names = set(archive.namelist())
        missing_warcs = [w.name for w in warcs if f"archive/{w.name}" not in names]
        if missing_warcs:
            raise PackageError(f"WACZ lacks WARC files: {', '.join(missing_warcs)}")
        if "pages/pages.jsonl" not in names:
            raise PackageError("wacz create wrote no page list")
        lines = archive.read("pages/pages.jsonl").decode("utf-8").splitlines()
    listed = {(p["url"], iso_date_to_timestamp(p["ts"])) for p in map(json.loads, lines[1:])}
    wanted = {(p["url"], iso_date_to_timestamp(p["ts"])) for p in pages}
    if listed != wanted:
        lost = sorted(url for url, _ in wanted - listed)
        raise PackageError(f"{len(lost)} pages left out of the page list: {', '.join(lost[:5])}")


INDEX_DATA = "indexes/index.cdx.gz"
INDEX_IDX = "indexes/index.idx"
DATAPACKAGE = "datapackage.json"
DATAPACKAGE_DIGEST = "datapackage-digest.json"


def _confirm_as_held(wacz: Path) -> None:
    """py-wacz indexes a 304 revisit as it is, which ReplayWeb.page serves as an empty 304:
    its index lines are made to name the bytes the 304 confirmed, as in ``OUT/indexes``
    (archive.index.confirmed_as_held), and the package's hashes follow. The WARC files
    are copied unchanged; a WACZ without a 304 is left as py-wacz wrote it."""
    from cdxj_indexer.main import CompressedWriter
    from wacz.main import DEFAULT_NUM_LINES

    with zipfile.ZipFile(wacz) as archive:
        lines = gzip.decompress(archive.read(INDEX_DATA)).decode("utf-8").splitlines(True)
        if not any(is_not_modified(line) for line in lines):
            return
        held = held_bytes(lambda: lines)
        idx, data = io.StringIO(), io.BytesIO()
        writer = CompressedWriter(idx, data, num_lines=DEFAULT_NUM_LINES,
                                  data_out_name="index.cdx.gz", digest_records=True)
        for line in confirmed_as_held(lines, held):
            writer.write(line)
        if writer.block:
            writer.flush()
        new = {INDEX_DATA: data.getvalue(), INDEX_IDX: idx.getvalue().encode("utf-8")}
        package = json.loads(archive.read(DATAPACKAGE))
        for resource in package["resources"]:
            if resource["path"] in new:
                body = new[resource["path"]]
                resource["hash"] = "sha256:" + hashlib.sha256(body).hexdigest()
                resource["bytes"] = len(body)
        new[DATAPACKAGE] = json.dumps(package, indent=2).encode("utf-8")
        digest = json.loads(archive.read(DATAPACKAGE_DIGEST))
        digest["hash"] = "sha256:" + hashlib.sha256(new[DATAPACKAGE]).hexdigest()
        new[DATAPACKAGE_DIGEST] = json.dumps(digest, indent=2).encode("utf-8")
        rewritten = wacz.with_name(wacz.name + ".index")
        with zipfile.ZipFile(rewritten, "w", allowZip64=True) as out:
            for info in archive.infolist():
                if info.filename in new:
                    out.writestr(info, new[info.filename], compress_type=info.compress_type)
                else:
                    with archive.open(info) as src, out.open(info, "w") as dst:
                        shutil.copyfileobj(src, dst, 1 << 20)
    os.replace(rewritten, wacz)

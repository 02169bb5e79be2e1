"""What many test modules share: running the CLI, warcio's checker, a fresh corpus wiki,
the shared crawls' types and how to copy one."""

from __future__ import annotations

import hashlib
import re
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterable
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime
from html import unescape
from pathlib import Path

from corpus_expect import CORPUS_DIR
from warcio.archiveiterator import ArchiveIterator
from warcio.recordloader import ArcWarcRecord
from wikibed import DokuWikiBed

# A crawl as fast as the test wiki allows: no delay, no AutoThrottle, quiet logs; WHOLE
# archives what readers see (page requisites and media), FAST the pages alone (each
# crawl of the corpus wiki then sends 50 requests instead of 180).
WHOLE = ["--delay", "0", "-s", "AUTOTHROTTLE_ENABLED=False", "--log-level", "WARNING"]
FAST = [*WHOLE, "--no-requisites", "--no-media"]


def wikiarchive(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    """The real command line, in a process of its own (Twisted's reactor runs once)."""
    return subprocess.run(
        [sys.executable, "-m", "crawler.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def library_index(warc: Path) -> bytes:
    """The sorted CDXJ index cdxj-indexer's own command makes of a WARC file."""
    tool = Path(sys.executable).parent / "cdxj-indexer"
    assert tool.exists(), f"cdxj-indexer is not installed next to {sys.executable}"
    done = subprocess.run([str(tool), "--sort", str(warc)], capture_output=True, check=True,
                          timeout=60)
    return done.stdout


def warcio_check(paths: Iterable[Path], *, verbose: bool = False) -> subprocess.CompletedProcess:
    """warcio's own checker (digests, record structure) over the given WARC files."""
    options = ["-v"] if verbose else []
    return subprocess.run(
        [sys.executable, "-m", "warcio.cli", "check", *options, *map(str, paths)],
        capture_output=True,
        text=True,
    )


def corpus_wiki(root: Path, **options: object) -> DokuWikiBed:
    """A fresh DokuWiki holding the test corpus, served on 127.0.0.1; stop it when done."""
    bed = DokuWikiBed(root, **options)
    bed.load_corpus(CORPUS_DIR)
    bed.start()
    return bed


# ---- shared crawls (tests/conftest.py builds them once per session)


@dataclass(frozen=True)
class CrawlRun:
    """An output folder and the `wikiarchive crawl` run that wrote it."""

    out: Path
    result: subprocess.CompletedProcess


@dataclass(frozen=True)
class History:
    """A wiki crawled, edited (tests/edits.py, ``edit_for_history``) and crawled again."""

    bed: DokuWikiBed  # still served; never edit it (later crawls expect it unchanged)
    out: Path
    runs: tuple[subprocess.CompletedProcess, subprocess.CompletedProcess]
    sources: dict[str, str]  # new markup of every page written between the crawls
    files_after_first: dict[str, int]  # path under out -> st_mtime_ns after the first crawl

    @property
    def ids(self) -> list[str]:
        return [crawl_id_of(run) for run in self.runs]


def crawl_once(
    bed: DokuWikiBed, out: Path, *options: str, whole: bool = False
) -> subprocess.CompletedProcess:
    """A fast crawl of the bed into out (with requisites and media if *whole*), which must
    succeed."""
    fast = WHOLE if whole else FAST
    result = wikiarchive("crawl", bed.base_url, "--out", str(out), *fast, *options)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def crawl_id_of(result: subprocess.CompletedProcess) -> str:
    """The crawl id in the summary line ("Crawl <id> (<mode>): ...")."""
    return result.stdout.split()[1]


def copy_output(source: Path, target: Path) -> Path:
    """A copy of an output folder to change (shared crawls are read-only); returns target."""
    shutil.copytree(source, target, symlinks=True)
    return target


def folder_state(out: Path) -> dict[str, str]:
    """sha256 of every file under out, by relative path; the lock file and SQLite's
    transient -wal/-shm files aside (reading the archive may create or touch those)."""
    transient = (".wikiarchive.lock", "-wal", "-shm")
    return {
        str(path.relative_to(out)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(out.rglob("*"))
        if path.is_file() and not path.name.endswith(transient)
    }


def wait_for_fresh_caches(bed: DokuWikiBed) -> None:
    """Sleep until what DokuWiki caches from now on stays cached (whole seconds: see
    ``DokuWikiBed.caches_fresh_from``)."""
    time.sleep(max(0.0, bed.caches_fresh_from - time.time()))


def warc_record_at(path: Path, offset: int) -> tuple[ArcWarcRecord, bytes]:
    """The record at offset in a WARC file and its HTTP payload, read by warcio alone."""
    with open(path, "rb") as stream:
        stream.seek(offset)
        record = next(iter(ArchiveIterator(stream)))
        return record, record.content_stream().read()


def served_page(html: str) -> tuple[str | None, str, int]:
    """First heading, "Last modified" date and footnote blocks of a page as DokuWiki
    serves it (docs/dokuwiki.md, "HTML of a page"), read without the crawler's parser."""
    page = html[html.index("<!-- wikipage start -->") : html.index("<!-- wikipage stop -->")]
    page = re.sub(r"<!-- TOC START -->.*?<!-- TOC END -->", "", page, flags=re.S)
    heading = re.search(r"<h([1-6])[^>]*>(.*?)</h\1>", page, re.S)
    modified = re.search(r"Last modified: (\d{4}/\d\d/\d\d \d\d:\d\d)", html)
    title = unescape(heading.group(2)) if heading else None
    return title, modified.group(1), page.count('<div class="fn">')


def dokuwiki_date(iso: str) -> str:
    """An ISO date as DokuWiki shows it by default (dformat ``%Y/%m/%d %H:%M``)."""
    return datetime.fromisoformat(iso).strftime("%Y/%m/%d %H:%M")


def catalog_crawls(out: Path) -> list[tuple[str, str]]:
    """(crawl id, mode) of every crawl the catalog holds, in the order they ran; the
    tables leave out a crawl that found nothing to fetch."""
    uri = (out / "catalog.sqlite").resolve().as_uri() + "?mode=ro"
    with closing(sqlite3.connect(uri, uri=True)) as catalog:
        return catalog.execute("SELECT crawl_id, mode FROM crawls ORDER BY seq").fetchall()

"""What many test modules share: running the CLI, warcio's checker, a fresh corpus wiki."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

from corpus_expect import CORPUS_DIR
from wikibed import DokuWikiBed

# A crawl as fast as the test wiki allows: no delay, no AutoThrottle, quiet logs.
FAST = ["--delay", "0", "-s", "AUTOTHROTTLE_ENABLED=False", "--log-level", "WARNING"]


def wikiarchive(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    """The real command line, in a process of its own (Twisted's reactor runs once)."""
    return subprocess.run(
        [sys.executable, "-m", "crawler.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


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


def catalog_crawls(out: Path) -> list[dict]:
    """Every crawl the output folder's catalog knows, oldest first (the tables list only
    those that archived something)."""
    import sqlite3

    db = sqlite3.connect(f"file:{out / 'catalog.sqlite'}?mode=ro", uri=True)
    db.row_factory = sqlite3.Row
    try:
        return [dict(row) for row in db.execute("SELECT * FROM crawls ORDER BY seq")]
    finally:
        db.close()

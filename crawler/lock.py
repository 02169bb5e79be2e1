"""One wikiarchive run at a time per output folder (cron runs may overlap)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock, Timeout

LOCK_NAME = ".wikiarchive.lock"


class Busy(Exception):
    """Another wikiarchive run holds the output folder."""


def folder_lock(out_dir: Path) -> FileLock:
    return FileLock(Path(out_dir) / LOCK_NAME)


@contextmanager
def locked(out_dir: Path) -> Iterator[None]:
    """Hold the folder's lock for the block; Busy at once when another run has it."""
    lock = folder_lock(out_dir)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        raise Busy(f"another wikiarchive run is using {out_dir}") from None
    try:
        yield
    finally:
        lock.release()

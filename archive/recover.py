"""Recover the ``.open`` WARC files a killed crawl left behind.

Complete records are kept and the torn tail is cut off, so the file becomes an
ordinary closed WARC file; a response whose request record did not make it is
cut too (request and response always travel together). A file with no readable
warcinfo record is set aside as ``*.damaged``, never deleted.
"""

from __future__ import annotations

import logging
import os
import zlib
from dataclasses import dataclass
from pathlib import Path

from warcio.archiveiterator import ArchiveIterator
from warcio.exceptions import ArchiveLoadFailed

from archive.writer import OPEN_SUFFIX

logger = logging.getLogger(__name__)

DAMAGED_SUFFIX = ".damaged"


@dataclass(frozen=True, slots=True)
class Recovered:
    path: Path  # where the file is now
    captures: int  # complete response/request pairs kept
    cut_bytes: int  # torn tail removed


def complete_prefix(path: Path) -> tuple[int, int]:
    """(bytes of whole records and pairs at the start of the file, pairs among them)."""
    members = gzip_member_ends(path)
    cuts = [(end, pairs) for end, pairs in safe_cuts(path) if end in members]
    return cuts[-1] if cuts else (0, 0)


def gzip_member_ends(path: Path, chunk: int = 1 << 20) -> set[int]:
    """Offsets where a gzip member ends with its trailer (each record is one member)."""
    ends: set[int] = set()
    consumed = 0
    decompressor = zlib.decompressobj(zlib.MAX_WBITS | 16)
    with open(path, "rb") as stream:
        data = stream.read(chunk)
        while data:
            try:
                decompressor.decompress(data)
            except zlib.error:
                break
            if decompressor.eof:
                used = len(data) - len(decompressor.unused_data)
                consumed += used
                ends.add(consumed)
                data = decompressor.unused_data
                decompressor = zlib.decompressobj(zlib.MAX_WBITS | 16)
                if not data:
                    data = stream.read(chunk)
                continue
            consumed += len(data)
            data = stream.read(chunk)
    return ends


def safe_cuts(path: Path) -> list[tuple[int, int]]:
    """(offset, pairs so far) after each record where the file may end."""
    cuts = []
    captures = 0
    waiting_for_request = False
    try:
        with open(path, "rb") as stream:
            records = ArchiveIterator(stream, check_digests=True)
            for record in records:
                records.read_to_end(record)
                if record.digest_checker.passed is False:
                    break
                end = records.get_record_offset() + records.get_record_length()
                if record.rec_type in ("response", "revisit"):
                    waiting_for_request = True
                    continue
                if record.rec_type == "request":
                    if not waiting_for_request:
                        break
                    captures += 1
                waiting_for_request = False
                cuts.append((end, captures))
    except (ArchiveLoadFailed, EOFError, OSError, ValueError, zlib.error) as exc:
        logger.info("%s: records end at a torn one (%s)", path.name, exc)
    return cuts


def recover_file(path: Path) -> Recovered:
    keep, captures = complete_prefix(path)
    size = path.stat().st_size
    if keep == 0:
        target = path.with_name(path.name + DAMAGED_SUFFIX)
        os.replace(path, target)
        logger.warning("%s has no readable record; set aside as %s", path.name, target.name)
        return Recovered(target, 0, 0)
    with open(path, "r+b") as stream:
        stream.truncate(keep)
        os.fsync(stream.fileno())
    target = path.with_name(path.name.removesuffix(OPEN_SUFFIX))
    os.replace(path, target)
    logger.warning(
        "Recovered %s: %d captures kept, %d bytes of torn tail cut", target.name, captures,
        size - keep,
    )
    return Recovered(target, captures, size - keep)


def recover_open_files(warc_dir: Path) -> list[Recovered]:
    """Recover every ``*.open`` file; call only while holding the folder's lock."""
    return [recover_file(p) for p in sorted(Path(warc_dir).glob("*" + OPEN_SUFFIX))]

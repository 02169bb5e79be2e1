"""A CDXJ index of the archive, ``OUT/indexes/index.cdxj``, for pywb and other replay tools.

One line per response, revisit, resource and metadata record of every closed WARC file,
built by the ``cdxj-indexer`` library (the format pywb, ReplayWeb.page and py-wacz read)
and sorted as pywb expects (plain byte order of the lines: SURT key, then timestamp).

Incremental: closed WARC files never change, so each one is indexed once into a sorted
part file (``OUT/indexes/.parts/``, keyed by file name and size) and the index is a merge
of the parts; a later call indexes only the files that are new. The index is written to a
temporary file and swapped in with ``os.replace``, so a reader never sees half of it.

The crawl's own WARC files are indexed as they are written (:class:`FileIndexer`, the
library's rules applied to each record the writer has just written), so the part of a
file is there when it closes and the crawl need not read it back; a file without its
part (one a recovery rewrote, or whose part could not be written) is read by the library.

A capture a 304 confirmed is listed pointing at the bytes it confirmed
(:func:`confirmed_as_held`): replay tools serve a 304 record as an empty answer.
"""

from __future__ import annotations

import heapq
import json
import logging
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack, suppress
from functools import cache
from pathlib import Path

from archive.reader import warc_files

logger = logging.getLogger(__name__)

INDEX_DIR = "indexes"
INDEX_NAME = "index.cdxj"
PARTS_DIR = ".parts"  # a dot folder: pywb, given OUT/indexes/, reads only its *.cdxj files
PART_SUFFIX = ".cdxj.part"
SPILL_PREFIX = ".spill-"  # a FileIndexer's sorted runs, beside the parts
# cdxj-indexer's default record types, named here: importing py-wacz appends "warcinfo"
# to the library's shared default list, and warcinfo records are nothing to replay.
RECORDS = "response,revisit,resource,metadata"
MAX_OPEN_PARTS = 200  # parts merged at once; more are merged in rounds
# cdxj-indexer sorts in memory up to this many characters, then in sorted runs on disk:
# its default (32 M) would make an export's memory grow with the wiki up to that size.
SORT_BUFFER_CHARS = 1 << 20


def index_path(out_dir: Path) -> Path:
    return Path(out_dir) / INDEX_DIR / INDEX_NAME


def parts_dir(out_dir: Path) -> Path:
    return Path(out_dir) / INDEX_DIR / PARTS_DIR


def part_name(warc_name: str, size: int) -> str:
    """The part file of the closed WARC file *warc_name* of *size* bytes."""
    return f"{warc_name}.{size}{PART_SUFFIX}"


def update_index(out_dir: Path) -> Path:
    """Bring ``OUT/indexes/index.cdxj`` up to the closed WARC files in ``OUT/warc``.

    Returns the index path. With no WARC file the index is empty. Files still being
    written (``*.warc.gz.open``) are left out until they are closed.
    """
    out_dir = Path(out_dir)
    target = index_path(out_dir)
    folder = parts_dir(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    parts = []
    for warc in warc_files(out_dir / "warc"):
        part = folder / part_name(warc.name, warc.stat().st_size)
        if not part.exists():
            _index_one(warc, part)
        parts.append(part)
    keep = set(parts)
    for stale in folder.glob("*" + PART_SUFFIX):
        if stale not in keep:  # its WARC file is gone (or was rewritten by a recovery)
            stale.unlink(missing_ok=True)
    # Sorted runs of a crawl killed while writing (callers hold the folder's lock, so no
    # crawl is writing now).
    for spill in folder.glob(SPILL_PREFIX + "*"):
        spill.unlink(missing_ok=True)
    _merge_into(parts, target)
    return target


def _index_one(warc: Path, part: Path) -> None:
    """Index one WARC file into a sorted part file, atomically."""
    # Loaded here: it takes a fifth of a second, which the commands that only read a
    # folder's layout need not pay.
    from cdxj_indexer.main import CDXJIndexer

    logger.debug("Indexing %s by reading it back", warc.name)
    # Lines as the library writes them, sorted as it sorts them (its runs beside the parts).
    sorter = _sorter_class()(part.parent)
    try:
        CDXJIndexer(sorter, [str(warc)], records=RECORDS).process_all()
        _write_atomically(part, sorter.write_into)
    finally:
        sorter.discard()


class FileIndexer:
    """The part of one WARC file, made from its records as the writer writes them.

    cdxj-indexer's own rules (which records, which fields, how they are written and
    sorted) applied to each record just written, at the offset and length it took in the
    file, so the part is the one the library would make by reading the file back; in
    memory up to the same sort buffer, then in sorted runs beside the parts.
    """

    def __init__(self, folder: Path, filename: str):
        # Loaded by the first file's indexer, not by every user of this module.
        from cdxj_indexer.main import CDXJIndexer

        self.folder = Path(folder)
        self.filename = filename
        self._indexer = CDXJIndexer(None, [], records=RECORDS)
        self._indexer.curr_filename = filename
        self._sorter = _sorter_class()(self.folder)

    def add(self, record, offset: int, length: int) -> None:
        """Index *record* (a warcio record just written) at *offset*, *length* bytes."""
        if self._indexer.filter_record(record):
            self._indexer.process_index_entry(
                _Span(offset, length), record, self.filename, self._sorter
            )

    def discard(self) -> None:
        """Give up on this file's part (its sorted runs removed)."""
        self._sorter.discard()

    def close(self, size: int) -> Path:
        """Write the part of the file, closed at *size* bytes; returns its path."""
        part = self.folder / part_name(self.filename, size)
        self.folder.mkdir(parents=True, exist_ok=True)
        try:
            _write_atomically(part, self._sorter.write_into)
        finally:
            self._sorter.discard()
        return part


class _Span:
    """Where a record went, as cdxj-indexer asks its record iterator."""

    __slots__ = ("offset", "length")

    def __init__(self, offset: int, length: int):
        self.offset, self.length = offset, length

    def get_record_offset(self) -> int:
        return self.offset

    def get_record_length(self) -> int:
        return self.length


@cache
def _sorter_class() -> type:
    from cdxj_indexer.main import SortingWriter

    class SpillingSorter(SortingWriter):
        """The library's sorter, its runs written beside the parts instead of the system's
        temporary folder (a crawl killed meanwhile leaves them where the next index
        update removes them)."""

        def __init__(self, folder: Path):
            super().__init__(None, SORT_BUFFER_CHARS)
            self.folder = folder

        def write_into(self, out) -> None:
            """Write every line, sorted, to *out*."""
            self.out = out  # the library's sorter writes to its output only when flushed
            self.flush()

        def discard(self) -> None:
            """Remove the runs written so far (after write_into, or instead of it)."""
            for name in self.tmp_files:
                with suppress(OSError):
                    os.unlink(name)
            self.tmp_files = []

        def write_to_temp(self) -> str:
            self.sortedlist.sort()
            self.folder.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(
                "w", encoding="utf-8", newline="\n", dir=self.folder, prefix=SPILL_PREFIX,
                suffix=".tmp", delete=False,
            ) as out:
                self.write_to_file(self.sortedlist, out)
            return out.name

    return SpillingSorter


def _merge_into(parts: list[Path], target: Path) -> None:
    """Merge sorted part files into ``target``, at most MAX_OPEN_PARTS open at once."""
    scratch: list[Path] = []
    try:
        while len(parts) > MAX_OPEN_PARTS:
            merged = []
            for start in range(0, len(parts), MAX_OPEN_PARTS):
                fd, name = tempfile.mkstemp(dir=target.parent, prefix=".merge-", suffix=".tmp")
                scratch.append(Path(name))
                with open(fd, "w", encoding="utf-8", newline="\n") as out:
                    _merge(parts[start : start + MAX_OPEN_PARTS], out)
                merged.append(Path(name))
            parts = merged
        _write_atomically(target, lambda out: _merge(parts, out))
    finally:
        for path in scratch:
            path.unlink(missing_ok=True)


def _merge(parts: list[Path], out) -> None:
    held = held_bytes(lambda: _lines_of(parts))
    with ExitStack() as stack:
        streams = [stack.enter_context(open(p, encoding="utf-8", newline="\n")) for p in parts]
        out.writelines(confirmed_as_held(heapq.merge(*streams), held))


def is_not_modified(line: str) -> bool:
    """An index line of a server-not-modified revisit (a 304 answer)."""
    return '"warc/revisit"' in line and '"status": "304"' in line


def _lines_of(parts: list[Path]) -> Iterator[str]:
    for part in parts:
        with open(part, encoding="utf-8") as lines:
            yield from lines


def held_bytes(lines: Callable[[], Iterable[str]]) -> dict[str, dict]:
    """Payload digest -> index fields of a response holding those bytes, for the digests
    of the captures a 304 confirmed: two passes over ``lines()``, one when there is no
    304."""
    wanted = {json.loads(ln.split(" ", 2)[2])["digest"] for ln in lines() if is_not_modified(ln)}
    held: dict[str, dict] = {}
    if not wanted:
        return held
    for line in lines():
        if '"warc/revisit"' in line or '"digest"' not in line or line.startswith("!"):
            continue
        fields = json.loads(line.split(" ", 2)[2])
        if fields.get("digest") in wanted:
            held.setdefault(fields["digest"], fields)
    return held


def confirmed_as_held(lines: Iterable[str], held: dict[str, dict]) -> Iterator[str]:
    """Sorted index lines, each capture a 304 confirmed pointing at the bytes it confirmed.

    A server-not-modified revisit holds a 304 head, which pywb and ReplayWeb.page serve
    as an empty 304 (no image a browser can show). Its line keeps its own time but names
    a response record with the same payload digest (*held*; the same URL's when there is
    one), so replay at that time serves the file; the WARC record is unchanged.
    """
    key = None
    same_key: list[str] = []
    for line in lines:
        line_key = line.split(" ", 1)[0]
        if line_key != key:
            key, same_key = line_key, []
        if is_not_modified(line):
            line = _pointing_at_held(line, same_key, held)
        same_key.append(line)
        yield line


def _pointing_at_held(line: str, earlier: list[str], held: dict[str, dict]) -> str:
    key, timestamp, fields_text = line.rstrip("\n").split(" ", 2)
    fields = json.loads(fields_text)
    original = held.get(fields.get("digest"))
    for candidate in reversed(earlier):  # the same URL's capture first, when there is one
        found = json.loads(candidate.split(" ", 2)[2])
        if found.get("mime") != "warc/revisit" and found.get("digest") == fields.get("digest"):
            original = found
            break
    if original is None:
        return line  # its original is not in the archive: left as the record says
    return f"{key} {timestamp} {json.dumps({**original, 'url': fields['url']})}\n"


def _write_atomically(target: Path, write) -> None:
    """Call ``write(text_stream)`` on a temporary file beside ``target``, then swap it in."""
    fd, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with open(fd, "w", encoding="utf-8", newline="\n") as out:
            write(out)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(name, 0o644)
        os.replace(name, target)
    except BaseException:
        with suppress(FileNotFoundError):
            os.unlink(name)
        raise

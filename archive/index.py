"""A CDXJ index of the archive, ``OUT/indexes/index.cdxj``, for pywb and other replay tools.

One line per response, revisit, resource and metadata record of every closed WARC file,
built by the ``cdxj-indexer`` library (the format pywb, ReplayWeb.page and py-wacz read)
and sorted as pywb expects (plain byte order of the lines: SURT key, then timestamp).

Incremental: closed WARC files never change, so each one is indexed once into a sorted
part file (``OUT/indexes/.parts/``, keyed by file name and size) and the index is a merge
of the parts; a later call indexes only the files that are new. The index is written to a
temporary file and swapped in with ``os.replace``, so a reader never sees half of it.

A capture a 304 confirmed is listed pointing at the bytes it confirmed
(:func:`confirmed_as_held`): replay tools serve a 304 record as an empty answer.
"""

from __future__ import annotations

import heapq
import json
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack, suppress
from pathlib import Path

from archive.reader import warc_files

INDEX_DIR = "indexes"
INDEX_NAME = "index.cdxj"
PARTS_DIR = ".parts"  # a dot folder: pywb, given OUT/indexes/, reads only its *.cdxj files
PART_SUFFIX = ".cdxj.part"
# cdxj-indexer's default record types, named here: importing py-wacz appends "warcinfo"
# to the library's shared default list, and warcinfo records are nothing to replay.
RECORDS = "response,revisit,resource,metadata"
MAX_OPEN_PARTS = 200  # parts merged at once; more are merged in rounds
# cdxj-indexer sorts in memory up to this many characters, then in sorted runs on disk:
# its default (32 M) would make an export's memory grow with the wiki up to that size.
SORT_BUFFER_CHARS = 1 << 20


def index_path(out_dir: Path) -> Path:
    return Path(out_dir) / INDEX_DIR / INDEX_NAME


def update_index(out_dir: Path) -> Path:
    """Bring ``OUT/indexes/index.cdxj`` up to the closed WARC files in ``OUT/warc``.

    Returns the index path. With no WARC file the index is empty. Files still being
    written (``*.warc.gz.open``) are left out until they are closed.
    """
    out_dir = Path(out_dir)
    target = index_path(out_dir)
    parts_dir = target.parent / PARTS_DIR
    parts_dir.mkdir(parents=True, exist_ok=True)
    parts = []
    for warc in warc_files(out_dir / "warc"):
        part = parts_dir / f"{warc.name}.{warc.stat().st_size}{PART_SUFFIX}"
        if not part.exists():
            _index_one(warc, part)
        parts.append(part)
    keep = set(parts)
    for stale in parts_dir.glob("*" + PART_SUFFIX):
        if stale not in keep:  # its WARC file is gone (or was rewritten by a recovery)
            stale.unlink(missing_ok=True)
    _merge_into(parts, target)
    return target


def _index_one(warc: Path, part: Path) -> None:
    """Index one WARC file into a sorted part file, atomically."""
    # Loaded here: it takes a fifth of a second, which the archivist process and the
    # commands that only read a folder's layout need not pay.
    from cdxj_indexer.main import write_cdx_index

    def write(out) -> None:
        write_cdx_index(
            out,
            [str(warc)],
            {"sort": True, "records": RECORDS, "max_sort_buff_size": SORT_BUFFER_CHARS},
        )

    _write_atomically(part, write)


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

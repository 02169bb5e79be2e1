"""Which pages the archive knows, and whether each exists, held small for the tables.

The links table says, for a link to a page the archive knows, whether that page exists
as of the latest crawl. A dict of every page id cost 4 MB at 20,000 pages, the export's
largest per-page memory; here each page takes 9 bytes: its id's 64-bit hash, kept sorted,
and a flag. Two ids with the same hash (about one chance in 10^11 at 20,000 pages) make
it fall back to the dict, so a known page is never confused with another; an unknown
target taken for a known one is as unlikely per link, and costs a link's colour at most.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left
from collections.abc import Callable, Iterable


class Presence:
    """Built from ``rows``, a callable giving (page id, exists) pairs: read once, and once
    more only when two ids share a hash. Rows are hashed as they stream by, so no list of
    every id is held even while it is built (that took about 300 bytes a page)."""

    def __init__(self, rows: Callable[[], Iterable[tuple[str, bool]]]):
        hashes, present = array("q"), bytearray()
        for page_id, exists in rows():
            hashes.append(hash(page_id))
            present.append(bool(exists))
        order = sorted(range(len(hashes)), key=hashes.__getitem__)
        keys = array("q", (hashes[at] for at in order))
        self._exact: dict[str, bool] | None = None
        if any(keys[at] == keys[at + 1] for at in range(len(keys) - 1)):
            self._exact = {page_id: bool(exists) for page_id, exists in rows()}
            return
        self._hashes = keys
        self._present = bytes(present[at] for at in order)

    def get(self, page_id: str) -> bool | None:
        """True: it exists; False: it was removed; None: the archive never held it."""
        return self.get_many((page_id,))[0]

    def get_many(self, page_ids: Iterable[str]) -> list[bool | None]:
        """:meth:`get` of each id, in one call (a page's links ask tens at a time)."""
        if self._exact is not None:
            return list(map(self._exact.get, page_ids))
        hashes, present, end = self._hashes, self._present, len(self._hashes)
        found: list[bool | None] = []
        for key in map(hash, page_ids):
            at = bisect_left(hashes, key)
            found.append(None if at == end or hashes[at] != key else present[at] == 1)
        return found

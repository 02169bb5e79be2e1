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
from collections.abc import Iterable


class Presence:
    def __init__(self, rows: Iterable[tuple[str, bool]]):
        pairs = sorted((hash(page_id), page_id, bool(present)) for page_id, present in rows)
        hashes = [h for h, _, _ in pairs]
        if any(a == b for a, b in zip(hashes, hashes[1:], strict=False)):
            self._exact: dict[str, bool] | None = {p: present for _, p, present in pairs}
            return
        self._exact = None
        self._hashes = array("q", hashes)
        self._present = bytes(present for _, _, present in pairs)

    def get(self, page_id: str) -> bool | None:
        """True: it exists; False: it was removed; None: the archive never held it."""
        if self._exact is not None:
            return self._exact.get(page_id)
        key = hash(page_id)
        at = bisect_left(self._hashes, key)
        if at == len(self._hashes) or self._hashes[at] != key:
            return None
        return bool(self._present[at])

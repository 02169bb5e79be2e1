"""Pages found but not yet asked for, kept as page ids rather than Scrapy requests.

The sitemap or the page index can name every page of the wiki at once; as requests in
Scrapy's scheduler they cost a few KB each (meta, headers, parsed URL), which made a
crawl's memory grow with the wiki. The frontier keeps the ids (first found, first asked)
and hands Scrapy a small batch whenever its scheduler runs dry (the ``scheduler_empty``
signal), so the requests alive at any time stay few, however large the wiki.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator

from scrapy import Request

Factory = Callable[[str], Request | Iterable[Request]]


class Frontier:
    """A FIFO of (factory, page id); :meth:`release` turns the oldest into requests."""

    def __init__(self, batch: int):
        self.batch = batch
        self._waiting: deque[tuple[Factory, str]] = deque()

    def __len__(self) -> int:
        return len(self._waiting)

    def add(self, factory: Factory, page_id: str) -> None:
        self._waiting.append((factory, page_id))

    def release(self) -> Iterator[Request]:
        """The requests of up to one batch of waiting entries, oldest first."""
        for _ in range(min(self.batch, len(self._waiting))):
            factory, page_id = self._waiting.popleft()
            made = factory(page_id)
            if isinstance(made, Request):
                yield made
            else:
                yield from made

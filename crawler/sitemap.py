"""Page ids listed by a wiki's sitemap (pure: no I/O).

Entities are never expanded (lxml with ``resolve_entities=False``, as Scrapy's
Sitemap parser is built) and a gzip sitemap is decompressed only up to a size cap,
so a hostile sitemap can neither blow up memory nor reach outside the wiki.
"""

from __future__ import annotations

from scrapy.utils.gz import gunzip
from scrapy.utils.sitemap import Sitemap

from crawler.dokuwiki import page_id_from_url


def sitemap_page_ids(body: bytes, *, site: str, max_size: int) -> list[str]:
    """Ids of the wiki's pages in a sitemap (plain or gzip); others are left out.

    Raises ValueError for a sitemap too large or unreadable.
    """
    if body[:2] == b"\x1f\x8b":
        try:
            body = gunzip(body, max_size=max_size)
        except Exception as exc:  # over the cap, or not gzip after all
            raise ValueError(f"unreadable gzip sitemap: {exc}") from exc
    if len(body) > max_size:
        raise ValueError(f"sitemap larger than {max_size} bytes")
    try:
        entries = list(Sitemap(body))
    except Exception as exc:  # lxml gives up on some broken documents
        raise ValueError(f"unreadable sitemap: {exc}") from exc
    ids = (page_id_from_url(entry.get("loc", ""), site) for entry in entries)
    return [page_id for page_id in ids if page_id]

"""Pages listed by a wiki's sitemap, with their last-modified dates (pure: no I/O).

Entities are never expanded (lxml with ``resolve_entities=False``, as Scrapy's
Sitemap parser is built) and a gzip sitemap is decompressed only up to a size cap,
so a hostile sitemap can neither blow up memory nor reach outside the wiki.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from scrapy.utils.gz import gunzip
from scrapy.utils.sitemap import Sitemap

from crawler.dokuwiki import page_id_from_url


@dataclass(frozen=True, slots=True)
class SitemapEntry:
    page_id: str
    # <lastmod> as the wiki wrote it (DokuWiki: the page file's time, with the server's
    # UTC offset); None when absent or unreadable.
    lastmod: datetime | None


def sitemap_page_ids(body: bytes, *, site: str, max_size: int) -> list[str]:
    """Ids of the wiki's pages in a sitemap (plain or gzip); others are left out.

    Raises ValueError for a sitemap too large or unreadable.
    """
    return [entry.page_id for entry in sitemap_entries(body, site=site, max_size=max_size)]


def sitemap_entries(body: bytes, *, site: str, max_size: int) -> list[SitemapEntry]:
    """The wiki's pages in a sitemap (plain or gzip) with their ``<lastmod>``.

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
    found = []
    for entry in entries:
        page_id = page_id_from_url(entry.get("loc", ""), site)
        if page_id:
            found.append(SitemapEntry(page_id, lastmod_date(entry.get("lastmod"))))
    return found


def lastmod_date(text: str | None) -> datetime | None:
    """A W3C datetime (``2024-06-07T03:00:00+00:00``, or a bare date) as written."""
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return None

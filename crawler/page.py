"""The page model: what one served article says, its content hash, its packed form and
the gist a crawl acts on.

Pure data, no I/O. The parser builds a :class:`Page`; the catalog keeps it packed;
tables and change reports read it back.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, fields
from typing import NamedTuple

from zlib_ng import zlib_ng

# How the parser found the article (Page.layout).
LAYOUT_RENDERER = "renderer"  # by DokuWiki's section divs or footnotes, in any template
LAYOUT_WIKIPAGE = "wikipage"  # the default template's <!-- wikipage start/stop -->
LAYOUT_PARAGRAPHS = "paragraphs"  # plain paragraphs only: a page without headings
LAYOUT_UNKNOWN = "unknown"  # none of these: the template's whole content area was taken


# Footnotes and links are named tuples, not dataclasses: a page holds tens of them, made
# again each time it is unpacked, and the tables take their columns with zip(*links).
class Footnote(NamedTuple):
    number: int
    numbers: tuple[int, ...]
    text: str
    pmid: str | None
    pmcid: str | None
    doi: str | None
    urls: tuple[str, ...]


class Link(NamedTuple):
    target: str
    kind: str  # page | missing_page | external | media
    text: str


@dataclass(frozen=True, slots=True)
class Page:
    page_id: str
    url: str
    title: str
    namespace: str
    exists: bool
    body_text: str
    last_modified: str | None  # the wiki's wall-clock time, ISO 8601 without offset
    last_modified_raw: str | None  # the date as displayed; None: no date found at all
    footnotes: tuple[Footnote, ...]
    links: tuple[Link, ...]
    # Fields added later keep defaults, so pages packed before them still unpack.
    # The same instant in UTC (ISO 8601, "+00:00") when the page states its offset
    # (<time datetime="...">), else None.
    last_modified_utc: str | None = None
    # How the parser found the article (LAYOUT_* above); None for pages packed before
    # it was recorded.
    layout: str | None = None


@dataclass(frozen=True, slots=True)
class PageGist:
    """What a crawl acts on in a parsed page: whether it exists, its date, the pages it
    links to. It crosses from the archivist to the spider for every article, where the
    whole page (its text, footnotes and every link) would cost more to pickle than
    anything the spider does with it."""

    exists: bool
    last_modified: str | None
    linked_pages: tuple[str, ...]  # targets of its page links, in order
    links: int  # links of any kind


def gist_of(page: Page) -> PageGist:
    return PageGist(
        page.exists,
        page.last_modified,
        tuple(link.target for link in page.links if link.kind == "page"),
        len(page.links),
    )


def content_sha256(page: Page) -> str:
    """SHA-256 of what a reader sees (title, body text, footnotes); equal hashes, same
    content. Link colours and page chrome do not count."""
    content = {
        "title": page.title,
        "body_text": page.body_text,
        "footnotes": [[list(f.numbers), f.text] for f in page.footnotes],
    }
    encoded = json.dumps(content, ensure_ascii=False, sort_keys=True).encode()
    return hashlib.sha256(encoded).hexdigest()


def pack_page(page: Page) -> bytes:
    """The page as the catalog keeps it: JSON of its fields in order, compressed.

    Positional and shallow on purpose: dataclasses.asdict deep-copies every link and
    footnote, which cost more than parsing the page.
    """
    # Footnotes and links are tuples: JSON arrays of their fields in order.
    values = [getattr(page, name) for name in _PAGE_FIELDS]
    # zlib's format: zlib-ng at level 2 makes it in half zlib's time at level 1, and smaller.
    return zlib_ng.compress(json.dumps(values, ensure_ascii=False).encode(), 2)


def unpack_page(blob: bytes) -> Page:
    """The page :func:`pack_page` packed, equal to the original."""
    values = json.loads(zlib_ng.decompress(blob))
    values[_FOOTNOTES] = tuple(
        Footnote(n[0], tuple(n[1]), n[2], n[3], n[4], n[5], tuple(n[6]))
        for n in values[_FOOTNOTES]
    )
    values[_LINKS] = tuple(map(Link._make, values[_LINKS]))
    return Page(*values)


_PAGE_FIELDS = [f.name for f in fields(Page)]
_FOOTNOTES = _PAGE_FIELDS.index("footnotes")
_LINKS = _PAGE_FIELDS.index("links")

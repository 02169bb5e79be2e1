"""What a served page loads and links on the wiki itself: its requisites and media files.

Pure DokuWiki knowledge, no I/O. A browser showing a DokuWiki page loads its stylesheet
(``lib/exe/css.php``), scripts (``lib/exe/js.php``, ``jquery.php``), the template's images
and favicon (static files under ``lib/``), the fonts and images the stylesheet names in
``url(...)``, and the wiki's media files the page embeds (``lib/exe/fetch.php?media=…``,
``_media/…`` with URL rewriting, resized ones with the ``tok=`` the page printed). A
reader's click on an image leads to its detail page (``lib/exe/detail.php``), which
links the original file. These rules find them in a tree the parser already built
(``crawler.parse.parse_capture``) or in a stylesheet's text, exactly as the page writes
them: a resized image is only served at the URL carrying its token.

Nothing outside the wiki is taken, and nothing DokuWiki's scope rules
(``crawler.dokuwiki.resource_kind``) refuse: never the task runner the page embeds.
"""

from __future__ import annotations

import re
from collections.abc import Container, Iterable
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from urllib.parse import parse_qsl, urljoin, urlsplit
from xml.etree.ElementTree import ParseError

from defusedxml.ElementTree import fromstring
from lxml import etree

from crawler.dokuwiki import (
    DETAIL,
    MEDIA,
    REQUISITE,
    clean_id,
    is_same_site,
    media_id_from_url,
    resource_kind,
)
from crawler.feed import feed_date

EMBEDS = "embeds"  # the page shows it (an image, a stylesheet...)
LINKS = "links"  # the page links it (a download, an image's detail page)

# <link rel=...> values whose target a browser loads to show the page.
_LOADED_RELS = frozenset({"stylesheet", "icon", "apple-touch-icon", "mask-icon"})
_PRELOADED = frozenset({"style", "script", "image", "font"})
# Elements and the attributes naming what they load.
_LOADS = {
    "script": ("src",),
    "img": ("src",),
    "input": ("src",),
    "source": ("src",),
    "video": ("src", "poster"),
    "audio": ("src",),
    "track": ("src",),
    "embed": ("src",),
    "object": ("data",),
}
_LOADING_TAGS = ("link", "style", *_LOADS)
_CSS_URL = re.compile(r"""url\(\s*(?:"([^"]*)"|'([^']*)'|([^)'"\s]*))\s*\)""", re.I)
_XP_STYLE_URLS = etree.XPath("//@style[contains(., 'url(')]", smart_strings=False)
_CSS_IMPORT = re.compile(r"""@import\s+(?:"([^"]*)"|'([^']*)')""", re.I)


@dataclass(frozen=True, slots=True)
class Resource:
    """A URL of the wiki a page loads or links, as the page writes it (made absolute)."""

    url: str
    kind: str  # requisite | media | detail (crawler.dokuwiki.resource_kind)
    media_id: str | None  # for media files and detail pages
    relation: str  # embeds | links


def resource_of(href: str, base_url: str, site: str, relation: str) -> Resource | None:
    """The resource *href* (as written in a document at *base_url*) names, if the crawl
    may fetch it; None for anything else (another site, a page, the task runner...)."""
    href = href.strip()
    if not href or href.startswith(("data:", "#", "javascript:", "mailto:", "about:")):
        return None
    if href.startswith("/") and not href.startswith("//"):
        # DokuWiki writes absolute paths, the same on every page: resolved once per crawl.
        return _resource_at(href, site, relation)
    return _resource_at(urljoin(base_url, href), site, relation)


@lru_cache(maxsize=1024)  # the files pages share; bounded (65,536 held 35 MB)
def _resource_at(href: str, site: str, relation: str) -> Resource | None:
    url = urljoin(site, href).split("#", 1)[0]
    if not url.startswith(("http://", "https://")) or not is_same_site(url, site):
        return None
    parts, base = urlsplit(url), urlsplit(site).path or "/"
    kind = resource_kind(parts.path[len(base):], parts.query)
    if kind is None:
        return None
    media_id = media_id_from_url(url, site) if kind != REQUISITE else None
    if kind != REQUISITE and media_id is None:
        return None
    return Resource(url, kind, media_id, relation)


def resources_in_tree(
    root, base_url: str, site: str, text: str | None = None
) -> tuple[Resource, ...]:
    """Everything the HTML tree *root* loads or links on the wiki, each URL once: what a
    browser loads (stylesheets, scripts, images, icons, media players), the media files
    the page links (downloads) and images' detail pages, and the ``url(...)`` of inline
    styles (looked for only when *text*, the document's source, has one)."""
    found: dict[tuple[str, str], Resource] = {}

    def add(href: str, relation: str) -> None:
        resource = resource_of(href, base_url, site, relation)
        if resource is not None:
            found.setdefault((resource.url, resource.relation), resource)

    # One walk of the tree; the links (few of them to files) come first, as listed.
    loaded: list[str] = []
    for el in root.iter("a", *_LOADING_TAGS):
        tag = el.tag
        if tag == "a":
            href = el.get("href")
            if href and ("fetch.php" in href or "detail.php" in href or "/_media/" in href
                         or "/_detail/" in href):
                add(href, LINKS)
        elif tag == "link":
            rels = (el.get("rel") or "").lower().split()
            href = el.get("href")
            if href and (not _LOADED_RELS.isdisjoint(rels)
                         or ("preload" in rels and (el.get("as") or "").lower() in _PRELOADED)):
                loaded.append(href)
        elif tag == "style":
            loaded += css_references(el.text or "")
        else:
            loaded += _loaded_by(el, tag)
    for href in loaded:
        add(href, EMBEDS)
    if text is None or "url(" in text:
        for style in _XP_STYLE_URLS(root):
            for href in css_references(style):
                add(href, EMBEDS)
    return tuple(found.values())


def _loaded_by(el, tag: str) -> list[str]:
    """The URLs an element of _LOADS loads: its attributes', then its srcset's."""
    found = [value for name in _LOADS[tag] if (value := el.get(name))]
    srcset = el.get("srcset")
    if srcset:
        for candidate in srcset.split(","):
            url = candidate.strip().split(" ", 1)[0]
            if url:
                found.append(url)
    return found


def css_references(css: str) -> list[str]:
    """The URLs a stylesheet loads: every ``url(...)`` and ``@import``, in order."""
    found = []
    for match in _CSS_URL.finditer(css):
        found.append(next(g for g in match.groups() if g is not None))
    for match in _CSS_IMPORT.finditer(css):
        found.append(match.group(1) if match.group(1) is not None else match.group(2))
    return [url for url in found if url]


def stylesheet_resources(css: bytes | str, url: str, site: str) -> tuple[Resource, ...]:
    """What a stylesheet served at *url* loads on the wiki (fonts, images, imports)."""
    text = css.decode("utf-8", "replace") if isinstance(css, bytes) else css
    found: dict[str, Resource] = {}
    for href in css_references(text):
        resource = resource_of(href, url, site, EMBEDS)
        if resource is not None:
            found.setdefault(resource.url, resource)
    return tuple(found.values())


def is_stylesheet(url: str, content_type: str) -> bool:
    return "css" in content_type.lower() or urlsplit(url).path.lower().endswith(".css")


# The stylesheet and scripts DokuWiki builds, named with a seed of what they are built
# from (tpl_metaheaders: the release, the mtimes of the main configuration files and of
# the template's style.ini override). An upgrade, a template switch, a configuration
# change and an extension installed by the extension manager (which touches
# conf/local.php) all change it.
SEEDED_BUILDS = ("lib/exe/css.php", "lib/exe/js.php", "lib/exe/jquery.php")


def seeded_builds_held(resources: Iterable[Resource], held: Container[str]) -> bool:
    """True when a page loads DokuWiki's built stylesheet or scripts, each named with its
    ``tseed``, and the archive holds every one of those URLs: the look the page loads is
    then the one already archived."""
    seeded = False
    for resource in resources:
        parts = urlsplit(resource.url)
        if resource.kind != REQUISITE or not parts.path.endswith(SEEDED_BUILDS):
            continue
        if "tseed" not in dict(parse_qsl(parts.query)) or resource.url not in held:
            return False
        seeded = True
    return seeded


def media_only(resources: Iterable[Resource]) -> list[Resource]:
    """The media files among *resources* (what the page shows or links of the wiki's)."""
    return [r for r in resources if r.kind == MEDIA]


# --------------------------------------------------------------------------- media feed


@dataclass(frozen=True, slots=True)
class MediaChange:
    media_id: str
    date: datetime  # UTC


def parse_media_feed(body: bytes) -> tuple[MediaChange, ...]:
    """Media changes in DokuWiki's feed with ``view=media`` (``linkto=current``): each
    item links the media manager with ``image=<media id>``; its date is the change's."""
    try:
        root = fromstring(body)
    except (ParseError, ValueError) as exc:
        raise ValueError(f"unreadable media feed: {exc}") from exc
    found = []
    for item in root.iter("item"):
        query = dict(parse_qsl(urlsplit((item.findtext("link") or "").strip()).query))
        media_id = clean_id(query.get("image", ""))
        date = feed_date(item.findtext("pubDate"))
        if media_id and date is not None:
            found.append(MediaChange(media_id, date))
    return tuple(found)


__all__ = ["DETAIL", "MEDIA", "REQUISITE", "EMBEDS", "LINKS", "Resource"]

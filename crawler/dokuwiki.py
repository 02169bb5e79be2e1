"""DokuWiki's rules for page ids and URLs, as pure functions.

The rules mirror DokuWiki 2022-07-31 ("Igor") with its default configuration
(``sepchar='_'``, ``deaccent=1``, ``useslash=0``, ``start='start'``); see
``docs/dokuwiki.md`` §3 and §6.  Nothing here does I/O.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from urllib.parse import parse_qsl, quote, unquote, urljoin, urlsplit

START_PAGE = "start"

# DokuWiki's inc/Utf8/tables/specials.php as code point ranges.  The table has a
# few entries that are UTF-8 byte sequences written as code points (0xC2A0,
# 0xE28087...); DokuWiki strips whatever character those numbers name, so we do
# too where the number is a valid code point.
_SPECIAL_RANGES = (
    "1A-29 2B-2C 2F-2F 3B-40 5B-5E 60-60 7B-BF D7-D7 F7-F7 2C7-2C7 2D8-2DD 300-301 303-303 "
    "309-309 323-323 384-385 387-387 5B0-5B9 5BB-5C3 5F3-5F4 60C-60C 61B-61B 61F-61F 640-640 "
    "64B-652 66A-66A E3F-E3F 200C-200F 2013-2015 2017-201A 201C-201E 2020-2022 2026-2026 "
    "2030-2030 2032-2033 2039-203A 2044-2044 20A7-20A7 20AA-20AC 2116-2116 2118-2118 2122-2122 "
    "2126-2126 2135-2135 2190-2195 21B5-21B5 21D0-21D4 2200-2200 2202-2203 2205-2209 220B-220B "
    "220F-220F 2211-2212 2215-2215 2217-2217 2219-221A 221D-221E 2220-2220 2227-222B 2234-2234 "
    "223C-223C 2245-2245 2248-2248 2260-2261 2264-2265 2282-2284 2286-2287 2295-2295 2297-2297 "
    "22A5-22A5 22C5-22C5 2310-2310 2320-2321 2329-232A 2469-2469 2500-2500 2502-2502 250C-250C "
    "2510-2510 2514-2514 2518-2518 251C-251C 2524-2524 252C-252C 2534-2534 253C-253C 2550-256C "
    "2580-2580 2584-2584 2588-2588 258C-258C 2590-2593 25A0-25A0 25B2-25B2 25BC-25BC 25C6-25C6 "
    "25CA-25CA 25CF-25CF 25D7-25D7 2605-2605 260E-260E 261B-261B 261E-261E 2660-2660 2663-2663 "
    "2665-2666 2701-2704 2706-2709 270C-2727 2729-274B 274D-274D 274F-2752 2756-2756 2758-275E "
    "2761-2767 277F-277F 2789-2789 2793-2794 2798-27AF 27B1-27BE 3000-3003 3008-3012 3014-301B "
    "3036-3036 C2A0-C2A0 F6D9-F6DB F8D7-F8FE FE7C-FE7D FF01-FF0F FF1A-FF20 FF3B-FF3E FF40-FF40 "
    "FF5B-FF65 FFE0-FFE6 FFE8-FFEE 1D6FC-1D71B"
)

# DokuWiki's inc/Utf8/tables/loweraccents.php (deaccent=1 applies it after lowercasing).
# Deliberately not unicodedata's decomposition: DokuWiki keeps e.g. Greek tonos and
# Vietnamese dot-below letters, and page ids must match the wiki's own.
_LOWER_ACCENTS = (
    "á=a à=a ă=a â=a å=a ä=ae ã=a ą=a ā=a æ=ae ḃ=b ć=c ĉ=c č=c ċ=c ç=c ď=d ḋ=d đ=d ð=dh "
    "é=e è=e ĕ=e ê=e ě=e ë=e ė=e ę=e ē=e ḟ=f ƒ=f ğ=g ĝ=g ġ=g ģ=g ĥ=h ħ=h í=i ì=i î=i ï=i "
    "ĩ=i į=i ī=i ı=i ĵ=j ķ=k ĺ=l ľ=l ļ=l ł=l ṁ=m ń=n ň=n ñ=n ņ=n ó=o ò=o ô=o ö=oe ő=o õ=o "
    "ø=o ō=o ơ=o ṗ=p ŕ=r ř=r ŗ=r ś=s ŝ=s š=s ṡ=s ş=s ș=s ß=ss ť=t ṫ=t ţ=t ț=t ŧ=t ú=u ù=u "
    "ŭ=u û=u ů=u ü=ue ű=u ũ=u ų=u ū=u ư=u ẃ=w ẁ=w ŵ=w ẅ=w ý=y ỳ=y ŷ=y ÿ=y ź=z ž=z ż=z "
    "þ=th µ=u"
)


def _special_class() -> str:
    parts = ["\\x00-\\x19*"]
    for item in _SPECIAL_RANGES.split():
        low, high = (int(x, 16) for x in item.split("-"))
        parts.append(f"{re.escape(chr(low))}-{re.escape(chr(high))}")
    return "[" + "".join(parts) + "]"


_SPECIALS = re.compile(_special_class())
_DEACCENT = str.maketrans(dict(pair.split("=") for pair in _LOWER_ACCENTS.split()))
_SLASHES = str.maketrans({";": ":", "/": "_"})
_SEPCHARS = re.compile(r"_+")
_COLONS = re.compile(r":+")
_COLON_THEN_PUNCT = re.compile(r":[:._\-]+")
_PUNCT_THEN_COLON = re.compile(r"[:._\-]+:")
_PHP_TRIM = " \t\n\r\0\x0b"


@lru_cache(maxsize=1024)  # bounded: a full cache of 65,536 ids held 7 MB
def clean_id(raw: str) -> str:
    """Return DokuWiki's ``cleanID()`` of *raw* (default configuration)."""
    # PhpString::strtolower = mb_strtolower + Normalizer (NFC) when intl is present.
    page_id = unicodedata.normalize("NFC", raw.strip(_PHP_TRIM).lower())
    page_id = page_id.translate(_SLASHES).translate(_DEACCENT)
    page_id = _SPECIALS.sub("_", page_id)
    page_id = _SEPCHARS.sub("_", page_id)
    page_id = _COLONS.sub(":", page_id)
    page_id = page_id.strip(":._-")
    page_id = _COLON_THEN_PUNCT.sub(":", page_id)
    return _PUNCT_THEN_COLON.sub(":", page_id)


def namespace(page_id: str) -> str:
    """The namespace of a clean page id, "" for the root namespace."""
    return page_id.rpartition(":")[0]


# A crawl meets few hosts, and every link and response asks (several times each).
@lru_cache(maxsize=64)
def _origin(scheme: str, netloc: str) -> tuple[str, str, int | None]:
    """(scheme, host, port) with default ports made explicit, for comparing URLs."""
    parts = urlsplit(f"{scheme}://{netloc}")
    try:
        port = parts.port
    except ValueError:
        port = -1  # an invalid port never equals a valid one
    if port is None:
        port = {"http": 80, "https": 443}.get(parts.scheme)
    return parts.scheme, (parts.hostname or "").rstrip("."), port


def site_root(url: str) -> str:
    """Normalise a wiki URL given by a user to its base folder URL ending in "/".

    ``https://host/wiki``, ``https://host/wiki/`` and ``https://host/wiki/doku.php?id=x``
    all give ``https://host/wiki/``.
    """
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise ValueError(f"not an http(s) URL: {url!r} (expected e.g. https://example.org/wiki/)")
    if not parts.hostname:
        raise ValueError(f"no host in URL: {url!r} (expected e.g. https://example.org/wiki/)")
    scheme, host, port = _origin(scheme, parts.netloc)
    if port == -1:
        raise ValueError(f"invalid port in URL: {url!r}")
    netloc = f"[{host}]" if ":" in host else host
    if port not in (None, {"http": 80, "https": 443}[scheme]):
        netloc += f":{port}"
    path = parts.path or "/"
    if "/doku.php" in path:
        path = path[: path.index("/doku.php") + 1]
    elif path.rsplit("/", 1)[-1].endswith(".php"):
        path = path.rsplit("/", 1)[0] + "/"
    elif not path.endswith("/"):
        path += "/"
    return f"{scheme}://{netloc}{path}"


def page_url(site: str, page_id: str) -> str:
    """The permanent link of a page: ``SITE doku.php?id=ID``, id encoded like DokuWiki."""
    # idfilter(): rawurlencode, then ':' (and ';', '/') put back.
    return f"{site}doku.php?id={quote(clean_id(page_id), safe=':;/')}"


def is_same_site(url: str, site: str) -> bool:
    """True if *url* (absolute) is on the same scheme, host and port and under *site*'s path."""
    parts = urlsplit(url)
    base = urlsplit(site)
    if _origin(parts.scheme.lower(), parts.netloc) != _origin(base.scheme.lower(), base.netloc):
        return False
    return (parts.path or "/").startswith(base.path or "/")


# Query keys that make a doku.php URL something other than the article view.
_ACTION_KEYS = frozenset({"rev", "rev2[]", "idx", "image", "ns", "media", "at", "sectok", "tab"})
# `do=show` (and an empty `do=`) is DokuWiki's article view itself.
_ARTICLE_ACTIONS = frozenset({"", "show"})
# First path segments (userewrite=1) that are DokuWiki's own folders, not pages.
_RESERVED_DIRS = frozenset(
    {"lib", "_media", "_detail", "_export", "data", "conf", "inc", "bin", "vendor"}
)
_RESERVED_NAMES = frozenset({"robots.txt", "sitemap.xml", "sitemap.xml.gz", "favicon.ico"})


def _is_action_query(query: str) -> tuple[bool, str | None]:
    """(is an action/non-article query, raw ``id`` value or None)."""
    raw_id = None
    for key, value in parse_qsl(query, keep_blank_values=True):
        if key == "id":
            raw_id = value
        elif key == "do":
            if value.strip().lower() not in _ARTICLE_ACTIONS:
                return True, raw_id
        elif key in _ACTION_KEYS or key.startswith("tab_"):
            return True, raw_id
    return False, raw_id


def _is_login_view(script: str, query: str) -> bool:
    """``doku.php?id=X&do=login`` (the form) or ``doku.php?id=X`` (where it is posted)."""
    fields = parse_qsl(query, keep_blank_values=True)
    keys = {key for key, _ in fields}
    actions = {value.strip().lower() for key, value in fields if key == "do"}
    return script == "doku.php" and keys <= _LOGIN_KEYS and actions <= {"login"}


def _id_from_raw(raw_id: str) -> str | None:
    stripped = raw_id.strip(_PHP_TRIM)
    page_id = clean_id(stripped)
    # getID(): an id ending in ':' names a namespace; DokuWiki redirects to its start
    # page when the start page exists, and falls back to it otherwise.
    if stripped.endswith(":"):
        return f"{page_id}:{START_PAGE}" if page_id else START_PAGE
    return page_id or None


# Links repeat across pages (navigation, sidebar) and the rules cost more than a lookup;
# the cache stays small so memory does not grow with the wiki (65,536 URLs held 35 MB;
# 4,096 still grew an export by about 2 MB between 1,000 and 4,000 pages).
@lru_cache(maxsize=1024)
def page_id_from_url(url: str, site: str) -> str | None:
    """The clean page id if *url* is an article view of the wiki at *site*, else None.

    Relative URLs are resolved against *site*.  The bare site root and bare
    ``doku.php`` (the start page) give None: the caller handles the start page.
    """
    parts = urlsplit(urljoin(site, url.strip()))
    if any(segment in (".", "..") for segment in parts.path.split("/")):
        return None  # no wiki links so; a way out of the wiki's path
    base = urlsplit(site)
    if _origin(parts.scheme.lower(), parts.netloc) != _origin(base.scheme.lower(), base.netloc):
        return None
    base_path = base.path or "/"
    path = parts.path or "/"
    if not path.startswith(base_path):
        return None
    is_action, raw_id = _is_action_query(parts.query)
    if is_action:
        return None
    rest = path[len(base_path):]
    if rest == "doku.php":
        return None if raw_id is None else _id_from_raw(raw_id)
    if rest.startswith("doku.php/"):  # userewrite=2
        return _id_from_rewritten_path(rest[len("doku.php/"):])
    return _id_from_rewritten_path(rest, rewrite1=True)


def _id_from_rewritten_path(rest: str, *, rewrite1: bool = False) -> str | None:
    if not rest:
        return None
    if rewrite1:
        first = rest.split("/", 1)[0]
        if first in _RESERVED_DIRS or rest in _RESERVED_NAMES or rest.endswith(".php"):
            return None
    # With URL rewriting DokuWiki writes namespaces as '/' only when useslash=1,
    # so a '/' in a served rewritten link is a namespace separator.
    raw_id = unquote(rest).replace("/", ":")
    return _id_from_raw(raw_id)


# The login view and its form's target: doku.php with these keys at most, do=login or none.
_LOGIN_KEYS = frozenset({"id", "do", "sectok"})


def request_kind(url: str, site: str, views: frozenset[str] = frozenset()) -> str | None:
    """What a URL the crawler may fetch is: article, index, sitemap, feed, robots, or
    what a page loads or links (requisite, media, detail: see :func:`resource_kind`);
    with ``"history"`` in *views* also revisions (a page's revision list) and revision
    (an old revision); with ``"source"``, source (a page's markup, ``do=export_raw``);
    with ``"login"`` (the exchange that logs a crawl in, and only that), the login view.

    None means out of scope: another host, outside the wiki's path, or any other view
    (edit, login, media, the task runner, ...), however the crawl got there.
    """
    parts = urlsplit(url)
    base = urlsplit(site)
    if _origin(parts.scheme.lower(), parts.netloc) != _origin(base.scheme.lower(), base.netloc):
        return None
    if parts.path == "/robots.txt":
        return "robots"
    if not (parts.path or "/").startswith(base.path or "/"):
        return None
    if "login" in views and _is_login_view(parts.path[len(base.path or "/") :], parts.query):
        return "login"
    if page_id_from_url(url, site) is not None:
        return "article"
    script = parts.path[len(base.path or "/") :]
    resource = resource_kind(script, parts.query)
    if resource is not None:
        return resource
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    if script == "feed.php":
        return "feed"
    if script != "doku.php":
        return None
    if query.get("do") == "sitemap" and set(query) == {"do"}:
        return "sitemap"
    if set(query) <= {"id", "do", "idx"} and (query.get("do") == "index" or "idx" in query):
        return "index"
    view = history_view(url, site)
    if view is not None and view[0] in _VIEW_MODES and _VIEW_MODES[view[0]] in views:
        return view[0]
    return None


# The extra views of history and source crawls, and the mode that allows each.
_VIEW_MODES = {"revisions": "history", "revision": "history", "source": "source"}
_HISTORY_QUERIES = {
    frozenset({"id", "do"}): "revisions",
    frozenset({"id", "do", "first"}): "revisions",
    frozenset({"id", "rev"}): "revision",
}


def history_view(url: str, site: str) -> tuple[str, str, int | None] | None:
    """(view, page id, number) when *url* is one of the views a history or source crawl
    fetches, exactly as :func:`revisions_url`, :func:`revision_url` and :func:`source_url`
    build them: ("revisions", id, first), ("revision", id, rev), ("source", id, rev or
    None). None for anything else."""
    parts = urlsplit(url)
    if not parts.path.endswith("/doku.php") or not is_same_site(url, site):
        return None
    if parts.path[len(urlsplit(site).path or "/"):] != "doku.php":
        return None
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    query = dict(pairs)
    if len(query) != len(pairs) or clean_id(query.get("id", "")) != query.get("id"):
        return None
    number = query.get("first", query.get("rev"))
    if number is not None and not (number.isdigit() and number.isascii()):
        return None
    keys = frozenset(query)
    view = _HISTORY_QUERIES.get(keys)
    if query.get("do") == "export_raw" and keys <= {"id", "do", "rev"}:
        view = "source"
    elif "do" in query and query["do"] != "revisions":
        view = None
    if view is None:
        return None
    return view, query["id"], int(number) if number is not None else None


def revisions_url(site: str, page_id: str, first: int = 0) -> str:
    """A screen of a page's revision list (``first`` skips the newest revisions)."""
    url = f"{page_url(site, page_id)}&do=revisions"
    return f"{url}&first={first}" if first else url


def revision_url(site: str, page_id: str, revision: int) -> str:
    """An old revision of a page, rendered."""
    return f"{page_url(site, page_id)}&rev={revision}"


def source_url(site: str, page_id: str, revision: int | None = None) -> str:
    """A page's markup (``do=export_raw``), of an old revision when one is given."""
    url = f"{page_url(site, page_id)}&do=export_raw"
    return f"{url}&rev={revision}" if revision is not None else url


# What a browser fetches to show a page, served by DokuWiki's own scripts.
REQUISITE_SCRIPTS = frozenset({"lib/exe/css.php", "lib/exe/js.php", "lib/exe/jquery.php"})
# Scripts a page may embed that change the wiki or answer no reader: never fetched.
NEVER_FETCHED = frozenset({"lib/exe/taskrunner.php", "lib/exe/indexer.php"})
# Static files of the engine, its templates and plugins that a page or stylesheet loads.
STATIC_SUFFIXES = (
    ".css", ".js", ".png", ".gif", ".jpg", ".jpeg", ".svg", ".ico", ".webp", ".avif",
    ".bmp", ".woff", ".woff2", ".ttf", ".otf", ".eot", ".cur",
)
REQUISITE, MEDIA, DETAIL = "requisite", "media", "detail"


def resource_kind(script: str, query: str) -> str | None:
    """``requisite``, ``media`` or ``detail`` for what a page loads or links, else None.

    *script* is the URL's path below the wiki's base, *query* its query string.
    Requisites are the stylesheet, scripts and static files under ``lib/``; media
    files are ``lib/exe/fetch.php?media=ID`` or ``_media/ID`` (URL rewriting) of the
    wiki's own files (``media=`` naming another site is DokuWiki's external-image
    proxy: not the wiki's); ``lib/exe/detail.php`` and ``_detail/ID`` are an image's
    detail page. The task runner is never one of them.
    """
    if script in NEVER_FETCHED:
        return None
    if script in REQUISITE_SCRIPTS:
        return REQUISITE
    if script == "lib/exe/fetch.php":
        media = dict(parse_qsl(query)).get("media", "")
        return MEDIA if media and "://" not in media else None
    if script == "lib/exe/detail.php":
        return DETAIL if dict(parse_qsl(query)).get("media") else None
    if script.startswith("_media/") and len(script) > len("_media/"):
        return MEDIA
    if script.startswith("_detail/") and len(script) > len("_detail/"):
        return DETAIL
    if script.startswith("lib/") and script.lower().endswith(STATIC_SUFFIXES):
        return None if ".." in script.split("/") else REQUISITE
    return None


def media_id_from_url(url: str, site: str) -> str | None:
    """The media id a fetch.php / _media / detail.php / _detail URL of the wiki names."""
    parts = urlsplit(urljoin(site, url))
    base = urlsplit(site).path or "/"
    if not parts.path.startswith(base):
        return None
    script = parts.path[len(base):]
    if script in ("lib/exe/fetch.php", "lib/exe/detail.php"):
        media = dict(parse_qsl(parts.query)).get("media", "")
        return (clean_id(media) or None) if media and "://" not in media else None
    for prefix in ("_media/", "_detail/"):
        if script.startswith(prefix):
            return clean_id(unquote(script[len(prefix):]).replace("/", ":")) or None
    return None

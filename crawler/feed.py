"""DokuWiki's recent-changes feed (``feed.php``) read as dated page ids (pure: no I/O)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from xml.etree.ElementTree import ParseError

from defusedxml.ElementTree import fromstring

from crawler.dokuwiki import page_id_from_url


@dataclass(frozen=True, slots=True)
class FeedItem:
    page_id: str
    date: datetime  # UTC


@dataclass(frozen=True, slots=True)
class Feed:
    items: tuple[FeedItem, ...]
    requested: int  # the feed's num=: fewer items means the changelog ran out
    unchanged: bool = False  # 304 Not Modified: no change since the previous crawl's feed


def parse_feed(body: bytes, *, site: str, requested: int) -> Feed:
    """Items of DokuWiki's RSS 2.0 recent-changes feed (``type=rss2&linkto=current``)."""
    try:
        root = fromstring(body)
    except (ParseError, ValueError) as exc:
        raise ValueError(f"unreadable feed: {exc}") from exc
    items = []
    for item in root.iter("item"):
        page_id = page_id_from_url((item.findtext("link") or "").strip(), site)
        date = feed_date(item.findtext("pubDate"))
        if page_id and date is not None:
            items.append(FeedItem(page_id, date))
    return Feed(tuple(items), requested)


def feed_date(text: str | None) -> datetime | None:
    """An RFC 822 ``pubDate`` as an aware UTC datetime; None when unreadable.

    A date without a zone, or with ``-0000`` (RFC 5322: zone unknown), is taken as UTC,
    which is what DokuWiki prints; comparing it with aware datetimes must never fail.
    """
    if not text:
        return None
    try:
        date = parsedate_to_datetime(text.strip())
    except (TypeError, ValueError, IndexError):
        return None
    if date.tzinfo is None:
        return date.replace(tzinfo=UTC)
    return date.astimezone(UTC)

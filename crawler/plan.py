"""Which pages an incremental crawl must fetch (pure: no I/O).

The wiki tells what changed through its recent-changes feed, and which pages
exist through its index. When the feed cannot be trusted to reach back to the
previous crawl, every page is fetched: a change is never missed for speed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
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


@dataclass(frozen=True, slots=True)
class Plan:
    fetch: frozenset[str]
    everything: bool  # the feed could not be trusted: fetch every known and listed page
    reason: str


def parse_feed(body: bytes, *, site: str, requested: int) -> Feed:
    """Items of DokuWiki's RSS 2.0 recent-changes feed (``type=rss2&linkto=current``)."""
    try:
        root = fromstring(body)
    except (ParseError, ValueError) as exc:
        raise ValueError(f"unreadable feed: {exc}") from exc
    items = []
    for item in root.iter("item"):
        page_id = page_id_from_url((item.findtext("link") or "").strip(), site)
        published = item.findtext("pubDate")
        if page_id and published:
            items.append(FeedItem(page_id, parsedate_to_datetime(published)))
    return Feed(tuple(items), requested)


def feed_covers(feed: Feed, since: datetime, now: datetime, recent_days: float) -> bool:
    """Whether every change after ``since`` is in the feed.

    An item at or before ``since`` proves the changelog reaches back far enough. A
    short feed holds the whole changelog, which DokuWiki trims to ``recent_days``.
    """
    if feed.unchanged or any(item.date < since for item in feed.items):
        return True
    return len(feed.items) < feed.requested and since >= now - timedelta(days=recent_days)


def plan_incremental(
    *,
    known: Iterable[str],
    listing: set[str] | None,
    feed: Feed | None,
    failed: Iterable[str],
    since: datetime,
    now: datetime,
    recent_days: float,
) -> Plan:
    known = set(known)
    if listing is None:
        return Plan(frozenset(known), True, "the page index could not be read")
    if feed is None:
        return Plan(frozenset(known | listing), True, "the recent-changes feed could not be read")
    if not feed_covers(feed, since, now, recent_days):
        reason = f"the recent-changes feed does not reach back to {since.isoformat()}"
        return Plan(frozenset(known | listing), True, reason)
    # ">=": an edit saved in the same second the previous feed was served may be missing
    # from that feed.
    changed = {item.page_id for item in feed.items if item.date >= since}
    fetch = changed | (listing - known) | (known - listing) | set(failed)
    return Plan(frozenset(fetch), False, f"{len(changed)} changed in the feed")

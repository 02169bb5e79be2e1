"""Which pages an incremental crawl must fetch (pure: no I/O).

The wiki tells what changed through its recent-changes feed, and which pages
exist through its index. When the feed cannot be trusted to reach back to the
previous crawl, every page is fetched: a change is never missed for speed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from archive.catalog import CrawlMark, PreviousCrawl
from crawler.feed import Feed


@dataclass(frozen=True, slots=True)
class Plan:
    fetch: frozenset[str]
    everything: bool  # the feed could not be trusted: fetch every known and listed page
    reason: str


def mark_since(mark: CrawlMark, margin: timedelta) -> datetime:
    """From when on an edit is news to a crawl: its feed's Last-Modified (the wiki's own
    clock; every article of the crawl was fetched after its feed), else its start on our
    clock less a margin for clock skew."""
    if mark.feed_last_modified:
        return datetime.fromisoformat(mark.feed_last_modified)
    return datetime.fromisoformat(mark.started_at) - margin


def page_since(previous: PreviousCrawl, margin: timedelta) -> dict[str, datetime]:
    """For each known page, from when on its edits are news.

    The last crawl that ran to its end vouches for every page that existed then; a later
    crawl that was stopped vouches only for the pages it captured. So a stopped crawl is
    resumed, not redone, and never hides an edit made before it that it did not fetch.
    """
    crawls = previous.crawls
    finished = [i for i, mark in enumerate(crawls) if mark.outcome == "finished"]
    base = crawls[finished[-1]] if finished else None
    later = {m.crawl_id: m for m in crawls[finished[-1] + 1 :]} if finished else {
        m.crawl_id: m for m in crawls
    }
    since = {}
    for page_id, crawl_id in previous.captured_in.items():
        mark = later.get(crawl_id, base)
        if mark is not None:
            since[page_id] = mark_since(mark, margin)
    return since


def pages_to_retry(previous: PreviousCrawl) -> frozenset[str]:
    """Pages that failed in the last finished crawl or any crawl after it."""
    crawls = previous.crawls
    finished = [i for i, mark in enumerate(crawls) if mark.outcome == "finished"]
    recent = crawls[finished[-1] :] if finished else crawls
    return frozenset().union(*(mark.failed_pages for mark in recent))


def feed_covers(feed: Feed, since: datetime, now: datetime, recent_days: float) -> bool:
    """Whether every change after ``since`` is in the feed.

    An item before ``since`` proves the changelog reaches back far enough. A short feed
    holds the whole changelog, which DokuWiki trims to ``recent_days``.
    """
    if feed.unchanged or any(item.date < since for item in feed.items):
        return True
    return len(feed.items) < feed.requested and since >= now - timedelta(days=recent_days)


def plan_incremental(
    *,
    since: dict[str, datetime],
    listing: set[str] | None,
    feed: Feed | None,
    failed: Iterable[str],
    now: datetime,
    recent_days: float,
    refused: Iterable[str] = (),
) -> Plan:
    """Pages to fetch: edited since we last had them, new, gone from the index, failed,
    or refused last time.

    ``since`` maps each known page to the time from which its edits are news. ``refused``
    pages (DokuWiki's Permission Denied) are asked again whatever the feed says: access
    comes back without an edit, and the feed and index hide what the crawl may not read.
    """
    known = set(since) | set(refused)
    if listing is None:
        return Plan(frozenset(known), True, "the page index could not be read")
    if feed is None:
        return Plan(frozenset(known | listing), True, "the recent-changes feed could not be read")
    oldest = min(since.values(), default=now)
    if not feed_covers(feed, oldest, now, recent_days):
        reason = f"the recent-changes feed does not reach back to {oldest.isoformat()}"
        return Plan(frozenset(known | listing), True, reason)
    # ">=": an edit saved in the same second the feed was served may be missing from it.
    # New pages come from the listing; a feed item of a page never seen and not listed
    # (created and deleted in between) has nothing to fetch.
    changed = {
        item.page_id
        for item in feed.items
        if item.page_id in since and item.date >= since[item.page_id]
    }
    fetch = changed | (listing - known) | (known - listing) | set(failed) | set(refused)
    return Plan(frozenset(fetch), False, f"{len(changed)} changed in the feed")

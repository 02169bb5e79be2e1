"""Which pages an incremental crawl must fetch (pure: no I/O).

The wiki tells what changed through its recent-changes feed and its sitemap, and
which pages exist through its index. A page is fetched when anything it publishes
says the page's current revision differs from the one we hold, not only when a feed
date is newer than our previous crawl: edits written with past dates (external
edits, restores, imports) are caught too. When the feed cannot be trusted to reach
back to the previous crawl, every page is fetched: a change is never missed for speed.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from archive.catalog import CrawlMark, PreviousCrawl
from crawler.feed import Feed

ZERO = timedelta(0)
QUARTER_HOUR = timedelta(minutes=15)
MAX_OFFSET = timedelta(hours=14)  # the widest UTC offsets in use are -12:00 and +14:00


@dataclass(frozen=True, slots=True)
class Plan:
    fetch: frozenset[str]
    everything: bool  # the feed could not be trusted: fetch every known and listed page
    reason: str
    reasons: dict[str, int] = field(default_factory=dict)  # pages asked for, per rule


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

    A short feed holds the whole changelog, which DokuWiki trims to ``recent_days``. A
    full one reaches back far enough when its oldest items are older than ``since``; the
    feed is in the order the changelog was written, so an item dated in the past but
    written later (an external edit, a restore) proves nothing: once an item older than
    ``since`` is met, every later one must be older too.
    """
    if feed.unchanged:
        return True
    if len(feed.items) < feed.requested:
        return since >= now - timedelta(days=recent_days)
    dates = [item.date for item in feed.items]
    first_old = next((i for i, date in enumerate(dates) if date < since), None)
    return first_old is not None and all(date < since for date in dates[first_old:])


def wall_clock(value: str | None) -> datetime | None:
    """A date the wiki stated (wiki-local, no offset) as a naive datetime, or None."""
    if not value:
        return None
    try:
        return datetime.fromisoformat(value).replace(tzinfo=None)
    except ValueError:
        return None


def same_stated_time(stated: datetime, held: str | None) -> bool:
    """Whether a wiki-local wall-clock time is the date a page we hold states, compared
    at the resolution the page states it (minutes; days for a date-only format)."""
    held_at = wall_clock(held)
    if held_at is None:
        return False  # nothing readable to compare with: the page is fetched
    if held is not None and "T" not in held:
        return stated.date() == held_at.date()
    return stated.replace(second=0, microsecond=0) == held_at.replace(second=0, microsecond=0)


def learn_offsets(feed: Feed | None, held: dict[str, str | None]) -> set[timedelta]:
    """The wiki's offsets from UTC, learnt from feed items whose revision we hold.

    A feed item of a page we hold unchanged names the same revision twice: in UTC in the
    feed, in the wiki's time on the page (to the minute). Their difference, a whole
    number of quarter hours, is the wiki's offset; edits since give other differences.
    An offset counts when two pages agree on it (or one page is all there is).
    """
    if feed is None:
        return set()
    votes: Counter[timedelta] = Counter()
    for item in feed.items:
        local = wall_clock(held.get(item.page_id))
        if local is None or item.page_id not in held:
            continue
        utc = item.date.astimezone(UTC).replace(tzinfo=None, second=0, microsecond=0)
        diff = local.replace(second=0, microsecond=0) - utc
        if diff % QUARTER_HOUR == timedelta(0) and abs(diff) <= MAX_OFFSET:
            votes[diff] += 1
    if len(votes) == 1 and sum(votes.values()) == 1:
        return set(votes)
    return {offset for offset, count in votes.items() if count >= 2}


def feed_differs(date: datetime, held: str | None, offsets: set[timedelta]) -> bool:
    """Whether a feed item names a revision other than, and not older than, the one we hold.

    Feed dates are UTC; a page states wiki-local time. Without a learnt offset the wiki
    is taken to be on UTC, so a wiki on another zone has its feed items fetched until
    one crawl has learnt its offset: more requests, never a missed edit. An item older
    than the version we hold is no news: the changelog lacks an edit made outside
    DokuWiki that we hold already (the sitemap dates such edits).
    """
    held_at = wall_clock(held)
    if held_at is None:
        return True
    utc = date.astimezone(UTC).replace(tzinfo=None)
    if any(same_stated_time(utc + offset, held) for offset in offsets or {ZERO}):
        return False
    latest = utc + (max(offsets) if offsets else MAX_OFFSET)
    return latest.replace(second=0, microsecond=0) >= held_at.replace(second=0, microsecond=0)


def sitemap_differs(lastmod: datetime, held: str | None) -> bool:
    """Whether a sitemap ``<lastmod>`` is not the date of the version we hold.

    DokuWiki writes it in the server's time with its offset, the time its pages state:
    the wall-clock part is compared, whatever the offset.
    """
    return not same_stated_time(lastmod.replace(tzinfo=None), held)


def plan_incremental(
    *,
    since: dict[str, datetime],
    listing: set[str] | None,
    feed: Feed | None,
    failed: Iterable[str],
    now: datetime,
    recent_days: float,
    held: dict[str, str | None] | None = None,
    sitemap: dict[str, datetime | None] | None = None,
    refused: Iterable[str] = (),
) -> Plan:
    """Pages to fetch: those anything the wiki publishes says differ from what we hold.

    ``since`` maps each known page to the time from which its edits are news; ``held``
    to the date the version we hold states. A page is fetched when its feed item is
    newer than ``since`` (the time rule), when the feed or the sitemap dates its current
    revision otherwise than the version we hold (per-page evidence: backdated and
    external edits), when the index lists it and we lack it, when we hold it and the
    index no longer lists it, when it failed before, or when the wiki refused it last
    time (``refused``: DokuWiki's Permission Denied; access comes back without an edit,
    and the feed and index hide what the crawl may not read). ``reasons`` counts the
    pages each rule asked for (a page may be asked for by several).
    """
    refused = set(refused)
    known = set(since)
    held = held or {}
    if listing is None:
        return _everything(known | refused, set(), "the page index could not be read")
    if feed is None:
        return _everything(known | refused, listing, "the recent-changes feed could not be read")
    oldest = min(since.values(), default=now)
    if not feed_covers(feed, oldest, now, recent_days):
        reason = f"the recent-changes feed does not reach back to {oldest.isoformat()}"
        return _everything(known | refused, listing, reason)
    offsets = learn_offsets(feed, held)
    # ">=": an edit saved in the same second the feed was served may be missing from it.
    # New pages come from the listing; a feed item of a page never seen and not listed
    # (created and deleted in between) has nothing to fetch.
    rules = {
        "feed": {
            item.page_id
            for item in feed.items
            if item.page_id in since and item.date >= since[item.page_id]
        },
        "feed date": {
            item.page_id
            for item in feed.items
            if item.page_id in held and feed_differs(item.date, held[item.page_id], offsets)
        },
        "sitemap date": {
            page_id
            for page_id, lastmod in (sitemap or {}).items()
            if page_id in held and lastmod is not None and sitemap_differs(lastmod, held[page_id])
        },
        "new in index": listing - known - refused,
        "gone from index": known - listing - refused,
        "retry": set(failed),
        "refused before": refused,
    }
    fetch = frozenset().union(*rules.values())
    reasons = {name: len(ids) for name, ids in rules.items() if ids}
    summary = ", ".join(f"{n} {name}" for name, n in reasons.items()) or "nothing changed"
    return Plan(fetch, False, summary, reasons)


def _everything(known: set[str], listing: set[str], reason: str) -> Plan:
    fetch = frozenset(known | listing)
    return Plan(fetch, True, reason, {"everything": len(fetch)})

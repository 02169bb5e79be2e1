"""What an incremental crawl fetches, decided from the wiki's feed and index (pure rules)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from archive.catalog import CrawlMark, PreviousCrawl
from crawler.feed import Feed, FeedItem, parse_feed
from crawler.plan import feed_covers, page_since, pages_to_retry, plan_incremental

T0 = datetime(2026, 1, 1, tzinfo=UTC)
NOW = T0 + timedelta(days=2)
MARGIN = timedelta(minutes=10)


def mark(crawl_id, outcome="finished", feed=T0, started=T0, failed=()):
    return CrawlMark(
        crawl_id,
        outcome,
        started.isoformat(),
        feed.isoformat() if feed else None,
        '"etag"',
        frozenset(failed),
    )


def feed(*items, requested=1000, unchanged=False):
    return Feed(tuple(FeedItem(p, d) for p, d in items), requested, unchanged)


def plan(since, listing, the_feed, failed=()):
    return plan_incremental(
        since=since, listing=listing, feed=the_feed, failed=failed, now=NOW, recent_days=7
    )


def test_only_edited_new_and_vanished_pages_are_fetched():
    since = {"a": T0, "b": T0, "gone": T0}
    the_feed = feed(("a", T0 + timedelta(hours=1)), ("b", T0 - timedelta(days=1)))
    result = plan(since, {"a", "b", "new"}, the_feed)
    assert not result.everything
    assert result.fetch == {"a", "new", "gone"}


def test_edit_in_the_same_second_as_the_feed_counts():
    result = plan({"a": T0}, {"a"}, feed(("a", T0), ("z", T0 - timedelta(days=1))))
    assert result.fetch == {"a"}


def test_failed_pages_are_retried():
    assert plan({"a": T0}, {"a"}, feed(unchanged=True), failed={"a"}).fetch == {"a"}


def test_unchanged_feed_fetches_nothing():
    result = plan({"a": T0, "b": T0}, {"a", "b"}, feed(unchanged=True))
    assert result.fetch == frozenset() and not result.everything


@pytest.mark.parametrize(
    ("the_feed", "listing", "why"),
    [
        (None, {"a"}, "feed could not be read"),
        (feed(("a", T0), requested=1), {"a"}, "does not reach back"),
        (feed(("a", T0 + timedelta(hours=1))), None, "index could not be read"),
    ],
)
def test_when_in_doubt_everything_is_fetched(the_feed, listing, why):
    result = plan({"a": T0 - timedelta(hours=1), "b": T0}, listing, the_feed)
    assert result.everything and why in result.reason
    assert result.fetch >= {"a", "b"}


def test_a_short_feed_covers_only_within_the_kept_changelog():
    short = feed(("a", T0 + timedelta(hours=1)))
    assert feed_covers(short, T0, NOW, recent_days=7)
    assert not feed_covers(short, T0, NOW + timedelta(days=30), recent_days=7)
    full = feed(("a", T0 + timedelta(hours=1)), requested=1)
    assert not feed_covers(full, T0, NOW, recent_days=7)


def test_a_finished_crawl_vouches_for_every_page_a_stopped_one_only_for_its_own():
    t1, t2 = T0 + timedelta(hours=1), T0 + timedelta(hours=2)
    previous = PreviousCrawl(
        (mark("c1", feed=T0), mark("c2", "shutdown", feed=t1), mark("c3", "shutdown", feed=t2)),
        {"old": "c1", "seen_in_c2": "c2", "seen_in_c3": "c3"},
    )
    assert page_since(previous, MARGIN) == {"old": T0, "seen_in_c2": t1, "seen_in_c3": t2}


def test_without_a_finished_crawl_stopped_ones_vouch_for_what_they_captured():
    previous = PreviousCrawl((mark("c1", "shutdown", feed=T0),), {"a": "c1"})
    assert page_since(previous, MARGIN) == {"a": T0}


def test_without_a_feed_our_clock_counts_less_a_margin():
    previous = PreviousCrawl((mark("c1", feed=None, started=T0),), {"a": "c1"})
    assert page_since(previous, MARGIN) == {"a": T0 - MARGIN}


def test_failures_since_the_last_finished_crawl_are_retried():
    previous = PreviousCrawl(
        (mark("c1", failed={"x"}), mark("c2", failed={"y"}), mark("c3", "shutdown", failed={"z"})),
        {},
    )
    assert pages_to_retry(previous) == {"y", "z"}


def test_parse_feed_reads_items_and_refuses_entities():
    site = "http://127.0.0.1:9/wiki/"
    body = (
        b'<?xml version="1.0"?><rss version="2.0"><channel>'
        b"<item><title>magnesium</title><link>http://127.0.0.1:9/wiki/doku.php?id=magnesium"
        b"</link><pubDate>Fri, 07 Jun 2024 03:00:00 +0000</pubDate></item>"
        b"<item><title>media</title><link>http://127.0.0.1:9/wiki/lib/exe/detail.php?media=x"
        b"</link><pubDate>Fri, 07 Jun 2024 03:00:00 +0000</pubDate></item>"
        b"</channel></rss>"
    )
    parsed = parse_feed(body, site=site, requested=5)
    assert parsed.items == (FeedItem("magnesium", datetime(2024, 6, 7, 3, 0, tzinfo=UTC)),)
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaaaaaaaa">'
        b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]><rss><channel>&b;</channel></rss>'
    )
    with pytest.raises(ValueError):
        parse_feed(bomb, site=site, requested=5)


def test_refused_pages_are_asked_again_whatever_the_feed_and_index_say():
    # Access comes back without an edit; the feed and index hide what the crawl may not read.
    since = {"a": T0, "private": T0}
    fetched = plan_incremental(
        since=since, listing={"a", "private"}, feed=feed(unchanged=True), failed=(), now=NOW,
        recent_days=7, refused={"private", "never_read"},
    )
    assert fetched.fetch == {"private", "never_read"}
    unread = plan_incremental(
        since=since, listing=None, feed=None, failed=(), now=NOW, recent_days=7,
        refused={"never_read"},
    )
    assert unread.fetch == {"a", "private", "never_read"}

"""What an incremental crawl fetches, decided from the wiki's feed and index (pure rules)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from archive.catalog import CrawlMark, PreviousCrawl
from crawler.feed import Feed, FeedItem, parse_feed
from crawler.plan import (
    feed_covers,
    feed_differs,
    learn_offsets,
    page_since,
    pages_to_retry,
    plan_incremental,
    sitemap_differs,
)

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
    assert fetched.reasons == {"refused before": 2}
    unread = plan_incremental(
        since=since, listing=None, feed=None, failed=(), now=NOW, recent_days=7,
        refused={"never_read"},
    )
    assert unread.fetch == {"a", "private", "never_read"}


# ---- per-page evidence: what the wiki says about the revision we hold

HELD = {"a": "2020-06-01T10:00:00", "b": "2024-06-07T03:00:00", "c": "2024-06-07"}


def evidence_plan(the_feed, *, held=HELD, sitemap=None, since_at=NOW - timedelta(hours=1)):
    return plan_incremental(
        since=dict.fromkeys(held, since_at), listing=set(held), feed=the_feed, failed=(),
        now=NOW, recent_days=7, held=held, sitemap=sitemap,
    )


def test_a_backdated_edit_is_fetched_though_older_than_the_previous_crawl():
    backdated = datetime(2025, 2, 3, 9, 30, tzinfo=UTC)  # before the crawl, after 2020
    result = evidence_plan(feed(("a", backdated), ("b", datetime(2024, 6, 7, 3, 0, tzinfo=UTC))))
    assert result.fetch == {"a"}
    assert result.reasons == {"feed date": 1}


def test_the_revision_we_hold_is_not_fetched_again_whatever_its_seconds():
    # The page states minutes; the feed has the seconds of the same save.
    same = feed(("b", datetime(2024, 6, 7, 3, 0, 42, tzinfo=UTC)))
    assert evidence_plan(same).fetch == frozenset()


def test_a_wiki_on_another_zone_is_compared_at_its_learnt_offset():
    plus2 = timedelta(hours=2)
    held = {"a": "2024-01-01T12:00:00", "b": "2024-02-01T08:30:00", "c": "2023-05-05T00:00:00"}
    items = [
        ("a", datetime(2024, 1, 1, 10, 0, tzinfo=UTC)),  # held, stated at +02:00
        ("b", datetime(2024, 2, 1, 6, 30, tzinfo=UTC)),  # held, stated at +02:00
        ("c", datetime(2024, 3, 3, 3, 3, tzinfo=UTC)),  # a backdated edit
    ]
    assert learn_offsets(feed(*items), held) == {plus2}
    result = evidence_plan(feed(*items), held=held)
    assert result.fetch == {"c"}
    # Without the offset learnt (one page held, which was edited), the item is fetched:
    # more requests, never a missed edit.
    assert feed_differs(items[0][1], "2024-01-01T12:00:00", set())


def test_sitemap_lastmod_catches_edits_the_feed_never_saw():
    sitemap = {
        "a": datetime.fromisoformat("2020-06-01T10:00:00+02:00"),  # the one we hold
        "b": datetime.fromisoformat("2025-01-01T00:00:00+00:00"),  # external edit
        "c": datetime.fromisoformat("2024-06-07T23:59:00+00:00"),  # same day, date-only
        "new": datetime.fromisoformat("2025-01-01T00:00:00+00:00"),  # not held: the index
    }
    result = evidence_plan(feed(unchanged=True), sitemap=sitemap)
    assert result.fetch == {"b"}
    assert result.reasons == {"sitemap date": 1}
    assert sitemap_differs(sitemap["b"], HELD["b"]) and not sitemap_differs(sitemap["a"], HELD["a"])


def test_a_page_whose_date_we_could_not_read_is_fetched_on_any_evidence():
    held = {"a": None}
    assert evidence_plan(feed(("a", T0)), held=held).fetch == {"a"}


def test_reasons_count_each_rule():
    since = {"a": T0, "b": T0, "gone": T0}
    the_feed = feed(("a", T0 + timedelta(hours=1)), ("b", T0 - timedelta(days=1)))
    result = plan_incremental(
        since=since, listing={"a", "b", "new"}, feed=the_feed, failed={"b"}, now=NOW,
        recent_days=7,
    )
    assert result.reasons == {"feed": 1, "new in index": 1, "gone from index": 1, "retry": 1}
    assert "1 feed" in result.reason and "1 retry" in result.reason


def test_a_backdated_line_written_late_proves_no_reach_back():
    # Written in this order (newest first): an edit today, a line dated last year but
    # written after the previous crawl, then another edit today: the feed is full and
    # cannot prove it reaches back to the previous crawl.
    full = feed(
        ("x", NOW - timedelta(hours=1)),
        ("y", T0 - timedelta(days=365)),
        ("z", NOW - timedelta(hours=2)),
        requested=3,
    )
    assert not feed_covers(full, T0, NOW, recent_days=7)
    in_order = feed(("x", NOW), ("y", T0 - timedelta(days=1)), ("z", T0 - timedelta(days=2)),
                    requested=3)
    assert feed_covers(in_order, T0, NOW, recent_days=7)


def test_a_feed_item_older_than_the_version_we_hold_is_no_news():
    # We hold an edit made outside DokuWiki (2025); the changelog's last line is older.
    held = {"a": "2025-03-01T00:00:00"}
    assert evidence_plan(feed(("a", datetime(2013, 12, 2, 9, 0, tzinfo=UTC))), held=held).fetch \
        == frozenset()
    # ... unless it is within the widest offset and no offset is known: fetched.
    assert feed_differs(datetime(2025, 2, 28, 20, 0, tzinfo=UTC), held["a"], set())

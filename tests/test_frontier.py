"""The frontier: pages found wait as ids and leave in batches, first found first."""

from __future__ import annotations

from scrapy import Request

from crawler.frontier import Frontier


def article(page_id: str) -> Request:
    return Request(f"http://127.0.0.1/wiki/doku.php?id={page_id}")


def two_views(page_id: str) -> list[Request]:
    return [article(page_id), Request(f"http://127.0.0.1/wiki/doku.php?id={page_id}&do=revisions")]


def test_release_hands_out_one_batch_oldest_first():
    frontier = Frontier(3)
    for page_id in ["a", "b", "c", "d", "e"]:
        frontier.add(article, page_id)
    assert [r.url[-1] for r in frontier.release()] == ["a", "b", "c"]
    assert len(frontier) == 2
    assert [r.url[-1] for r in frontier.release()] == ["d", "e"]
    assert len(frontier) == 0
    assert list(frontier.release()) == []


def test_a_factory_may_make_several_requests_or_none():
    frontier = Frontier(2)
    frontier.add(two_views, "x")
    frontier.add(lambda page_id: [], "y")
    frontier.add(article, "z")
    first = list(frontier.release())
    assert [r.url for r in first] == [
        "http://127.0.0.1/wiki/doku.php?id=x",
        "http://127.0.0.1/wiki/doku.php?id=x&do=revisions",
    ]
    assert [r.url for r in frontier.release()] == ["http://127.0.0.1/wiki/doku.php?id=z"]


def test_nothing_is_made_before_release():
    made = []
    frontier = Frontier(1)
    frontier.add(lambda page_id: made.append(page_id) or article(page_id), "p")
    assert made == []
    list(frontier.release())
    assert made == ["p"]

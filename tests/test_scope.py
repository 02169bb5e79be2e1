"""Requests stay inside the wiki and its allowed views, redirects included."""

from __future__ import annotations

from collections import Counter
from types import SimpleNamespace

import pytest
from scrapy import Request
from scrapy.exceptions import IgnoreRequest
from scrapy.settings import Settings

from crawler.dokuwiki import request_kind
from crawler.scope import ScopeMiddleware

SITE = "http://127.0.0.1:9/wiki/"


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("http://127.0.0.1:9/robots.txt", "robots"),
        ("http://127.0.0.1:9/wiki/doku.php?id=spine:disc_herniation", "article"),
        ("http://127.0.0.1:9/wiki/doku.php?id=%CE%B1-synuclein", "article"),
        ("http://127.0.0.1:9/wiki/spine:disc_herniation", "article"),
        ("http://127.0.0.1:9/wiki/doku.php/spine:disc_herniation", "article"),
        ("http://127.0.0.1:9/wiki/doku.php?id=start&do=index", "index"),
        ("http://127.0.0.1:9/wiki/doku.php?id=start&idx=spine", "index"),
        ("http://127.0.0.1:9/wiki/doku.php?do=sitemap", "sitemap"),
        ("http://127.0.0.1:9/wiki/feed.php?mode=recent&type=rss2", "feed"),
        ("http://127.0.0.1:9/wiki/doku.php?id=magnesium&do=edit", None),
        ("http://127.0.0.1:9/wiki/doku.php?id=magnesium&do=revisions", None),
        ("http://127.0.0.1:9/wiki/doku.php?id=magnesium&rev=1717729200", None),
        ("http://127.0.0.1:9/wiki/doku.php?id=magnesium&do=diff", None),
        ("http://127.0.0.1:9/wiki/doku.php?id=magnesium&do=backlink", None),
        ("http://127.0.0.1:9/wiki/doku.php?id=start&do=login", None),
        ("http://127.0.0.1:9/wiki/doku.php?id=start&do=register", None),
        ("http://127.0.0.1:9/wiki/doku.php?id=start&do=media", None),
        ("http://127.0.0.1:9/wiki/doku.php?id=start&do=search&q=x", None),
        ("http://127.0.0.1:9/wiki/doku.php?id=start&do=export_raw", None),
        ("http://127.0.0.1:9/wiki/doku.php?id=start&do=recent", None),
        ("http://127.0.0.1:9/wiki/lib/exe/taskrunner.php?id=start", None),
        ("http://127.0.0.1:9/wiki/lib/exe/fetch.php?media=a.png", "media"),
        ("http://127.0.0.1:9/wiki/lib/exe/fetch.php?w=200&tok=41a267&media=ns:a.png", "media"),
        ("http://127.0.0.1:9/wiki/_media/ns/a.pdf", "media"),
        ("http://127.0.0.1:9/wiki/lib/exe/detail.php?id=start&media=ns:a.png", "detail"),
        ("http://127.0.0.1:9/wiki/_detail/ns/a.png?id=start", "detail"),
        ("http://127.0.0.1:9/wiki/lib/exe/css.php?t=dokuwiki&tseed=abc", "requisite"),
        ("http://127.0.0.1:9/wiki/lib/exe/js.php?t=dokuwiki&tseed=abc", "requisite"),
        ("http://127.0.0.1:9/wiki/lib/exe/jquery.php?tseed=abc", "requisite"),
        ("http://127.0.0.1:9/wiki/lib/tpl/dokuwiki/images/logo.png", "requisite"),
        ("http://127.0.0.1:9/wiki/lib/images/fileicons/svg/pdf.svg", "requisite"),
        ("http://127.0.0.1:9/wiki/lib/tpl/x/fonts/a.woff2", "requisite"),
        # not the wiki's file (DokuWiki's proxy for external images), no media named
        ("http://127.0.0.1:9/wiki/lib/exe/fetch.php?media=https://example.org/a.png", None),
        ("http://127.0.0.1:9/wiki/lib/exe/fetch.php?w=10", None),
        ("http://127.0.0.1:9/wiki/lib/exe/detail.php?id=start", None),
        # action views and scripts a page names but a reader's browser does not load
        ("http://127.0.0.1:9/wiki/lib/exe/indexer.php?id=start", None),
        ("http://127.0.0.1:9/wiki/lib/exe/mediamanager.php?ns=x", None),
        ("http://127.0.0.1:9/wiki/lib/exe/ajax.php?call=index", None),
        ("http://127.0.0.1:9/wiki/lib/exe/opensearch.php", None),
        ("http://127.0.0.1:9/wiki/lib/exe/manifest.php", None),
        ("http://127.0.0.1:9/wiki/lib/plugins/x/script.php", None),
        ("http://127.0.0.1:9/wiki/data/media/a.png", None),
        ("http://127.0.0.1:9/wiki/conf/local.php", None),
        ("http://127.0.0.1:9/lib/tpl/dokuwiki/images/logo.png", None),
        ("http://127.0.0.1:9/elsewhere/doku.php?id=start", None),
        ("http://127.0.0.1:10/wiki/doku.php?id=start", None),
        ("https://127.0.0.1:9/wiki/doku.php?id=start", None),
        ("http://127.0.0.2:9/wiki/doku.php?id=start", None),
    ],
)
def test_request_kind(url, kind):
    assert request_kind(url, SITE) == kind


class Stats(Counter):
    def inc_value(self, key: str, count: int = 1) -> None:
        self[key] += count


def middleware(**settings) -> tuple[ScopeMiddleware, SimpleNamespace]:
    crawler = SimpleNamespace(
        spider=SimpleNamespace(site=SITE), stats=Stats(), settings=project_settings(settings)
    )
    return ScopeMiddleware(crawler), crawler


def project_settings(values: dict) -> Settings:
    settings = Settings()
    settings.setmodule("crawler.settings")
    settings.update(values)
    return settings


def test_middleware_drops_out_of_scope_requests_and_counts_them():
    mw, crawler = middleware()
    assert mw.process_request(Request(SITE + "doku.php?id=magnesium")) is None
    for url in ("http://127.0.0.2:9/wiki/doku.php?id=x", SITE + "doku.php?id=x&do=login"):
        with pytest.raises(IgnoreRequest):
            mw.process_request(Request(url))
    assert crawler.stats["wiki/out_of_scope"] == 2


W = "http://127.0.0.1:9/wiki/doku.php?"
HISTORY, SOURCE = frozenset({"history"}), frozenset({"source"})


@pytest.mark.parametrize(
    ("url", "views", "kind"),
    [
        (W + "id=magnesium&do=revisions", HISTORY, "revisions"),
        (W + "id=magnesium&do=revisions&first=19", HISTORY, "revisions"),
        (W + "id=magnesium&rev=1717729200", HISTORY, "revision"),
        (W + "id=spine:disc_herniation&rev=1717729200", HISTORY, "revision"),
        (W + "id=magnesium&do=export_raw", SOURCE, "source"),
        (W + "id=magnesium&do=export_raw&rev=1717729200", SOURCE, "source"),
        # each mode allows its own views only
        (W + "id=magnesium&do=revisions", SOURCE, None),
        (W + "id=magnesium&rev=1717729200", SOURCE, None),
        (W + "id=magnesium&do=export_raw", HISTORY, None),
        # and nothing else: diffs, edits, other parameters, unclean ids, odd numbers
        (W + "id=magnesium&rev=1717729200&do=diff", HISTORY | SOURCE, None),
        (W + "id=magnesium&do=diff", HISTORY | SOURCE, None),
        (W + "id=magnesium&do=edit&rev=1717729200", HISTORY | SOURCE, None),
        (W + "id=magnesium&do=revisions&first=-1", HISTORY, None),
        (W + "id=magnesium&rev=17e8", HISTORY, None),
        (W + "id=magnesium&rev=1&rev=2", HISTORY, None),
        (W + "id=Magnesium&rev=1717729200", HISTORY, None),
        (W + "id=magnesium&do=revisions&sectok=x", HISTORY, None),
        (W + "id=magnesium&do=export_xhtml", HISTORY | SOURCE, None),
        ("http://127.0.0.1:9/wiki/lib/exe/taskrunner.php?id=magnesium", HISTORY | SOURCE, None),
        ("http://127.0.0.1:10/wiki/doku.php?id=magnesium&rev=1717729200", HISTORY, None),
    ],
)
def test_history_and_source_views_only_in_their_mode(url, views, kind):
    assert request_kind(url, SITE, views) == kind


@pytest.mark.parametrize(
    ("settings", "fetched"),
    [
        ({}, {"requisite", "media", "detail"}),
        ({"WIKI_MEDIA": False}, {"requisite"}),
        ({"WIKI_REQUISITES": False}, {"media", "detail"}),
        ({"WIKI_MEDIA": False, "WIKI_REQUISITES": False}, set()),
    ],
)
def test_requisites_and_media_are_in_scope_only_when_wanted(settings, fetched):
    mw, _ = middleware(**settings)
    urls = {
        "requisite": SITE + "lib/exe/css.php?t=dokuwiki",
        "media": SITE + "lib/exe/fetch.php?media=a.png",
        "detail": SITE + "lib/exe/detail.php?id=start&media=a.png",
    }
    passed = set()
    for kind, url in urls.items():
        try:
            mw.process_request(Request(url))
            passed.add(kind)
        except IgnoreRequest:
            pass
    assert passed == fetched
    # Articles and the task runner are not affected by either switch.
    assert mw.process_request(Request(SITE + "doku.php?id=start")) is None
    with pytest.raises(IgnoreRequest):
        mw.process_request(Request(SITE + "lib/exe/taskrunner.php?id=start"))

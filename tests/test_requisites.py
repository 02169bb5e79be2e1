"""The rules that find what a page loads and links on the wiki (crawler.requisites).

Real pages are covered end to end by tests/test_media.py; here, hand-written HTML for the
cases the test wiki does not serve (URL rewriting, srcset, preloads, inline styles,
external images, other sites).
"""

from __future__ import annotations

from crawler.parse import parse_capture, parse_page, parse_resources
from crawler.requisites import (
    Resource,
    css_references,
    parse_media_feed,
    seeded_builds_held,
    stylesheet_resources,
)

SITE = "http://wiki.test/wiki/"
PAGE = SITE + "doku.php?id=ns:page"


def found(html: str) -> set[tuple[str, str, str | None, str]]:
    resources = parse_resources(PAGE, html, site=SITE)
    return {(r.url, r.kind, r.media_id, r.relation) for r in resources}


def test_what_a_browser_loads_and_the_files_a_page_links():
    html = """<html><head>
      <link rel="stylesheet" href="/wiki/lib/exe/css.php?t=dokuwiki&amp;tseed=1"/>
      <link rel="preload" as="font" href="/wiki/lib/tpl/x/fonts/a.woff2"/>
      <link rel="preload" as="fetch" href="/wiki/lib/exe/ajax.php"/>
      <link rel="shortcut icon" href="/wiki/lib/tpl/dokuwiki/images/favicon.ico"/>
      <link rel="alternate" href="/wiki/feed.php"/>
      <link rel="search" href="/wiki/lib/exe/opensearch.php"/>
      <script src="/wiki/lib/exe/js.php?t=dokuwiki"></script>
      <style>body { background: url("lib/tpl/x/bg.png") } p { background: url(../../x.png) }</style>
    </head><body>
      <img src="/wiki/_media/ns/scan.png?w=200&amp;tok=abc" srcset="/wiki/_media/ns/scan.png 2x"/>
      <a href="/wiki/_detail/ns/scan.png?id=ns%3Apage" class="media">x</a>
      <a href="/wiki/lib/exe/fetch.php?media=docs:a.pdf#page=2" class="mediafile">pdf</a>
      <a href="/wiki/doku.php?id=other">page</a>
      <div style="background-image: url('/wiki/lib/images/x.png')">box</div>
      <img src="https://elsewhere.test/logo.png"/>
      <img src="/wiki/lib/exe/fetch.php?media=https://elsewhere.test/a.png"/>
      <img src="/wiki/lib/exe/taskrunner.php?id=ns%3Apage&amp;1"/>
      <img src="data:image/png;base64,AAAA"/>
      <video poster="/wiki/lib/exe/fetch.php?media=v.jpg"><source src="/wiki/_media/v.mp4"/></video>
    </body></html>"""
    assert found(html) == {
        (SITE + "lib/exe/css.php?t=dokuwiki&tseed=1", "requisite", None, "embeds"),
        (SITE + "lib/tpl/x/fonts/a.woff2", "requisite", None, "embeds"),
        (SITE + "lib/tpl/dokuwiki/images/favicon.ico", "requisite", None, "embeds"),
        (SITE + "lib/exe/js.php?t=dokuwiki", "requisite", None, "embeds"),
        (SITE + "lib/tpl/x/bg.png", "requisite", None, "embeds"),  # relative to the page
        (SITE + "_media/ns/scan.png?w=200&tok=abc", "media", "ns:scan.png", "embeds"),
        (SITE + "_media/ns/scan.png", "media", "ns:scan.png", "embeds"),
        (SITE + "_detail/ns/scan.png?id=ns%3Apage", "detail", "ns:scan.png", "links"),
        (SITE + "lib/exe/fetch.php?media=docs:a.pdf", "media", "docs:a.pdf", "links"),
        (SITE + "lib/images/x.png", "requisite", None, "embeds"),
        (SITE + "lib/exe/fetch.php?media=v.jpg", "media", "v.jpg", "embeds"),
        (SITE + "_media/v.mp4", "media", "v.mp4", "embeds"),
    }


def test_the_page_and_its_resources_come_from_one_parse():
    html = (
        '<html><head><link rel="stylesheet" href="/wiki/lib/exe/css.php?t=x"/></head><body>'
        '<div id="dokuwiki__content"><h1 id="t">Title</h1><div class="level1"><p>Text '
        '<img src="/wiki/lib/exe/fetch.php?w=50&amp;tok=1&amp;media=a.png" alt="A"/></p>'
        "</div></div></body></html>"
    )
    page, resources = parse_capture(PAGE, html, site=SITE)
    assert page == parse_page(PAGE, html, site=SITE)
    assert [(r.kind, r.media_id) for r in resources] in (
        [("requisite", None), ("media", "a.png")], [("media", "a.png"), ("requisite", None)]
    )


def test_a_stylesheet_loads_its_url_and_import_targets_on_the_wiki():
    css = """@import "print.css"; @import url(/wiki/lib/tpl/x/extra.css);
    a { background: url( '/wiki/lib/images/a.png' ) } b { background: url(x.svg#frag) }
    c { background: url(data:image/png;base64,AAAA) } d { src: url("https://fonts.test/f.woff") }
    e { background: url(/elsewhere/b.png) }"""
    assert css_references(css)[:2] == ["/wiki/lib/tpl/x/extra.css", "/wiki/lib/images/a.png"]
    sheet = SITE + "lib/exe/css.php?t=dokuwiki"
    assert {r.url for r in stylesheet_resources(css, sheet, SITE)} == {
        SITE + "lib/tpl/x/extra.css",
        SITE + "lib/images/a.png",
        SITE + "lib/exe/x.svg",
        SITE + "lib/exe/print.css",
    }


def test_media_feed_items_name_the_media_changed():
    feed = b"""<?xml version="1.0"?><rss version="2.0"><channel>
      <item><title>ns:scan.png</title>
        <link>http://wiki.test/wiki/doku.php?image=ns%3Ascan.png&amp;ns=ns&amp;do=media</link>
        <pubDate>Tue, 01 Mar 2022 09:00:00 +0000</pubDate></item>
      <item><title>no image</title><link>http://wiki.test/wiki/doku.php?do=media</link>
        <pubDate>Tue, 01 Mar 2022 09:00:00 +0000</pubDate></item>
    </channel></rss>"""
    (change,) = parse_media_feed(feed)
    assert change.media_id == "ns:scan.png"
    assert change.date.isoformat() == "2022-03-01T09:00:00+00:00"


def test_seeded_builds_held_only_when_every_seeded_build_is_held():
    css = Resource(SITE + "lib/exe/css.php?t=dokuwiki&tseed=1", "requisite", None, "embeds")
    js = Resource(SITE + "lib/exe/js.php?t=dokuwiki&tseed=1", "requisite", None, "embeds")
    logo = Resource(SITE + "lib/tpl/dokuwiki/images/logo.png", "requisite", None, "embeds")
    unseeded = Resource(SITE + "lib/exe/css.php?t=dokuwiki", "requisite", None, "embeds")
    held = {css.url, js.url, logo.url, unseeded.url}
    assert seeded_builds_held([css, js, logo], held)
    assert not seeded_builds_held([css, js, logo], held - {js.url})  # a new seed
    assert not seeded_builds_held([logo], held)  # nothing says which look it is
    assert not seeded_builds_held([unseeded, logo], held)  # a URL with no seed vouches nothing

"""A page replayed from the archive looks like the live wiki, in headless Chromium.

The media wiki (tests/corpus_media) is crawled, then crawled again with --full while
nothing changed, so its files come back as 304 revisits. pywb serves the archive from
``OUT/warc`` with ``OUT/indexes/index.cdxj``. Chromium opens the live page and its replay
at both crawls' times: every image the live page shows (all but the task runner's, never
requested, and the scan that was never uploaded) has loaded in the replay
(``naturalWidth > 0``), and the stylesheet applied (the colours the template's
``style.ini`` gives the page body, which a browser's defaults are not).

Set WIKIARCHIVE_REPLAY_SCREENSHOT=docs/replay.png to keep a screenshot of the live page and
its replay side by side (for the README).
"""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path

import pytest
from cdp import Browser
from helpers import WHOLE, wait_for_fresh_caches, wikiarchive
from media_corpus import MISSING_MEDIA, load
from PIL import Image, ImageChops
from test_replay import Wayback
from wikibed import ENGINE_DIR, DokuWikiBed

from archive.index import index_path, update_index

PAGE = "imaging_atlas"
COLL = "wiki"
# What a document shows: every image, made to load now (DokuWiki's are lazy), then what each
# became, and the colours of its body. Called with the page's document: the live page's,
# or the one pywb's replay frame holds.
LOOK = """(async (doc) => {
  const images = [...doc.images];
  for (const img of images) { img.loading = 'eager'; }
  await Promise.all(images.map(img => img.complete ? img.decode().catch(() => null)
    : new Promise(done => { img.onload = img.onerror = done; })));
  const body = doc.defaultView.getComputedStyle(doc.body);
  return {
    images: images.map(img => ({alt: img.alt, width: img.naturalWidth,
                                task: /taskrunner\\.php/.test(img.src),
                                media: img.src.includes('media=') ?
                                  decodeURIComponent(img.src.split('media=')[1]) : null})),
    color: body.color,
    background: body.backgroundColor,
  };
})"""
LIVE = "document"
FRAME = "document.querySelector('iframe').contentDocument"
# The replay frame alone, full size, for a screenshot without pywb's banner.
FRAME_ONLY = """(() => {
  const frame = document.querySelector('iframe');
  for (const el of document.body.children) { if (!el.contains(frame)) el.style.display = 'none'; }
  const height = frame.contentDocument.documentElement.scrollHeight;
  Object.assign(frame.style, {position: 'absolute', top: '0', left: '0', width: '100%',
                              height: height + 'px', border: '0'});
  document.body.style.margin = '0';
  return height;
})()"""


def template_colour(name: str) -> str:
    """A colour of the default template's style.ini as a browser computes it."""
    ini = (ENGINE_DIR / "lib" / "tpl" / "dokuwiki" / "style.ini").read_text(encoding="utf-8")
    value = re.search(rf'^{name}\s*=\s*"#([0-9a-fA-F]+)"', ini, re.M).group(1)
    if len(value) == 3:
        value = "".join(c * 2 for c in value)
    r, g, b = (int(value[i : i + 2], 16) for i in (0, 2, 4))
    return f"rgb({r}, {g}, {b})"


@pytest.fixture(scope="module")
def replayed(tmp_path_factory):
    bed = DokuWikiBed(tmp_path_factory.mktemp("replay-media-wiki"))
    load(bed)
    bed.start()
    out = tmp_path_factory.mktemp("replay-media") / "out"
    server = Wayback(tmp_path_factory.mktemp("pywb-media"))
    try:
        wait_for_fresh_caches(bed)  # the second crawl's files come back as 304s
        for options in ((), ("--full",)):
            result = wikiarchive("crawl", bed.base_url, "--out", str(out), *WHOLE, *options)
            assert result.returncode == 0, result.stderr[-3000:]
            time.sleep(1.1)  # pywb timestamps have whole seconds
        update_index(out)
        (server.root / "config.yaml").write_text(
            f"collections:\n  {COLL}:\n"
            f"    index_paths: {json.dumps(str(index_path(out)))}\n"
            f"    archive_paths: {json.dumps(str(out / 'warc') + '/')}\n",
            encoding="utf-8",
        )
        server.start()
        url = bed.page_url(PAGE)
        lines = [ln.split(" ", 2) for ln in index_path(out).read_text().splitlines()]
        times = sorted(ts for _, ts, f in lines if json.loads(f)["url"] == url)
        assert len(times) == 2, times
        with Browser(tmp_path_factory.mktemp("chromium")) as browser:
            yield {"bed": bed, "out": out, "server": server, "url": url, "times": times,
                   "browser": browser}
    finally:
        server.stop()
        bed.stop()


def look(replayed, url: str, doc: str = LIVE) -> dict:
    page = replayed["browser"].open(url)
    return page.evaluate(f"{LOOK}({doc})")


def replay_url(replayed, ts: str) -> str:
    return replayed["server"].url(f"/{COLL}/{ts}/{replayed['url']}")  # pywb's framed view


def test_replay_shows_every_image_and_the_style_of_the_live_page(replayed):
    live = look(replayed, replayed["url"])
    shown = [img for img in live["images"] if img["width"] > 0]
    # The live page: every image but the scan never uploaded (the task runner's GIF shows).
    assert [img["media"] for img in live["images"] if img["width"] == 0] == [MISSING_MEDIA]
    assert len(shown) > 10 and any(img["task"] for img in shown)
    text, background = template_colour("__text__"), template_colour("__background_site__")
    assert (live["color"], live["background"]) == (text, background)
    for ts in replayed["times"]:
        replay = look(replayed, replay_url(replayed, ts), FRAME)
        assert [img["alt"] for img in replay["images"]] == [img["alt"] for img in live["images"]]
        for before, after in zip(live["images"], replay["images"], strict=True):
            if before["task"]:
                assert after["width"] == 0  # never requested, so never archived
            else:
                assert after["width"] == before["width"], (ts, before, after)
        # The wiki's stylesheet applied, not the browser's defaults (black on transparent).
        assert (replay["color"], replay["background"]) == (text, background), ts
        assert background != "rgba(0, 0, 0, 0)"


def test_screenshot_of_live_and_replay_side_by_side(replayed, tmp_path):
    browser = replayed["browser"]
    shots = []
    for name, url, doc in (("live", replayed["url"], LIVE),
                           ("replay", replay_url(replayed, replayed["times"][-1]), FRAME)):
        page = browser.open(url, width=900)
        page.evaluate(f"{LOOK}({doc})")
        if doc == FRAME:
            page.evaluate(FRAME_ONLY)
        shots.append(page.screenshot(tmp_path / f"{name}.png", width=900, height=1100))
    left, right = (Image.open(p).convert("RGB") for p in shots)
    assert left.size == right.size == (900, 1100)
    # The two look alike: nearly every pixel is the same.
    same = ImageChops.difference(left, right).convert("L").histogram()[0]
    assert same / (900 * 1100) > 0.95, same / (900 * 1100)
    target = os.environ.get("WIKIARCHIVE_REPLAY_SCREENSHOT")
    if target:
        combined = Image.new("RGB", (1820, 1100), "white")
        combined.paste(left, (0, 0))
        combined.paste(right, (920, 0))
        combined.save(Path(target))

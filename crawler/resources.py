"""The spider's part for what archived pages load and link: requisites and media files.

Each article the recorder archives comes back with what it loads and links on the wiki
(``crawler.requisites``, from the ingest's one parse of the page). Each of those URLs is
fetched once per crawl, exactly as the page wrote it: the stylesheets, scripts, template
images and favicon (``WIKI_REQUISITES``), the media files the page embeds or links and
each image's detail page (``WIKI_MEDIA``). A stylesheet brings the fonts and images of its
``url(...)``, a detail page the image's original file. A URL the archive holds is asked
conditionally with the validators its previous capture answered; a 304 is archived as a
revisit of that capture (crawler.recorder). A media file larger than
``WIKI_MEDIA_MAX_SIZE`` is not fetched (Scrapy stops at its Content-Length) and is
recorded as skipped, never truncated.

An incremental crawl fetches the pages that changed, and with them what they load, except
the requisites the archive holds when the page names the same seeded stylesheet and
scripts (``crawler.requisites.seeded_builds_held``): their seed changes with every
upgrade, template switch and configuration change, and ``--full`` asks again for each. Media
files changed without their pages changing are named by the wiki's media feed
(``feed.php?view=media``), and their URLs are fetched again. When that feed cannot vouch
for every change since the previous crawl, every media file held is asked again,
conditionally: an unchanged file costs one 304.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import scrapy
from scrapy.http import Response
from twisted.python.failure import Failure

from archive.catalog import PreviousCrawl
from crawler import settings as defaults
from crawler.dokuwiki import DETAIL, MEDIA, REQUISITE
from crawler.feed import Feed, FeedItem
from crawler.plan import feed_covers, mark_since
from crawler.recorder import DISCOVER_META_KEY, FOUND_META_KEY, HELD_META_KEY
from crawler.requisites import MediaChange, Resource, parse_media_feed, seeded_builds_held

SKIPPED_STAT = "wiki/files_skipped"
MAX_SIZE_HINT = "larger than download max size"  # Scrapy's words when it stops a download


class ResourceCrawling:
    """Mixed into the wiki spider: requests for requisites, media files and detail
    pages, and the media plan of an incremental crawl."""

    crawler: Any
    logger: Any
    site: str
    previous: PreviousCrawl | None
    incremental: bool
    feed_items: int
    recent_days: float
    change_margin: timedelta

    want_requisites: bool = defaults.WIKI_REQUISITES
    want_media: bool = defaults.WIKI_MEDIA
    media_max_size: int = defaults.WIKI_MEDIA_MAX_SIZE

    def _resource_settings(self, settings: Any) -> None:
        self.want_requisites = settings.getbool("WIKI_REQUISITES")
        self.want_media = settings.getbool("WIKI_MEDIA")
        self.media_max_size = settings.getint("WIKI_MEDIA_MAX_SIZE")

    def _init_resources(self) -> None:
        self.resources_fetched: set[str] = set()  # once per crawl
        self.skipped_files: list[dict[str, Any]] = []  # over the size cap, for the summary
        self.media_feed: tuple[tuple[MediaChange, ...], int] | None = None
        self.media_planned = False

    # ---- following what pages load

    def follow_resources(
        self, response: Response, *, from_article: bool
    ) -> Iterator[scrapy.Request]:
        """Requests for what the archived *response* loads and links, each URL once."""
        found: Iterable[Resource] = response.meta.get(FOUND_META_KEY, ())
        look_held = self.incremental and self.previous is not None and seeded_builds_held(
            found, self.previous.resources
        )
        for resource in found:
            # Only an article's links lead on to detail pages: a detail page's own links
            # are its image's files.
            if resource.kind == DETAIL and not from_article:
                continue
            if look_held and resource.kind == REQUISITE and resource.url in self.previous.resources:
                # The seeded stylesheet and scripts are the ones archived: so is what
                # they load. --full asks for each again.
                self.crawler.stats.inc_value("wiki/requisites_held")
                continue
            request = self.resource_request(resource.url, resource.kind, resource.media_id)
            if request is not None:
                yield request

    def wants(self, kind: str) -> bool:
        return self.want_requisites if kind == REQUISITE else self.want_media

    def resource_request(self, url: str, kind: str, media_id: str | None) -> scrapy.Request | None:
        """The request for a requisite, media file or detail page; None when this crawl
        does not want that kind or already asked for the URL."""
        fetched = self.resources_fetched
        if url in fetched or not self.wants(kind):
            return None
        fetched.add(url)
        held = self.previous.resources.get(url) if self.previous else None
        meta: dict[str, Any] = {
            "resource_kind": kind,
            "media_id": media_id,
            # 404: a red media link, archived as the reader met it; 304: confirmed.
            "handle_httpstatus_list": [304, 403, 404, 410],
            # A stylesheet and a detail page bring more to fetch.
            DISCOVER_META_KEY: kind in (REQUISITE, DETAIL),
        }
        if kind == MEDIA:
            meta["download_maxsize"] = self.media_max_size
        if held is not None and kind != DETAIL:
            meta[HELD_META_KEY] = held
        self.crawler.stats.inc_value(f"wiki/{kind}_requests")
        return scrapy.Request(
            url,
            headers=held.conditional_headers if held is not None and kind != DETAIL else None,
            callback=self.parse_resource,
            errback=self.on_resource_error,
            meta=meta,
        )

    def parse_resource(self, response: Response) -> Iterator[scrapy.Request]:
        kind = response.meta.get("resource_kind")
        stats = self.crawler.stats
        if response.status == 304:
            stats.inc_value("wiki/resources_not_modified")
        elif response.status == 200:
            stats.inc_value(f"wiki/{kind}_fetched")
        else:
            stats.inc_value("wiki/resources_missing")
        yield from self.follow_resources(response, from_article=False)

    def on_resource_error(self, failure: Failure) -> list[scrapy.Request]:
        """A file over the size cap is skipped and recorded so; anything else is an error
        of the crawl (in its errors, retried next run)."""
        request = failure.request
        if request.meta.get("resource_kind") == MEDIA and MAX_SIZE_HINT in str(failure.value):
            size = _announced_size(str(failure.value))
            self.logger.warning(
                "Skipped %s: %s bytes, more than --media-max-size (%d bytes)",
                request.url, size if size is not None else "more", self.media_max_size,
            )
            self.crawler.stats.inc_value(SKIPPED_STAT)
            self.skipped_files.append({
                "url": request.url,
                "kind": MEDIA,
                "media_id": request.meta.get("media_id"),
                "bytes": size,
                "limit": self.media_max_size,
                "at": datetime.now(UTC).isoformat(),
            })
            return []
        return self.on_error(failure)

    # ---- media changed without their pages (incremental crawls)

    def media_feed_request(self) -> scrapy.Request:
        query = {
            "mode": "recent",
            "type": "rss2",
            "num": self.feed_items,
            "minor": 1,
            "linkto": "current",
            "content": "abstract",
            "view": "media",
        }
        return scrapy.Request(
            self.site + "feed.php?" + urlencode(query),
            callback=self.parse_media_feed,
            errback=self.on_error,
            priority=2,
            meta={"handle_httpstatus_all": True, "media_feed": True},
        )

    def parse_media_feed(self, response: Response) -> None:
        if response.status != 200:
            self.logger.warning("No media feed (HTTP %d): every media file held is asked "
                                "for again", response.status)
            return
        try:
            self.media_feed = (parse_media_feed(response.body), self.feed_items)
        except ValueError as exc:
            self.logger.warning("%s: %s; every media file held is asked for again",
                                response.url, exc)

    def plan_media(self) -> None:
        """Once, when discovery is over in an incremental crawl: media files the media
        feed names as changed since the last finished crawl are fetched again; all held
        ones (conditionally) when the feed cannot vouch for that."""
        if self.media_planned or not self.incremental or not self.want_media:
            return
        self.media_planned = True
        assert self.previous is not None
        changed = media_to_fetch(self.previous, self.media_feed, datetime.now(UTC),
                                 self.recent_days, self.change_margin)
        requests = []
        for media_id in sorted(changed if changed is not None else self.previous.media):
            for url, kind in self.previous.media.get(media_id, ()):
                request = self.resource_request(url, kind, media_id)
                if request is not None:
                    requests.append(request)
        why = "all held (the media feed cannot vouch)" if changed is None else "changed"
        self.logger.info("Media files asked for again: %d URLs, %s", len(requests), why)
        self.crawler.stats.set_value("wiki/media_plan", why)
        # Scheduled now, the spider is no longer idle: Scrapy does not close it.
        for request in requests:
            self.crawler.engine.crawl(request)


def media_to_fetch(
    previous: PreviousCrawl,
    feed: tuple[tuple[MediaChange, ...], int] | None,
    now: datetime,
    recent_days: float,
    margin: timedelta,
) -> frozenset[str] | None:
    """Media ids the media feed (its changes, and the number of items asked for) names
    as changed since the last finished crawl; None when there is no feed or it may not
    reach back that far (then every file held is asked for again)."""
    finished = [mark for mark in previous.crawls if mark.outcome == "finished"]
    if feed is None or not finished:
        return None
    changes, requested = feed
    since = mark_since(finished[-1], margin)
    items = tuple(FeedItem(change.media_id, change.date) for change in changes)
    if not feed_covers(Feed(items, requested), since, now, recent_days):
        return None
    return frozenset(change.media_id for change in changes if change.date >= since)


def _announced_size(message: str) -> int | None:
    """The size in Scrapy's "Expected to receive N bytes ..." message (None when the
    server announced none and Scrapy stopped after N bytes)."""
    words = message.split()
    if words[:3] != ["Expected", "to", "receive"] or len(words) < 4 or not words[3].isdigit():
        return None
    return int(words[3])

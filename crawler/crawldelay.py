"""Downloader middleware that honours the ``Crawl-delay`` of the wiki's robots.txt.

Scrapy reads robots.txt to obey its rules but never applies its ``Crawl-delay``, the one
thing a wiki's owner writes to say how fast a crawler may go. This middleware sits below
the recorder (960, so it reads robots.txt before the WARC file's warcinfo is written)
and, when robots.txt names a delay for our user agent, spaces the wiki's requests by the
larger of that delay (capped by ``WIKI_CRAWL_DELAY_MAX``, with a warning) and
``DOWNLOAD_DELAY``: the delay is no longer randomised below it, and AutoThrottle never goes
under it. The delay used is in the stats (``wiki/delay``), the crawl summary and every
warcinfo record.
"""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from protego import Protego
from scrapy import Request, Spider
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.extensions.throttle import AutoThrottle
from scrapy.http import Response

logger = logging.getLogger(__name__)

DELAY_STAT = "wiki/delay"  # seconds between requests to the wiki
DELAY_SOURCE_STAT = "wiki/delay_source"  # "DOWNLOAD_DELAY" or "robots.txt Crawl-delay"


def effective_delay(configured: float, crawl_delay: float | None, cap: float) -> float:
    """The larger of our own delay and the wiki's Crawl-delay, that one capped."""
    if crawl_delay is None:
        return configured
    return max(configured, min(crawl_delay, cap))


def robots_crawl_delay(body: bytes, user_agent: str) -> float | None:
    """The Crawl-delay robots.txt gives our user agent (or ``*``), or None."""
    delay = Protego.parse(body.decode("utf-8", errors="ignore")).crawl_delay(user_agent)
    return float(delay) if delay is not None and delay >= 0 else None


class CrawlDelayMiddleware:
    def __init__(self, crawler: Crawler, *, configured: float, cap: float, user_agent: str):
        self.crawler = crawler
        self.configured = configured
        self.cap = cap
        self.user_agent = user_agent
        self.delay: float | None = None  # set once robots.txt has said
        crawler.stats.set_value(DELAY_STAT, configured)
        crawler.stats.set_value(DELAY_SOURCE_STAT, "DOWNLOAD_DELAY")

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> CrawlDelayMiddleware:
        settings = crawler.settings
        if not settings.getbool("ROBOTSTXT_OBEY"):
            raise NotConfigured
        return cls(
            crawler,
            configured=settings.getfloat("DOWNLOAD_DELAY"),
            cap=settings.getfloat("WIKI_CRAWL_DELAY_MAX"),
            user_agent=settings.get("ROBOTSTXT_USER_AGENT") or settings.get("USER_AGENT"),
        )

    def process_response(self, request: Request, response: Response, spider: Spider = None):
        if urlsplit(request.url).path == "/robots.txt" and response.status == 200:
            self._learn(request, robots_crawl_delay(response.body, self.user_agent))
        return response

    def _learn(self, request: Request, crawl_delay: float | None) -> None:
        if crawl_delay is None:
            return
        if crawl_delay > self.cap:
            logger.warning(
                "robots.txt asks for a Crawl-delay of %s s; capped at WIKI_CRAWL_DELAY_MAX "
                "(%s s)", crawl_delay, self.cap,
            )
            self.crawler.stats.set_value("wiki/crawl_delay_capped", crawl_delay)
        self.delay = effective_delay(self.configured, crawl_delay, self.cap)
        stats = self.crawler.stats
        stats.set_value(DELAY_STAT, self.delay)
        if self.delay > self.configured:
            stats.set_value(DELAY_SOURCE_STAT, "robots.txt Crawl-delay")
            logger.info("Requests spaced by %s s, as robots.txt asks", self.delay)
        throttle = self.crawler.get_extension(AutoThrottle)
        if throttle is not None:
            throttle.mindelay = max(throttle.mindelay, self.delay)
        self._apply(request)

    def _apply(self, request: Request) -> None:
        """The site's download slot, now and as made again after an idle spell, waits the
        delay between requests, never a random shorter one."""
        downloader = self.crawler.engine.downloader
        key = downloader.get_slot_key(request)
        downloader.per_slot_settings[key] = {
            **downloader.per_slot_settings.get(key, {}), "delay": self.delay, "jitter": 0.0
        }
        slot = downloader.slots.get(key)
        if slot is not None:
            slot.delay = max(slot.delay, self.delay)
            slot.jitter = 0.0

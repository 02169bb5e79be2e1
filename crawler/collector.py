"""The crawl process's garbage collector, set for a long run of short-lived objects.

Everything that exists when the engine starts (modules, classes, settings, the crawl's
components: about 100,000 objects) lives until the crawl ends, yet each of the collector's
full collections walked all of it, and its youngest generation was collected every 700
new container objects, several times per response. Measured on 2,000 pages
(benchmarks/RESULTS-collector.md): 1.5 CPU seconds in collections, 0.2 with what is set
here. Both are undone when the engine stops, so a process that goes on (tests, a script
running several crawls) gets its collector back as it was. ``WIKI_COLLECTOR_TUNING=False``
leaves the collector alone.
"""

from __future__ import annotations

import gc

from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured

# Container objects allocated (net) between collections of the youngest generation;
# Python's default is 700. Cyclic garbage waits a little longer: some hundreds of KB.
YOUNG_THRESHOLD = 5000


class CollectorTuning:
    def __init__(self) -> None:
        self._thresholds: tuple[int, int, int] | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> CollectorTuning:
        if not crawler.settings.getbool("WIKI_COLLECTOR_TUNING"):
            raise NotConfigured
        ext = cls()
        crawler.signals.connect(ext.engine_started, signal=signals.engine_started)
        crawler.signals.connect(ext.engine_stopped, signal=signals.engine_stopped)
        return ext

    def engine_started(self) -> None:
        self._thresholds = gc.get_threshold()
        gc.freeze()  # out of every collection's sight until unfrozen
        gc.set_threshold(max(YOUNG_THRESHOLD, self._thresholds[0]), *self._thresholds[1:])

    def engine_stopped(self) -> None:
        if self._thresholds is None:
            return
        gc.set_threshold(*self._thresholds)
        gc.unfreeze()
        self._thresholds = None

"""The crawl process's garbage collector, set for a long run of short-lived objects.

Everything that exists when the engine starts (modules, classes, settings, the crawl's
components: about 100,000 objects) lives until the crawl ends, yet each of the collector's
full collections walked all of it, and its youngest generation was collected every 700
new container objects, several times per response. Measured on 2,000 pages
(benchmarks/RESULTS-collector.md): 1.5 CPU seconds in collections, 0.2 with what is set
here. Both are undone when the engine stops (the last one, when several crawls run in
the process at once), so a process that goes on (tests, a script running several crawls)
gets its collector back as it was. ``WIKI_COLLECTOR_TUNING=False`` leaves the collector
alone.
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
    # The collector is the process's: crawls running at once share one setting, made by
    # the first to start and undone by the last to stop.
    _running = 0
    _saved: tuple[int, int, int] | None = None

    def __init__(self) -> None:
        self._started = False

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> CollectorTuning:
        if not crawler.settings.getbool("WIKI_COLLECTOR_TUNING"):
            raise NotConfigured
        ext = cls()
        crawler.signals.connect(ext.engine_started, signal=signals.engine_started)
        crawler.signals.connect(ext.engine_stopped, signal=signals.engine_stopped)
        return ext

    def engine_started(self) -> None:
        cls = type(self)
        if cls._running == 0:
            cls._saved = saved = gc.get_threshold()
            gc.set_threshold(max(YOUNG_THRESHOLD, saved[0]), *saved[1:])
        cls._running += 1
        self._started = True
        gc.freeze()  # out of every collection's sight until unfrozen

    def engine_stopped(self) -> None:
        if not self._started:
            return
        self._started = False
        cls = type(self)
        cls._running -= 1
        if cls._running == 0 and cls._saved is not None:
            gc.set_threshold(*cls._saved)
            gc.unfreeze()

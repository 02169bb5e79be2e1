"""The crawl process's collector: startup objects frozen and young collections rarer while
the engine runs, both undone when it stops."""

from __future__ import annotations

import gc

import pytest
from scrapy import signals
from scrapy.exceptions import NotConfigured
from scrapy.utils.test import get_crawler

from crawler import settings as project_settings
from crawler.collector import YOUNG_THRESHOLD, CollectorTuning


def test_the_project_enables_it_after_the_lifecycle():
    extensions = project_settings.EXTENSIONS
    assert extensions["crawler.collector.CollectorTuning"] > extensions[
        "crawler.lifecycle.ArchiveLifecycle"]


def test_the_engine_runs_with_startup_objects_frozen_and_rarer_collections():
    crawler = get_crawler(settings_dict={"WIKI_COLLECTOR_TUNING": True})
    _kept = CollectorTuning.from_crawler(crawler)  # signals hold their handlers weakly
    before = gc.get_threshold()
    assert gc.get_freeze_count() == 0
    try:
        crawler.signals.send_catch_log(signal=signals.engine_started)
        assert gc.get_freeze_count() > 10_000  # the modules and classes loaded by now
        assert gc.get_threshold() == (max(YOUNG_THRESHOLD, before[0]), *before[1:])
        crawler.signals.send_catch_log(signal=signals.engine_stopped)
        assert gc.get_freeze_count() == 0
        assert gc.get_threshold() == before
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)


def test_an_engine_stopped_without_starting_changes_nothing():
    crawler = get_crawler(settings_dict={"WIKI_COLLECTOR_TUNING": True})
    _kept = CollectorTuning.from_crawler(crawler)
    before = gc.get_threshold()
    crawler.signals.send_catch_log(signal=signals.engine_stopped)
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0


def test_a_setting_leaves_the_collector_alone():
    with pytest.raises(NotConfigured):
        CollectorTuning.from_crawler(get_crawler(settings_dict={"WIKI_COLLECTOR_TUNING": False}))


def test_crawls_at_once_share_it_until_the_last_stops():
    first = get_crawler(settings_dict={"WIKI_COLLECTOR_TUNING": True})
    second = get_crawler(settings_dict={"WIKI_COLLECTOR_TUNING": True})
    _kept = (CollectorTuning.from_crawler(first), CollectorTuning.from_crawler(second))
    before = gc.get_threshold()
    try:
        first.signals.send_catch_log(signal=signals.engine_started)
        second.signals.send_catch_log(signal=signals.engine_started)
        first.signals.send_catch_log(signal=signals.engine_stopped)
        assert gc.get_freeze_count() > 0  # the second crawl still runs
        assert gc.get_threshold()[0] == max(YOUNG_THRESHOLD, before[0])
        second.signals.send_catch_log(signal=signals.engine_stopped)
        assert gc.get_threshold() == before and gc.get_freeze_count() == 0
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)

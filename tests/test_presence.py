"""The compact index of which pages the archive knows, for the links table."""

from __future__ import annotations

import exports.presence as presence_module
from exports.presence import Presence

ROWS = [(f"ns{i % 7}:page_{i}", i % 3 != 0) for i in range(5000)]


def test_known_pages_say_whether_they_exist_and_unknown_ones_say_nothing():
    index = Presence(lambda: iter(ROWS))
    for page_id, present in ROWS:
        assert index.get(page_id) is present
    for unknown in ("ns1:page_5000", "page_1", "", "ns0:page_0 "):
        assert index.get(unknown) is None


def test_ids_sharing_a_hash_are_still_told_apart(monkeypatch):
    # Every id hashing alike forces the exact fallback; no answer may change.
    monkeypatch.setattr(presence_module, "hash", lambda text: len(text) % 3, raising=False)
    index = Presence(lambda: ROWS)
    assert all(index.get(page_id) is present for page_id, present in ROWS)
    assert index.get("ns1:page_5000") is None


def test_no_pages_known():
    assert Presence(lambda: iter(())).get("start") is None


def test_many_ids_at_once_answer_as_one_at_a_time():
    index = Presence(lambda: iter(ROWS))
    asked = ["ns1:page_1", "nowhere", "ns0:page_0", "ns1:page_1", "ns3:page_3", ""]
    assert index.get_many(asked) == [True, None, False, True, False, None]
    assert index.get_many([]) == []

"""crawler.dates.parse_exact_date: the datetime attribute of <time>, as PHP writes it."""

from __future__ import annotations

import pytest

from crawler.dates import parse_exact_date, parse_wiki_date


@pytest.mark.parametrize(
    ("value", "local", "utc"),
    [
        # DokuWiki 2026-07-14b: date(DATE_ISO8601), the offset without a colon
        ("2024-06-07T03:00:00+0000", "2024-06-07T03:00:00", "2024-06-07T03:00:00+00:00"),
        ("2024-06-07T03:00:00+02:00", "2024-06-07T03:00:00", "2024-06-07T01:00:00+00:00"),
        ("2024-06-07T03:00:00-0530", "2024-06-07T03:00:00", "2024-06-07T08:30:00+00:00"),
        ("2024-06-07T03:00Z", "2024-06-07T03:00:00", "2024-06-07T03:00:00+00:00"),
        ("2024-06-07 03:00:00.123+05", "2024-06-07T03:00:00", "2024-06-06T22:00:00+00:00"),
        (" 2024-06-07T03:00:00 ", "2024-06-07T03:00:00", None),  # no offset: local only
    ],
)
def test_exact_dates(value, local, utc):
    assert parse_exact_date(value) == (local, utc)


@pytest.mark.parametrize("value", ["", "2024-06-07", "2024-13-07T03:00:00+0000", "yesterday",
                                   "2024-06-07T03:00:00+0000 and more"])
def test_not_an_exact_date(value):
    assert parse_exact_date(value) is None


@pytest.mark.parametrize(
    ("text", "parsed", "raw"),
    [
        # a date starts the text: the longest format starting there still wins
        ("x.txt · Last modified: 2024/06/07 03:00:59 by a", "2024-06-07T03:00:59",
         "2024/06/07 03:00:59"),
        ("x.txt · Last modified: 2024/06/07 by a", "2024-06-07", "2024/06/07"),
        ("x.txt · Last modified: 07.06.2024 03:00 (external edit)", "2024-06-07T03:00:00",
         "07.06.2024 03:00"),
    ],
)
def test_wiki_dates_at_the_start_of_the_text(text, parsed, raw):
    assert parse_wiki_date(text) == (parsed, raw)

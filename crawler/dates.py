"""Find the "last modified" date in the text of a DokuWiki docInfo line.

DokuWiki prints dates with its ``dformat`` setting (strftime directives, default
``%Y/%m/%d %H:%M``) in the server's time zone.  We return the wiki's own
wall-clock time as ISO 8601 without converting time zones.  Newer releases also
give the exact time in ``<time datetime="2024-06-07T03:00:00+0000">``:
:func:`parse_exact_date` reads that.  Pure and cached.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from functools import lru_cache

# Month names of the languages a DokuWiki is most likely to be set to; matched
# case-insensitively, with or without a trailing dot.
_MONTH_NAMES = {
    1: "january jan januar janvier enero ene gennaio gen janeiro",
    2: "february feb februar février fevrier févr fév fev febrero febbraio fevereiro",
    3: "march mar märz maerz mär mars marzo março marco",
    4: "april apr avril avr abril aprile abr",
    5: "may mai mayo maggio mag maio",
    6: "june jun juni juin junio giugno giu junho",
    7: "july jul juli juillet juil julio luglio lug julho",
    8: "august aug août aout agosto ago",
    9: "september sep sept septembre septiembre settembre set setembro",
    10: "october oct oktober okt octobre octubre ottobre ott outubro out",
    11: "november nov novembre noviembre novembro",
    12: "december dec dezember dez décembre déc diciembre dic dicembre dezembro",
}
_MONTHS = {name: number for number, names in _MONTH_NAMES.items() for name in names.split()}
_MONTH_RE = "(?:" + "|".join(sorted(map(re.escape, _MONTHS), key=len, reverse=True)) + r")\.?"
_WEEKDAY_RE = r"[^\W\d_]{2,12}\.?"

# strftime directive -> regex (named groups are read by _build()).
_DIRECTIVES = {
    "Y": r"(?P<Y>\d{4})",
    "y": r"(?P<y>\d{2})",
    "m": r"(?P<m>\d{1,2})",
    "d": r"(?P<d>\d{1,2})",
    "e": r"\s?(?P<d>\d{1,2})",
    "H": r"(?P<H>\d{1,2})",
    "k": r"\s?(?P<H>\d{1,2})",
    "I": r"(?P<I>\d{1,2})",
    "l": r"\s?(?P<I>\d{1,2})",
    "M": r"(?P<M>\d{2})",
    "S": r"(?P<S>\d{2})",
    "p": r"(?P<p>[AaPp]\.?[Mm]\.?)",
    "P": r"(?P<p>[AaPp]\.?[Mm]\.?)",
    "B": rf"(?P<B>{_MONTH_RE})",
    "b": rf"(?P<B>{_MONTH_RE})",
    "h": rf"(?P<B>{_MONTH_RE})",
    "A": _WEEKDAY_RE,
    "a": _WEEKDAY_RE,
    "Z": r"[A-Za-z]{1,6}",
    "z": r"[+-]\d{2}:?\d{2}",
    "j": r"\d{1,3}",
    "%": "%",
    "n": r"\s",
    "t": r"\s",
}
_COMPOSITES = {"F": "%Y-%m-%d", "T": "%H:%M:%S", "R": "%H:%M", "D": "%m/%d/%y"}

# Formats tried, in this order, when the wiki's dformat is not known.  Only
# unambiguous orders: year first, day first with dots, or month names.
_DEFAULT_FORMATS = (
    "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d %H:%M",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y.%m.%d %H:%M",
    "%d.%m.%Y %H:%M:%S",
    "%d.%m.%Y %H:%M",
    "%d. %B %Y %H:%M",
    "%d %B %Y %H:%M",
    "%d %B %Y, %H:%M",
    "%B %d, %Y %H:%M",
    "%B %d, %Y, %H:%M",
    "%B %d, %Y %I:%M %p",
    "%d %B %Y",
    "%d. %B %Y",
    "%B %d, %Y",
    "%B %d %Y",
    "%Y/%m/%d",
    "%Y-%m-%d",
    "%d.%m.%Y",
)
_ISO_8601 = re.compile(
    r"(?P<Y>\d{4})-(?P<m>\d{2})-(?P<d>\d{2})[T ](?P<H>\d{2}):(?P<M>\d{2})(?::(?P<S>\d{2}))?"
    r"(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2})"
)
# Day and month both as numbers with '/' or '-' and a 4-digit year last: the order
# can only be told when one part is > 12.
_NUMERIC_DMY = re.compile(
    r"(?<![\d/.-])(?P<a>\d{1,2})(?P<sep>[/-])(?P<b>\d{1,2})(?P=sep)(?P<Y>\d{4})"
    r"(?:,?\s+(?P<H>\d{1,2}):(?P<M>\d{2})(?::(?P<S>\d{2}))?(?:\s*(?P<p>[AaPp]\.?[Mm]\.?))?)?"
)
# "Last modified:" / "Zuletzt geändert:" / "Dernière modification :" — any label
# ending in a colon followed by space (a time's colon is not followed by space).
_LABEL = re.compile(r"[^\W\d_][^:·]*?\s?:\s")
# What follows the date on the docInfo line (the editor), in common languages.
_TRAILER = re.compile(r"\s+(?:by|von|par|por|da|door|av|przez|от)\s|\s\(|\s*·", re.IGNORECASE)


@lru_cache(maxsize=64)
def _format_regex(date_format: str) -> re.Pattern[str]:
    """Compile a strftime/DokuWiki dformat into a regex with named groups."""
    out: list[str] = []
    seen: set[str] = set()
    fmt = _expand(date_format)
    i = 0
    while i < len(fmt):
        char = fmt[i]
        if char != "%":
            out.append(r"\s+" if char.isspace() else re.escape(char))
            i += 1
            continue
        directive = fmt[i + 1 : i + 2]
        if directive not in _DIRECTIVES:
            raise ValueError(f"unsupported date directive %{directive} in {date_format!r}")
        pattern = _DIRECTIVES[directive]
        # A directive given twice must not define the same named group twice.
        for name in re.findall(r"\?P<(\w+)>", pattern):
            if name in seen:
                pattern = pattern.replace(f"?P<{name}>", "?:")
            seen.add(name)
        out.append(pattern)
        i += 2
    # Not glued to other digits: "2024/06/07" must not match inside "12024/06/07".
    return re.compile(r"(?<!\d)" + "".join(out) + r"(?!\d)", re.IGNORECASE)


def _expand(date_format: str) -> str:
    for key, value in _COMPOSITES.items():
        date_format = date_format.replace("%" + key, value)
    return date_format


def _iso(groups: dict[str, str | None]) -> str | None:
    """ISO 8601 from regex groups; a date without a time gives a date-only ISO string."""
    try:
        year = int(groups["Y"]) if groups.get("Y") else _two_digit_year(groups.get("y"))
        if groups.get("B"):
            month = _MONTHS[groups["B"].lower().rstrip(".")]
        else:
            month = int(groups["m"] or "")
        day = int(groups["d"] or "")
        if year is None:
            return None
        hour_text = groups.get("H") or groups.get("I")
        if hour_text is None:
            return datetime(year, month, day).date().isoformat()
        hour = _hour(int(hour_text), groups.get("p"))
        minute = int(groups.get("M") or 0)
        second = int(groups.get("S") or 0)
        return datetime(year, month, day, hour, minute, second).isoformat()
    except (KeyError, TypeError, ValueError):
        return None


def _two_digit_year(text: str | None) -> int | None:
    if not text:
        return None
    value = int(text)
    return value + (2000 if value < 69 else 1900)  # POSIX strptime's pivot


def _hour(hour: int, am_pm: str | None) -> int:
    if not am_pm:
        return hour
    if hour > 12:
        raise ValueError("12-hour clock above 12")
    is_pm = am_pm.lower().startswith("p")
    return (hour % 12) + (12 if is_pm else 0)


def _date_region(text: str) -> str:
    """The part of the docInfo text after its label (or all of it without one)."""
    # The file name comes before '·' and may itself contain a date.
    head, dot, tail = text.partition("·")
    region = tail if dot else head
    label = _LABEL.search(region)
    return region[label.end():] if label else region


def _raw_after_label(region: str) -> str | None:
    raw = _TRAILER.split(region, 1)[0].strip(" \t\n*")
    return raw or None


def parse_wiki_date(text: str, date_format: str | None = None) -> tuple[str | None, str | None]:
    """Find a date in a docInfo line; return (ISO date-time or None, raw date text or None).

    With *date_format* (the wiki's dformat, e.g. ``%d.%m.%Y %H:%M``) only that
    format is tried.  Without it a fixed list of unambiguous formats is tried;
    numeric day/month dates that could be read both ways give (None, raw).
    """
    # Compiled first, so that a bad format fails on any call, even with an empty text.
    regex = _format_regex(date_format) if date_format else None
    text = " ".join(text.split())
    if not text:
        return None, None
    region = _date_region(text)
    if regex is not None:
        match = regex.search(region) or regex.search(text)
        if match:
            return _iso(match.groupdict()), match.group(0)
        return None, _raw_after_label(region)
    for search_in in (region, text) if region != text else (text,):
        found = _search_defaults(search_in)
        if found is not None:
            return found
    return None, _raw_after_label(region)


def _search_defaults(text: str) -> tuple[str | None, str] | None:
    """The earliest date in *text* by the default formats, or None."""
    best: tuple[int, int, tuple[str | None, str]] | None = None
    for regex, to_iso in _default_candidates():
        # Once a date starts the text, only another one starting there can win: an
        # anchored match fails at once where a search would scan the whole text.
        match = regex.match(text) if best is not None and best[0] == 0 else regex.search(text)
        if match is None:
            continue
        # Earliest wins; at the same start the longer match (with a time) wins.
        key = (match.start(), -len(match.group(0)))
        if best is None or key < best[:2]:
            best = (*key, (to_iso(match.groupdict()), match.group(0)))
    return None if best is None else best[2]


@lru_cache(maxsize=1)
def _default_candidates() -> tuple[tuple[re.Pattern[str], Callable[..., str | None]], ...]:
    formats = tuple((_format_regex(fmt), _iso) for fmt in _DEFAULT_FORMATS)
    return ((_ISO_8601, _iso), *formats, (_NUMERIC_DMY, _iso_day_month))


def _iso_day_month(groups: dict[str, str | None]) -> str | None:
    first, second = int(groups["a"] or 0), int(groups["b"] or 0)
    if first > 12 >= second:
        day, month = first, second
    elif second > 12 >= first:
        day, month = second, first
    else:
        return None  # ambiguous (or impossible): never guess day-first vs month-first
    return _iso({**groups, "d": str(day), "m": str(month)})


# HTML's datetime attribute as PHP writes it: DATE_ISO8601 ("+0000") or DATE_ATOM ("+00:00").
_EXACT = re.compile(
    r"\s*(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)"
    r"\s*(Z|[+-]\d{2}(?::?\d{2})?)?\s*$",
    re.IGNORECASE,
)


def parse_exact_date(value: str) -> tuple[str, str | None] | None:
    """(wall-clock ISO date-time, UTC ISO date-time or None) of a ``datetime`` attribute.

    The first is the local time the value states, to the second, without its offset
    (as :func:`parse_wiki_date` gives it); the second is that instant in UTC
    (``...+00:00``), None when the value has no offset. None when it is no date-time.
    """
    found = _EXACT.match(value)
    if found is None:
        return None
    day, clock, offset = found.groups()
    try:
        local = datetime.fromisoformat(f"{day}T{clock}").replace(microsecond=0)
        if offset is None:
            return local.isoformat(), None
        if offset.upper() == "Z":
            offset = "+00:00"
        elif len(offset) == 3:
            offset += ":00"
        elif ":" not in offset:
            offset = f"{offset[:3]}:{offset[3:]}"
        exact = datetime.fromisoformat(f"{local.isoformat()}{offset}")
    except ValueError:
        return None
    return local.isoformat(), exact.astimezone(UTC).isoformat()

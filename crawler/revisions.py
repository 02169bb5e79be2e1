"""A page's revision list (``do=revisions``) and what it says of each revision (pure).

DokuWiki lists a page's revisions newest first, ``$conf['recent']`` (20) per screen, in
``form#page__revisions``: one ``li`` per revision with ``input[name='rev2[]']`` (its Unix
time, the value ``rev=`` takes), ``span.date`` (wiki-local), a link to the revision
(``&rev=<time>``; to the page itself for the current one), ``span.sum``, ``span.user``,
``span.sizechange`` and "(current)". A revision whose text the wiki no longer holds (attic
pruned) has a disabled checkbox without a name and no link; a deletion links with class
``wikilink2``; a minor edit's ``li`` has class ``minor``. The next (older) screen is a
button form with ``first=N``. See docs/dokuwiki.md §5 and inc/Ui/PageRevisions.php.

The list does not print the changelog's type letter, so the kind of a revision is read
from what the list does show (:func:`revision_kinds`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from lxml import etree

from crawler.dates import parse_wiki_date

# DokuWiki's own summaries (inc/lang/en/lang.php: external_edit, restored), English only.
EXTERNAL_EDIT = re.compile(r"^(?:created - )?external edit\b")
RESTORED = re.compile(r"^old revision restored \(")

_PARSER = etree.HTMLParser(remove_pis=True, no_network=True, recover=True, default_doctype=False)
_XP_FORM = etree.XPath("//form[@id='page__revisions']")
_XP_ITEMS = etree.XPath(".//li[div[contains(concat(' ', @class, ' '), ' li ')]]")
_XP_NEXT = etree.XPath(
    "//div[contains(@class, 'pagenav-next')]//input[@name='first']/@value"
)


@dataclass(frozen=True, slots=True)
class ListedRevision:
    """One line of a revision list, as the wiki shows it."""

    revision: int  # Unix time, as in ``rev=``
    date_shown: str  # wiki-local, as printed
    date: str | None  # the same, read as ISO 8601 (no offset); None when unreadable
    summary: str
    author: str  # user name, or IP address for anonymous edits
    size_change: str  # as printed, e.g. "+1.8 KB"
    minor: bool
    deleted: bool
    current: bool
    served: bool  # the wiki still serves its text (listed with a link to it)


@dataclass(frozen=True, slots=True)
class RevisionList:
    """One screen of a page's revision list; ``next_first`` is the next screen's offset."""

    page_id: str
    first: int
    revisions: tuple[ListedRevision, ...]
    next_first: int | None


def parse_revision_list(
    html: bytes | str, *, page_id: str, first: int = 0, date_format: str | None = None
) -> RevisionList | None:
    """The revisions listed by a ``do=revisions`` screen, or None when it holds no list
    (another view, an error page)."""
    if isinstance(html, bytes):
        html = html.decode("utf-8", errors="replace")
    try:
        root = etree.fromstring(html, _PARSER)
    except (etree.LxmlError, ValueError):
        return None
    if root is None:
        return None
    forms = _XP_FORM(root)
    if not forms:
        return None
    listed = [r for r in map(lambda li: _item(li, date_format), _XP_ITEMS(forms[0])) if r]
    nexts = [int(v) for v in _XP_NEXT(root) if v.strip().isdigit()]
    return RevisionList(page_id, first, tuple(listed), nexts[0] if nexts else None)


def next_screen(listing: RevisionList) -> int | None:
    """The ``first`` of the screen after this one, overlapping it by one revision when
    this is the first screen.

    DokuWiki's first screen shows the current revision and the 19 newest old ones, but
    its "older" button skips 20 old ones (inc/Ui/Revisions.php, 2022-07-31): following it
    as given never shows the 20th old revision. An overlap of one is harmless, a gap not.
    """
    if listing.next_first is None:
        return None
    if listing.first == 0 and any(rev.current for rev in listing.revisions):
        return max(listing.next_first - 1, 1)
    return listing.next_first


def _item(li: etree._Element, date_format: str | None) -> ListedRevision | None:
    box = next((i for i in li.iter("input") if (i.get("type") or "") == "checkbox"), None)
    value = (box.get("value") or "").strip() if box is not None else ""
    if not value.isdigit():
        return None
    spans = {cls: _text(el) for el in li.iter("span") for cls in (el.get("class") or "").split()}
    date_shown = spans.get("date", "")
    link = next((a for a in li.iter("a") if "diff_link" not in (a.get("class") or "")), None)
    link_classes = (link.get("class") or "").split() if link is not None else []
    return ListedRevision(
        revision=int(value),
        date_shown=date_shown,
        date=parse_wiki_date(date_shown, date_format)[0] if date_shown else None,
        summary=spans.get("sum", "").removeprefix("–").strip(),
        author=spans.get("user", ""),
        size_change=spans.get("sizechange", ""),
        minor="minor" in (li.get("class") or "").split(),
        deleted="wikilink2" in link_classes,
        current="(current)" in "".join(li.itertext()),
        served=box.get("name") == "rev2[]" and link is not None,
    )


def _text(el: etree._Element) -> str:
    return " ".join("".join(el.itertext()).split())


def revision_kinds(revisions: Sequence[ListedRevision], *, complete: bool) -> list[str]:
    """The kind of each revision of one page, listed oldest first:
    ``created``, ``edited``, ``minor``, ``deleted``, ``reverted`` or ``external``.

    What DokuWiki records as a creation is the first save of a page that did not exist:
    the oldest revision when the list is ``complete`` (read to its end), and the one after
    a deletion. Deletions and minor edits are marked in the list; reverts and external
    edits are known by the summaries DokuWiki writes for them.
    """
    kinds = []
    for i, rev in enumerate(revisions):
        if rev.deleted:
            kind = "deleted"
        elif EXTERNAL_EDIT.match(rev.summary) and not _is_user(rev.author):
            kind = "external"
        elif (i == 0 and complete) or (i > 0 and revisions[i - 1].deleted):
            kind = "created"
        elif RESTORED.match(rev.summary):
            kind = "reverted"
        elif rev.minor:
            kind = "minor"
        else:
            kind = "edited"
        kinds.append(kind)
    return kinds


def _is_user(author: str) -> bool:
    """Anonymous and external edits show an IP address instead of a user name."""
    return not re.fullmatch(r"[0-9.]+|[0-9a-fA-F:]+", author or "")


def dates_to_versions(
    revisions: Iterable[tuple[int, str | None]], versions: Iterable[tuple[int, str | None]]
) -> dict[int, int]:
    """Revision -> version for captures of the current page that show a revision's date.

    A page's "Last modified" is the date of its current revision, so a capture made when
    that revision was current holds it. Dates are shown to the minute: a date two
    revisions share names neither, and such revisions are not matched. ``versions`` are
    (version id, last modified) of captures whose revision is not known; the first
    version of a date wins.
    """
    revisions = list(revisions)
    count: dict[str, int] = {}
    for _, date in revisions:
        if date:
            count[date] = count.get(date, 0) + 1
    by_date: dict[str, int] = {}
    for version_id, date in sorted(versions):
        if date and date not in by_date:
            by_date[date] = version_id
    return {
        rev: by_date[date]
        for rev, date in revisions
        if date and count[date] == 1 and date in by_date
    }

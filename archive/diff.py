"""What changed in a page between two crawls (pure, no I/O).

Only the parsed content counts: title, body text, footnote texts and the last-update date.
Links, ids and everything else a DokuWiki template prints around the article are volatile
chrome (a red link turning blue is not an edit of the page) and are ignored.
"""

from __future__ import annotations

import difflib
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from crawler.page import Page

# A replaced block of lines larger than this (chars on either side) is not refined further:
# difflib is roughly quadratic, and a 250 KB rewrite must not take minutes.
BLOCK_LIMIT = 5_000
# Character-level matching runs only on short replaced runs of words (typos, small edits);
# longer runs are counted word by word, which is already precise enough.
CHAR_LIMIT = 400
# Above this many pairs of equal tokens (old x new) difflib slows down quadratically; see
# _matcher for what happens then.
PAIR_BUDGET = 200_000

# A line with the newlines that follow it (or leading newlines alone): blank lines between
# paragraphs ride with their paragraph instead of being thousands of identical tokens.
_LINE = re.compile(r"\n+|[^\n]+\n*")

# A word with the whitespace that follows it (or leading whitespace alone): attaching the
# whitespace keeps tokens distinct, so difflib does not anchor on thousands of lone spaces,
# and a reflow ("foo bar" -> "foo\nbar") becomes a one-character replacement.
_WORD = re.compile(r"\s+|\S+\s*")

Delta = tuple[int, int]  # (chars added, chars removed)


@dataclass(frozen=True, slots=True)
class PageChange:
    page_id: str
    change: str  # "added" | "removed" | "modified"
    title_changed: bool
    body_changed: bool
    footnotes_added: int  # footnotes whose text is new (multiset difference of texts)
    footnotes_removed: int
    last_modified_before: str | None  # ISO strings as in Page.last_modified
    last_modified_after: str | None
    chars_added: int  # body text characters inserted
    chars_removed: int  # body text characters deleted


def diff_pages(before: Page | None, after: Page | None) -> PageChange | None:
    """The change from *before* to *after*, or None when the parsed content is the same."""
    old = _existing(before)
    new = _existing(after)
    if old is None and new is None:
        return None
    if old is None:
        return _whole_page(new, "added")
    if new is None:
        return _whole_page(old, "removed")
    return _modified(old, new)


def unified_diff(before: Page | None, after: Page | None, *, context: int = 3) -> str:
    """A unified diff of the text rendering of both pages; "" when they render the same."""
    page = after if after is not None else before
    if page is None:
        return ""
    lines = difflib.unified_diff(
        render(_existing(before)),
        render(_existing(after)),
        fromfile=f"{page.page_id} (before)",
        tofile=f"{page.page_id} (after)",
        n=context,
        lineterm="",
    )
    text = "\n".join(lines)
    return text + "\n" if text else ""


def render(page: Page | None) -> list[str]:
    """Lines of a page as text: "# Title", its body, then "[n] text" per footnote.

    A missing page renders as nothing, so added and removed pages diff against empty text.
    """
    if page is None:
        return []
    sections = [[f"# {page.title}"]]
    if page.body_text:
        sections.append(page.body_text.splitlines())
    if page.footnotes:
        sections.append([f"[{fn.number}] {fn.text}" for fn in page.footnotes])
    lines: list[str] = []
    for section in sections:
        if lines:
            lines.append("")
        lines.extend(section)
    return lines


# --------------------------------------------------------------------------- page level


def _existing(page: Page | None) -> Page | None:
    # A "page does not exist" view is the same as no page at all.
    return page if page is not None and page.exists else None


def _whole_page(page: Page, change: str) -> PageChange:
    """An added or removed page: everything in it counts as new (or gone)."""
    added = change == "added"
    footnotes = len(page.footnotes)
    chars = len(page.body_text)
    return PageChange(
        page_id=page.page_id,
        change=change,
        title_changed=True,
        body_changed=True,
        footnotes_added=footnotes if added else 0,
        footnotes_removed=0 if added else footnotes,
        last_modified_before=None if added else page.last_modified,
        last_modified_after=page.last_modified if added else None,
        chars_added=chars if added else 0,
        chars_removed=0 if added else chars,
    )


def _modified(old: Page, new: Page) -> PageChange | None:
    title_changed = old.title != new.title
    body_changed = old.body_text != new.body_text
    footnotes_added, footnotes_removed = _footnote_delta(old, new)
    date_changed = old.last_modified != new.last_modified
    if not (title_changed or body_changed or footnotes_added or footnotes_removed
            or date_changed):
        return None
    chars_added, chars_removed = body_delta(old.body_text, new.body_text)
    return PageChange(
        page_id=new.page_id,
        change="modified",
        title_changed=title_changed,
        body_changed=body_changed,
        footnotes_added=footnotes_added,
        footnotes_removed=footnotes_removed,
        last_modified_before=old.last_modified,
        last_modified_after=new.last_modified,
        chars_added=chars_added,
        chars_removed=chars_removed,
    )


def _footnote_delta(old: Page, new: Page) -> Delta:
    """Footnotes added and removed, compared by text as multisets.

    Numbers and order are ignored: inserting a footnote renumbers all that follow it, and
    that renumbering is not an edit of those footnotes.
    """
    before = Counter(fn.text for fn in old.footnotes)
    after = Counter(fn.text for fn in new.footnotes)
    return sum((after - before).values()), sum((before - after).values())


# --------------------------------------------------------------------------- body text


def body_delta(old: str, new: str) -> Delta:
    """Characters inserted into and deleted from body text *old* to give *new*.

    Lines first, then words, then characters inside small replaced runs: a one-letter typo
    fix counts 1/1, not the whole paragraph (a paragraph is one line of body text).
    """
    if old == new:
        return 0, 0
    return _token_delta(_LINE.findall(old), _LINE.findall(new), _block_delta)


def _block_delta(old: str, new: str) -> Delta:
    """A replaced block of whole lines, refined word by word unless it is too large."""
    old, new = _trim_chars(old, new)
    if len(old) > BLOCK_LIMIT or len(new) > BLOCK_LIMIT:
        # Too large to refine cheaply: count it whole. The common prefix and suffix trimmed
        # above (a linear scan) still keep a small edit in one huge paragraph small.
        return len(new), len(old)
    return _token_delta(_WORD.findall(old), _WORD.findall(new), _char_delta)


def _char_delta(old: str, new: str) -> Delta:
    """A replaced run of words, refined character by character when short."""
    old, new = _trim_chars(old, new)
    if not old or not new or len(old) > CHAR_LIMIT or len(new) > CHAR_LIMIT:
        return len(new), len(old)
    added = removed = 0
    matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag != "equal":
            added += j2 - j1
            removed += i2 - i1
    return added, removed


def _token_delta(
    old: Sequence[str], new: Sequence[str], refine: Callable[[str, str], Delta]
) -> Delta:
    """Diff two token lists; inserted/deleted tokens count whole, replaced ones via *refine*.

    Tokens are matched on their text without trailing whitespace, so a moved line break
    or a blank line more or less counts as the few whitespace characters it is.
    """
    old, new = _trim_tokens(old, new)
    if not old or not new:
        return _length(new), _length(old)
    old_keys = [token.rstrip() for token in old]
    new_keys = [token.rstrip() for token in new]
    matcher = _matcher(old_keys, new_keys)
    if matcher is None:
        return _length(new), _length(old)
    added = removed = 0
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        gone, came = old[i1:i2], new[j1:j2]
        if tag == "equal":
            plus, minus = _whitespace_delta(gone, came)
        elif tag == "replace":
            plus, minus = refine("".join(gone), "".join(came))
        else:
            plus, minus = _length(came), _length(gone)
        added += plus
        removed += minus
    return added, removed


def _whitespace_delta(old: Sequence[str], new: Sequence[str]) -> Delta:
    """Changes in the trailing whitespace of tokens that match."""
    added = removed = 0
    for before, after in zip(old, new, strict=True):
        if before != after:
            plus, minus = _char_delta(before, after)
            added += plus
            removed += minus
    return added, removed


def _matcher(old: list[str], new: list[str]) -> difflib.SequenceMatcher | None:
    """A SequenceMatcher that stays fast on these keys, or None when none would.

    difflib's work grows with the pairs of equal tokens (old x new). Exact matching
    (autojunk off) is preferred, because autojunk reports frequent tokens (common words,
    repeated lines) as replaced although they are unchanged; that only costs a little more
    refining, so it is the fallback when exact matching would be too slow.
    """
    old_counts, new_counts = Counter(old), Counter(new)
    if _pairs(old_counts, new_counts) <= PAIR_BUDGET:
        return difflib.SequenceMatcher(None, old, new, autojunk=False)
    if len(new) >= 200:  # difflib's own rule: only then are popular tokens ignored
        popular = len(new) // 100 + 1
        rare = Counter({key: n for key, n in new_counts.items() if n <= popular})
        if _pairs(old_counts, rare) <= PAIR_BUDGET:
            return difflib.SequenceMatcher(None, old, new, autojunk=True)
    return None


def _pairs(old: Counter[str], new: Counter[str]) -> int:
    return sum(n * new[key] for key, n in old.items() if key in new)


def _length(tokens: Sequence[str]) -> int:
    return sum(map(len, tokens))


def _trim_tokens(old: Sequence[str], new: Sequence[str]) -> tuple[Sequence[str], Sequence[str]]:
    """Drop the common leading and trailing tokens.

    A small edit in a long text then leaves difflib only the short middle to match, which
    keeps a 250 KB body fast whatever its repetitions.
    """
    start = _common_prefix(old, new)
    end = _common_suffix(old, new, min(len(old), len(new)) - start)
    return old[start:len(old) - end], new[start:len(new) - end]


def _trim_chars(old: str, new: str) -> tuple[str, str]:
    start = _common_prefix(old, new)
    end = _common_suffix(old, new, min(len(old), len(new)) - start)
    return old[start:len(old) - end], new[start:len(new) - end]


# Both searches bisect with slice comparisons, which run in C: O(n log n) but far faster
# than a Python loop over 250,000 characters.
def _common_prefix(a: Sequence[str], b: Sequence[str]) -> int:
    """Length of the common prefix of *a* and *b*."""
    lo, hi = 0, min(len(a), len(b))
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if a[:mid] == b[:mid]:
            lo = mid
        else:
            hi = mid - 1
    return lo


def _common_suffix(a: Sequence[str], b: Sequence[str], limit: int) -> int:
    """Length of the common suffix of *a* and *b*, at most *limit*."""
    lo, hi = 0, limit
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if a[len(a) - mid:] == b[len(b) - mid:]:
            lo = mid
        else:
            hi = mid - 1
    return lo

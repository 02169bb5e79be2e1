"""archive.diff: what changed in a page between two crawls (pure, no wiki needed)."""

from __future__ import annotations

import dataclasses
import time

from archive.diff import PageChange, body_delta, diff_pages, unified_diff
from crawler.page import Footnote, Link, Page

BODY = "Disc herniation\n\nThe cat sat on the mat.\n\nSurgery is rarely needed."
DATE = "2024-03-01T10:15:00"


def make_page(
    body: str = BODY,
    *,
    title: str = "Disc herniation",
    footnotes: tuple[str, ...] = ("Smith 2020. PMID: 1", "Jones 2021. PMID: 2"),
    numbers: tuple[int, ...] | None = None,
    last_modified: str | None = DATE,
    exists: bool = True,
    links: tuple[Link, ...] = (),
) -> Page:
    """A parsed page; footnotes are numbered 1, 2, … unless *numbers* says otherwise."""
    numbers = numbers or tuple(range(1, len(footnotes) + 1))
    notes = tuple(
        Footnote(number=n, numbers=(n,), text=text, pmid=None, pmcid=None, doi=None, urls=())
        for n, text in zip(numbers, footnotes, strict=True)
    )
    return Page(
        page_id="spine:disc_herniation",
        url="https://wiki.example/doku.php?id=spine:disc_herniation",
        title=title,
        namespace="spine",
        exists=exists,
        body_text=body,
        last_modified=last_modified,
        last_modified_raw=None,
        footnotes=notes,
        links=links,
    )


def test_added_page_counts_everything_as_new() -> None:
    page = make_page()
    expected = PageChange(
        page_id="spine:disc_herniation",
        change="added",
        title_changed=True,
        body_changed=True,
        footnotes_added=2,
        footnotes_removed=0,
        last_modified_before=None,
        last_modified_after=DATE,
        chars_added=len(BODY),
        chars_removed=0,
    )
    assert diff_pages(None, page) == expected
    # A "this page does not exist" view before is no page at all.
    assert diff_pages(make_page("", exists=False, footnotes=()), page) == expected


def test_removed_page_mirrors_added() -> None:
    page = make_page()
    expected = PageChange(
        page_id="spine:disc_herniation",
        change="removed",
        title_changed=True,
        body_changed=True,
        footnotes_added=0,
        footnotes_removed=2,
        last_modified_before=DATE,
        last_modified_after=None,
        chars_added=0,
        chars_removed=len(BODY),
    )
    assert diff_pages(page, None) == expected
    assert diff_pages(page, make_page("", exists=False, footnotes=())) == expected


def test_both_missing_is_no_change() -> None:
    missing = make_page("", exists=False, footnotes=())
    assert diff_pages(None, None) is None
    assert diff_pages(missing, missing) is None
    assert diff_pages(None, missing) is None


def test_same_content_is_no_change_whatever_the_links() -> None:
    before = make_page(links=(Link("spine:surgery", "missing_page", "surgery"),))
    after = make_page(links=(Link("spine:surgery", "page", "surgery"),))  # red link turned blue
    assert diff_pages(before, before) is None
    assert diff_pages(before, after) is None
    assert diff_pages(before, dataclasses.replace(after, url="https://mirror/x")) is None


def test_typo_fix_counts_one_character() -> None:
    change = diff_pages(make_page(), make_page(BODY.replace("cat", "cot")))
    assert change is not None
    assert change.change == "modified"
    assert (change.title_changed, change.body_changed) == (False, True)
    assert (change.footnotes_added, change.footnotes_removed) == (0, 0)
    assert (change.chars_added, change.chars_removed) == (1, 1)


def test_added_paragraph_counts_its_characters() -> None:
    extra = "\n\nConservative care comes first."
    change = diff_pages(make_page(), make_page(BODY + extra))
    assert change is not None and change.body_changed
    assert (change.chars_added, change.chars_removed) == (len(extra), 0)
    # In the middle of the body, too.
    middle = BODY.replace("\n\nSurgery", "\n\nA new paragraph.\n\nSurgery")
    change = diff_pages(make_page(), make_page(middle))
    assert change is not None
    assert (change.chars_added, change.chars_removed) == (len("A new paragraph.\n\n"), 0)


def test_footnote_added_renumbers_without_counting_the_others() -> None:
    after = make_page(footnotes=("Smith 2020. PMID: 1", "New 2023.", "Jones 2021. PMID: 2"))
    change = diff_pages(make_page(), after)
    assert change is not None and change.change == "modified"
    assert (change.footnotes_added, change.footnotes_removed) == (1, 0)
    assert (change.title_changed, change.body_changed) == (False, False)
    assert (change.chars_added, change.chars_removed) == (0, 0)


def test_footnote_removed() -> None:
    change = diff_pages(make_page(), make_page(footnotes=("Jones 2021. PMID: 2",)))
    assert change is not None
    assert (change.footnotes_added, change.footnotes_removed) == (0, 1)


def test_duplicate_footnote_texts_count_as_a_multiset() -> None:
    before = make_page(footnotes=("Same.", "Other."))
    change = diff_pages(before, make_page(footnotes=("Same.", "Same.", "Other.")))
    assert change is not None
    assert (change.footnotes_added, change.footnotes_removed) == (1, 0)


def test_footnotes_renumbered_only_is_no_change() -> None:
    before = make_page(footnotes=("A.", "B."), numbers=(1, 2))
    swapped = make_page(footnotes=("B.", "A."), numbers=(1, 2))
    renumbered = make_page(footnotes=("A.", "B."), numbers=(3, 4))
    assert diff_pages(before, swapped) is None
    assert diff_pages(before, renumbered) is None
    # With a new date it is a change, but still no footnote added or removed.
    change = diff_pages(before, dataclasses.replace(swapped, last_modified="2024-04-01T00:00:00"))
    assert change is not None
    assert (change.footnotes_added, change.footnotes_removed) == (0, 0)


def test_title_change() -> None:
    change = diff_pages(make_page(), make_page(title="Lumbar disc herniation"))
    assert change is not None and change.change == "modified"
    assert (change.title_changed, change.body_changed) == (True, False)
    assert (change.chars_added, change.chars_removed) == (0, 0)


def test_date_only_change() -> None:
    change = diff_pages(make_page(), make_page(last_modified="2024-05-02T08:00:00"))
    assert change == PageChange(
        page_id="spine:disc_herniation",
        change="modified",
        title_changed=False,
        body_changed=False,
        footnotes_added=0,
        footnotes_removed=0,
        last_modified_before=DATE,
        last_modified_after="2024-05-02T08:00:00",
        chars_added=0,
        chars_removed=0,
    )
    # A date that could not be read before is a change too.
    change = diff_pages(make_page(last_modified=None), make_page())
    assert change is not None and change.last_modified_before is None


def test_whitespace_reflow_counts_small() -> None:
    before = "alpha beta gamma delta epsilon zeta eta theta"
    assert body_delta(before, before.replace("gamma ", "gamma\n")) == (1, 1)
    assert body_delta("one\n\ntwo", "one\n\n\ntwo") == (1, 0)  # a blank line more


def _big_body(seed: int) -> str:
    """About 250 KB of distinct paragraphs separated by blank lines."""
    paragraphs = [
        f"Paragraph {seed}-{i}: " + " ".join(f"word{seed}x{i}x{j}" for j in range(8))
        for i in range(2_200)
    ]
    return "\n\n".join(paragraphs)


def test_big_body_small_edit_is_fast_and_precise() -> None:
    body = _big_body(1)
    assert len(body) > 250_000
    middle = len(body) // 2
    edited = body[:middle] + "Z" + body[middle + 1:]
    start = time.perf_counter()
    change = diff_pages(make_page(body), make_page(edited))
    elapsed = time.perf_counter() - start
    assert change is not None
    assert (change.chars_added, change.chars_removed) == (1, 1)
    assert elapsed < 5  # a sanity bound against quadratic matching, not a benchmark


def test_big_body_rewrite_is_fast() -> None:
    before, after = _big_body(1), _big_body(2)
    one_line = before.replace("\n\n", " ")  # one huge paragraph, rewritten
    start = time.perf_counter()
    added, removed = body_delta(before, after)
    line_added, line_removed = body_delta(one_line, one_line.replace("word1", "word2"))
    elapsed = time.perf_counter() - start
    assert 0 < added <= len(after) and 0 < removed <= len(before)
    assert 0 < line_added <= len(one_line) and 0 < line_removed <= len(one_line)
    assert elapsed < 5


def test_repeated_lines_stay_fast() -> None:
    before = "}\n" * 20_000
    after = "}\n" * 10_000 + "x\n" + "}\n" * 10_000
    start = time.perf_counter()
    assert body_delta(before, after) == (2, 0)
    assert body_delta("a\n" * 20_000, "a\nb\n" * 10_000)[0] > 0
    assert time.perf_counter() - start < 5


def test_unified_diff_of_a_modified_page() -> None:
    before = make_page()
    after = make_page(
        BODY.replace("cat", "cot"),
        title="Lumbar disc herniation",
        footnotes=("Smith 2020. PMID: 1", "Jones 2021. PMID: 2", "New 2023."),
    )
    text = unified_diff(before, after)
    lines = text.splitlines()
    assert lines[:2] == [
        "--- spine:disc_herniation (before)",
        "+++ spine:disc_herniation (after)",
    ]
    assert "-# Disc herniation" in lines and "+# Lumbar disc herniation" in lines
    assert "-The cat sat on the mat." in lines and "+The cot sat on the mat." in lines
    assert "+[3] New 2023." in lines
    assert " [1] Smith 2020. PMID: 1" in lines  # context line
    assert text.endswith("\n")


def test_unified_diff_identical_and_missing_pages() -> None:
    page = make_page()
    assert unified_diff(page, page) == ""
    assert unified_diff(None, None) == ""
    assert unified_diff(page, dataclasses.replace(page, links=(Link("x", "page", "x"),))) == ""


def test_unified_diff_of_an_added_page_is_all_additions() -> None:
    text = unified_diff(None, make_page())
    lines = text.splitlines()
    assert lines[0] == "--- spine:disc_herniation (before)"
    body = lines[3:]  # after the two headers and the @@ line
    assert body[:3] == ["+# Disc herniation", "+", "+Disc herniation"]
    assert body[-2:] == ["+[1] Smith 2020. PMID: 1", "+[2] Jones 2021. PMID: 2"]
    assert all(line.startswith("+") for line in body)
    removed = unified_diff(make_page(), None).splitlines()
    assert all(line.startswith("-") for line in removed[3:])


def test_unified_diff_context() -> None:
    body = "\n\n".join(f"Line {i}" for i in range(20))
    text = unified_diff(make_page(body), make_page(body.replace("Line 10", "Line ten")),
                        context=0)
    assert [line for line in text.splitlines() if line[:1] in "+- "] == [
        "--- spine:disc_herniation (before)",
        "+++ spine:disc_herniation (after)",
        "-Line 10",
        "+Line ten",
    ]

"""The README's query examples, run as written against a real crawl history.

Every fenced block tagged ```` ```python readme-example NAME ```` is taken from README.md
(or, until the section is pasted there, from tests/readme_examples.md), run with Python in
a folder where ``neurosurgerywiki`` is the crawl's output, and what it prints is compared
with values computed from the corpus sources and the edits (tests/corpus_expect.py), never
from the crawler's output.

History: the session's history (tests/conftest.py), a fresh wiki crawled, edited
(tests/edits.py) and crawled again, so "the latest crawl" has changes to show.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from corpus_expect import (
    CORPUS_DIR,
    ExpectedFootnote,
    expected_by_id,
    footnotes,
    internal_links,
    namespace_of,
)
from edits import DELETED, HISTORY_CHANGES

ROOT = Path(__file__).resolve().parent.parent
SOURCES = [ROOT / "README.md", ROOT / "tests" / "readme_examples.md"]
MARKER = "```python readme-example"
BLOCK = re.compile(r"^```python readme-example (\S+)\n(.*?)^```$", re.MULTILINE | re.DOTALL)
OUT_NAME = "neurosurgerywiki"  # the folder the examples read, as in the README's set-up


def example_source() -> Path:
    """README.md once the section is there, else the file it is drafted in."""
    for path in SOURCES:
        if path.exists() and MARKER in path.read_text(encoding="utf-8"):
            return path
    raise AssertionError(f"no {MARKER!r} block in {', '.join(map(str, SOURCES))}")


def examples() -> dict[str, str]:
    found = BLOCK.findall(example_source().read_text(encoding="utf-8"))
    names = [name for name, _ in found]
    assert len(names) == len(set(names)), f"example names repeat: {names}"
    return dict(found)


@pytest.fixture(scope="module")
def work(history, tmp_path_factory):
    """A folder where ``neurosurgerywiki`` is the shared history's output (read-only)."""
    folder = tmp_path_factory.mktemp("readme")
    (folder / OUT_NAME).symlink_to(history.out, target_is_directory=True)
    return folder


@pytest.fixture(scope="module")
def corpus(history):
    """What the tables must hold, from the sources: per current page its markup, footnotes,
    namespace and red links (links to pages that do not exist as of the latest crawl)."""
    edited = history.sources
    manifest = expected_by_id()
    before = set(manifest)
    added = {page_id for page_id, change in HISTORY_CHANGES.items() if change == "added"}
    after = (before - {DELETED}) | added
    pages = {}
    for page_id in sorted(after):
        if page_id in edited:  # fetched again after the edits
            markup = edited[page_id]
        else:  # carried over from the first crawl's capture
            markup = (CORPUS_DIR / manifest[page_id].file).read_text(encoding="utf-8")
        pages[page_id] = {
            "namespace": namespace_of(page_id),
            "footnotes": footnotes(markup),
            "red": set(internal_links(markup, page_id)) - after,
        }
    old = {
        page_id: footnotes((CORPUS_DIR / manifest[page_id].file).read_text(encoding="utf-8"))
        for page_id in manifest
    }
    return {"pages": pages, "old_footnotes": old, "edited": edited}


def run_example(name: str, work: Path) -> list[str]:
    code = examples()[name]
    result = subprocess.run(
        [sys.executable, "-W", "error", "-c", code],
        cwd=work,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, f"example {name} failed:\n{result.stderr[-3000:]}"
    lines = result.stdout.splitlines()
    assert lines, f"example {name} printed nothing"
    return lines


def test_every_example_is_checked():
    assert set(examples()) == {
        "top_pmids",
        "latest_changes",
        "footnotes_per_namespace",
        "red_links",
    }


def test_top_pmids(work, corpus):
    pages_citing = Counter(
        pmid
        for page in corpus["pages"].values()
        for pmid in {note.pmid for note in page["footnotes"] if note.pmid}
    )
    want = sorted(pages_citing.items(), key=lambda item: (-item[1], item[0]))[:5]
    got = [tuple(line.split()) for line in run_example("top_pmids", work)]
    assert got == [(pmid, str(n)) for pmid, n in want]
    assert ("1234567", "1") in got  # cited by a page added between the crawls


def _texts(notes: list[ExpectedFootnote]) -> Counter:
    return Counter(note.text for note in notes)


def test_latest_changes(work, corpus):
    want = []
    for page_id in corpus["edited"]:
        new = _texts(corpus["pages"][page_id]["footnotes"])
        if HISTORY_CHANGES[page_id] == "added":
            change, old = "added", Counter()
        else:
            change, old = "modified", _texts(corpus["old_footnotes"][page_id])
        added, removed = sum((new - old).values()), sum((old - new).values())
        want.append((change, page_id, f"+{added}/-{removed}"))
    want.append(("removed", DELETED, f"+0/-{len(corpus['old_footnotes'][DELETED])}"))
    got = [tuple(line.split()) for line in run_example("latest_changes", work)]
    assert got == sorted(want)
    assert ("modified", "stroke", "+1/-0") in got


def test_footnotes_per_namespace(work, corpus):
    counts, with_pmid = Counter(), Counter()
    for page in corpus["pages"].values():
        name = page["namespace"] or "(root)"
        counts[name] += len(page["footnotes"])
        with_pmid[name] += sum(1 for note in page["footnotes"] if note.pmid)
    lines = run_example("footnotes_per_namespace", work)
    assert lines[0].split() == ["footnotes", "with_pmid"]
    assert lines[1].split() == ["namespace"]
    got = [line.split() for line in lines[2:]]
    assert {ns: (int(n), int(p)) for ns, n, p in got} == {
        ns: (n, with_pmid[ns]) for ns, n in counts.items() if n
    }
    order = [int(n) for _, n, _ in got]
    assert order == sorted(order, reverse=True)


def test_red_links(work, corpus):
    red = {page_id: page["red"] for page_id, page in corpus["pages"].items() if page["red"]}
    want = sorted(red.items(), key=lambda item: (-len(item[1]), item[0]))[:5]
    got = [line.split() for line in run_example("red_links", work)]
    assert got == [[page_id, str(len(targets)), *sorted(targets)] for page_id, targets in want]
    # seizure links oncology:meningioma, deleted since: red, though fetched again or not
    assert "oncology:meningioma" in red["seizure"]

"""Edits made to a served test wiki between two crawls, and what they change.

``edit_for_history`` is what the shared history (tests/conftest.py, ``history``) does
between its crawls: every kind of change a crawl must notice, on one real DokuWiki. A
footnote gained, a body edit, a one-letter typo fix saved as a minor edit, a retitled page
with a new sentence and footnote, pages added, one deleted, and a new page and an edit
whose text carries HTML and script (the report must show it as text). ``edit_wiki`` is
the smaller set test modules used before the history was shared; it is kept as it was.

Expected values come from these sources (and tests/corpus_expect.py), never from the
crawler's output.
"""

from __future__ import annotations

from datetime import UTC, datetime

from corpus_expect import CORPUS_DIR, expected_by_id
from wikibed import DokuWikiBed

GAINS_FOOTNOTE = "stroke"
BODY_EDIT = "hypothermia"
TYPO_FIX = "seizure"
ADDED = ["vascular:moyamoya", "spine:new_fusion_technique"]
DELETED = "oncology:meningioma"

RETITLED = "magnesium"
NEW_TITLE = "Magnesium (revised)"
NEW_SENTENCE = "Magnesium replacement is routine on the ward."
NEW_FOOTNOTE = "Doe J. Magnesium revisited. PubMed PMID: 12345678."

HOSTILE_PAGE = "hostile"
HOSTILE_TITLE = '<script>alert("title")</script> & <em>stressed</em>'
HOSTILE_NOTE = "Evil <img src=x onerror=alert(1)> et al. PMID: 7654321."
HOSTILE_EDIT = "glasgow_coma_scale"
HOSTILE_LINE = "Injected <script>alert(2)</script> and <iframe src=x></iframe> here."

# What the shared history's second crawl must report, page by page.
HISTORY_CHANGES = {
    GAINS_FOOTNOTE: "modified",
    BODY_EDIT: "modified",
    TYPO_FIX: "modified",
    RETITLED: "modified",
    HOSTILE_EDIT: "modified",
    ADDED[0]: "added",
    ADDED[1]: "added",
    HOSTILE_PAGE: "added",
    DELETED: "removed",
}


def source(page_id: str) -> str:
    """The corpus markup of a page, as the wiki served it before any edit."""
    manifest = expected_by_id()
    return (CORPUS_DIR / manifest[page_id].file).read_text(encoding="utf-8")


def small_edits() -> dict[str, str]:
    """New sources of the pages ``edit_wiki`` writes: a footnote gained, a sentence
    added, a one-letter typo fix, two new pages."""
    new = {}
    text = source(GAINS_FOOTNOTE)
    first_period = text.index(".", text.index("\n", text.index("======") + 6))
    new[GAINS_FOOTNOTE] = (
        text[:first_period]
        + "((Feigin VL et al. Global burden of stroke. PubMed PMID: 33813542.))"
        + text[first_period:]
    )
    new[BODY_EDIT] = source(BODY_EDIT) + "\nTargeted temperature management is debated.\n"
    text = source(TYPO_FIX)
    index = next(i for i, c in enumerate(text) if c == "e" and i > text.index("======") + 40)
    new[TYPO_FIX] = text[:index] + "a" + text[index + 1 :]
    new[ADDED[0]] = "====== Moyamoya disease ======\nA rare [[stroke]] cause((PMID: 1234567.)).\n"
    new[ADDED[1]] = "====== New fusion technique ======\nNothing links here yet.\n"
    return new


def retitled_source() -> str:
    """The retitled page: new first heading, a new last sentence with a new footnote."""
    text = source(RETITLED)
    assert text.startswith("====== Magnesium ======\n")
    text = text.replace("====== Magnesium ======", f"====== {NEW_TITLE} ======", 1)
    return text + f"\n{NEW_SENTENCE}(({NEW_FOOTNOTE}))\n"


def hostile_sources() -> dict[str, str]:
    """A new page and an edit whose text is HTML and script, which DokuWiki shows as text."""
    return {
        HOSTILE_PAGE: f"====== {HOSTILE_TITLE} ======\nText(({HOSTILE_NOTE})).\n",
        HOSTILE_EDIT: source(HOSTILE_EDIT) + f"\n{HOSTILE_LINE}\n",
    }


def edit_wiki(bed: DokuWikiBed) -> dict[str, str]:
    """Really edit the served wiki (three pages modified, two added, one deleted);
    returns the new sources."""
    now = datetime.now(UTC)
    new = small_edits()
    for page_id, text in new.items():
        minor = page_id == TYPO_FIX
        bed.write_page(page_id, text, when=now, summary="test edit", minor=minor)
    bed.delete_page(DELETED, when=now)
    bed.reindex()
    return new


def edit_for_history(bed: DokuWikiBed) -> dict[str, str]:
    """Every edit of ``HISTORY_CHANGES``; returns the new sources of the pages written
    (the deleted page is not among them)."""
    now = datetime.now(UTC)
    extra = {**hostile_sources(), RETITLED: retitled_source()}
    for page_id, text in extra.items():
        bed.write_page(page_id, text, when=now, summary="test edit")
    return {**extra, **edit_wiki(bed)}

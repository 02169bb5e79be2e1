"""A small DokuWiki whose pages have a history written with chosen dates and authors.

Every revision is written offline (tests/wikibed.py) as DokuWiki itself would have saved
it, and recorded here as the test's expectation: page, time, kind, author, summary, text.
Shapes covered: several edits with a footnote added, a minor edit, a revert (DokuWiki's
R line and summary), a page deleted and created again, a page deleted for good, a
revision whose attic copy was pruned, an external edit (the page file changed behind
DokuWiki's back), two revisions within one minute, and a page with more revisions than
one screen of the revision list (20).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from wikibed import CHANGELOG_IP, DokuWikiBed


@dataclass(frozen=True)
class Written:
    page_id: str
    when: datetime
    kind: str  # as the revisions table should say
    author: str  # as the wiki shows it
    summary: str
    text: str | None  # None for a deletion

    @property
    def revision(self) -> int:
        return int(self.when.timestamp())


def at(year: int, month: int, day: int, hour: int = 12, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


GUIDELINE_R1 = "====== Nimodipine ======\nNimodipine is given after [[sah]].\n"
GUIDELINE_R2 = (
    "====== Nimodipine ======\nNimodipine is given after [[sah]] for 21 days"
    "((Pickard JD. Oral nimodipine. BMJ 1989. PubMed PMID: 2496789.)).\n"
)
GUIDELINE_R3 = GUIDELINE_R2.replace("given after", "given orally after")
GUIDELINE_R4 = GUIDELINE_R3 + "\nIt is also given for migraine.\n"
BUSY_REVISIONS = 25
PRUNED = "pruned"
PRUNED_WHEN = at(2018, 6, 1)
QUICK_FIRST = datetime(2021, 1, 1, 10, 0, 10, tzinfo=UTC)


class HistoryWiki:
    """The bed and what was written to it, oldest first per page."""

    def __init__(self, root: Path):
        self.bed = DokuWikiBed(root)
        self.written: list[Written] = []

    def write(self, page_id: str, text: str, when: datetime, *, kind: str, user: str = "",
              summary: str = "", minor: bool = False) -> None:
        self.bed.write_page(page_id, text, when=when, summary=summary, user=user, minor=minor)
        self.written.append(Written(page_id, when, kind, user or CHANGELOG_IP, summary, text))

    def revert(self, page_id: str, to: datetime, when: datetime, *, user: str) -> None:
        self.bed.revert_page(page_id, to, when=when, user=user)
        old = next(w for w in self.written if w.page_id == page_id and w.when == to)
        summary = f"old revision restored ({to:%Y/%m/%d %H:%M})"
        self.written.append(Written(page_id, when, "reverted", user, summary, old.text))

    def delete(self, page_id: str, when: datetime, *, user: str) -> None:
        self.bed.delete_page(page_id, when=when, summary="removed", user=user)
        self.written.append(Written(page_id, when, "deleted", user, "removed", None))

    def revisions(self, page_id: str) -> list[Written]:
        return sorted((w for w in self.written if w.page_id == page_id), key=lambda w: w.when)

    def build(self) -> HistoryWiki:
        g = "guideline"
        self.write(g, GUIDELINE_R1, at(2019, 1, 10), kind="created", user="alice",
                   summary="first draft")
        self.write(g, GUIDELINE_R2, at(2020, 3, 5), kind="edited", user="bob",
                   summary="dosing and its trial")
        self.write(g, GUIDELINE_R3, at(2020, 3, 6, 9, 30), kind="minor", user="alice",
                   summary="wording", minor=True)
        self.write(g, GUIDELINE_R4, at(2021, 7, 1), kind="edited", user="mallory",
                   summary="migraine")
        self.revert(g, at(2020, 3, 6, 9, 30), at(2021, 7, 2), user="alice")

        p = "old_protocol"
        self.write(p, "====== Old protocol ======\nFirst version.\n", at(2018, 2, 1),
                   kind="created", user="carol", summary="created")
        self.delete(p, at(2019, 2, 1), user="carol")
        self.write(p, "====== New protocol ======\nWritten again.\n", at(2022, 5, 5),
                   kind="created", user="dave", summary="created again")

        r = "retired"
        self.write(r, "====== Retired ======\nNo longer used.\n", at(2016, 4, 4),
                   kind="created", user="carol", summary="created")
        self.delete(r, at(2020, 4, 4), user="carol")

        self.write(PRUNED, "====== Pruned ======\nOne.\n", at(2017, 6, 1), kind="created",
                   user="erin", summary="one")
        self.write(PRUNED, "====== Pruned ======\nOne. Two.\n", PRUNED_WHEN, kind="edited",
                   user="erin", summary="two")
        self.write(PRUNED, "====== Pruned ======\nOne. Two. Three.\n", at(2019, 6, 1),
                   kind="edited", user="erin", summary="three")
        self.bed.prune_attic(PRUNED, PRUNED_WHEN)

        x = "external"
        self.write(x, "====== External ======\nSaved in the wiki.\n", at(2019, 9, 9),
                   kind="created", user="erin", summary="created")
        text, when = "====== External ======\nChanged on the server.\n", at(2020, 9, 9)
        self.bed.external_edit(x, text, when=when)
        self.written.append(Written(x, when, "external", CHANGELOG_IP, "external edit", text))

        # Two revisions shown with the same minute: their dates cannot tell them apart.
        q = "quick"
        self.write(q, "====== Quick ======\nFirst.\n", QUICK_FIRST, kind="created",
                   user="erin", summary="first")
        self.write(q, "====== Quick ======\nFirst, then second.\n",
                   QUICK_FIRST + timedelta(seconds=30), kind="edited", user="erin",
                   summary="second")

        for i in range(BUSY_REVISIONS):
            self.write("busy", f"====== Busy ======\nEdit number {i}.\n",
                       at(2015, 1, 1) + timedelta(days=i), kind="created" if i == 0 else "edited",
                       user="frank", summary=f"edit {i}")

        links = "\n".join(f"  * [[{p}]]" for p in ("guideline", "old_protocol", PRUNED, "busy",
                                                   "external", "quick"))
        self.write("start", f"====== Start ======\n{links}\n", at(2023, 1, 1), kind="created",
                   summary="start")
        self.bed.reindex()
        self.bed.start()
        return self

"""Incremental crawls catch every edit the wiki publishes, backdated and external ones too.

One real wiki, crawled five times: a full crawl; edits dated before it (as imports,
restores and external edits are) and a page file changed on disk with no changelog line;
a crawl of the unchanged wiki; an edit while DokuWiki's feed and sitemap caches are warm;
a crawl once they have expired.
"""

from __future__ import annotations

import csv
import io
import json
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from helpers import corpus_wiki
from test_incremental import article_requests, crawl_id_of, crawl_once, requested, source, table

BACKDATED = datetime(2025, 2, 3, 9, 30, tzinfo=UTC)  # after every corpus date, before today
EXTERNAL = datetime(2025, 3, 1, 0, 0, tzinfo=UTC)
EDITED = {"magnesium": "Magnesium was reviewed again.", "stroke": "Stroke units save lives."}
DELETED = "hypothermia"  # linked from cerebral_ischemia, which is not edited
EXTERNALLY_EDITED = "seizure"
WARM_EDIT = "glasgow_coma_scale"


def snapshot(out: Path) -> dict[str, tuple[int, bytes]]:
    """Every file of the tables and the CDXJ index: (mtime in ns, bytes)."""
    files = [*sorted((out / "tables").iterdir()), out / "indexes" / "index.cdxj"]
    return {f"{p.parent.name}/{p.name}": (p.stat().st_mtime_ns, p.read_bytes()) for p in files}


def csv_rows(data: bytes) -> list[tuple[str, ...]]:
    csv.field_size_limit(1 << 30)  # a page's body text is one cell
    return [tuple(row) for row in csv.reader(io.StringIO(data.decode("utf-8"), newline=""))]


def requests_of(out: Path, crawl_id: str) -> list[str]:
    """What each request of a crawl asked for: robots, feed, sitemap, index or article."""
    kinds = []
    for path, query in requested(out, crawl_id):
        if path.endswith("robots.txt"):
            kinds.append("robots")
        elif path.endswith("feed.php"):
            kinds.append("feed")
        elif query.get("do") == ["sitemap"]:
            kinds.append("sitemap")
        elif query.get("do") == ["index"] or "idx" in query:
            kinds.append("index")
        else:
            kinds.append("article")
    return kinds


@pytest.fixture(scope="module")
def crawls(tmp_path_factory):
    bed = corpus_wiki(tmp_path_factory.mktemp("evidence-wiki"))
    out = tmp_path_factory.mktemp("evidence") / "out"
    summary = out.parent / "summary.json"
    try:
        full = crawl_once(bed, out)
        time.sleep(1.1)  # DokuWiki compares whole seconds
        for page_id, line in EDITED.items():
            bed.write_page(page_id, source(page_id) + f"\n{line}\n", when=BACKDATED,
                           summary="restored from the old server")
        bed.delete_page(DELETED, when=BACKDATED)
        bed.external_edit(EXTERNALLY_EDITED, source(EXTERNALLY_EDITED) + "\nSynced.\n",
                          when=EXTERNAL)
        bed.reindex()
        backdated = crawl_once(bed, out, "--summary-json", str(summary))
        plan = json.loads(summary.read_text())
        after_backdated = {name: table(out, name) for name in ("pages", "changes", "links")}
        before_unchanged = snapshot(out)
        unchanged = crawl_once(bed, out)
        after_unchanged = snapshot(out)
        time.sleep(1.1)
        bed.write_page(WARM_EDIT, source(WARM_EDIT) + "\nA warm edit.\n",
                       when=datetime.now(UTC), refresh_caches=False)
        time.sleep(1.1)
        warm = crawl_once(bed, out)
        before_expired = snapshot(out)
        bed.refresh_caches()  # as the feed cache's age (rss_update) runs out
        time.sleep(1.1)
        expired = crawl_once(bed, out)
        after_expired = snapshot(out)
        yield {
            "out": out,
            "ids": [crawl_id_of(r) for r in (full, backdated, unchanged, warm, expired)],
            "plan": plan,
            "after_backdated": after_backdated,
            "unchanged": (before_unchanged, after_unchanged),
            "expired": (before_expired, after_expired),
        }
    finally:
        bed.stop()


def test_backdated_and_external_edits_are_fetched(crawls):
    fetched = article_requests(crawls["out"], crawls["ids"][1])
    assert sorted(fetched) == sorted([*EDITED, DELETED, EXTERNALLY_EDITED])


def test_their_changes_are_recorded(crawls):
    changes = crawls["after_backdated"]["changes"]
    mine = changes[changes.to_crawl_id == crawls["ids"][1]].set_index("page_id")
    assert mine.change.to_dict() == {
        "magnesium": "modified", "stroke": "modified", DELETED: "removed",
        EXTERNALLY_EDITED: "modified",
    }
    pages = crawls["after_backdated"]["pages"].set_index("page_id")
    for page_id, line in EDITED.items():
        assert line in pages.loc[page_id].body_text
        assert pages.loc[page_id].last_modified == BACKDATED.replace(tzinfo=None)
    assert "Synced." in pages.loc[EXTERNALLY_EDITED].body_text
    assert pages.loc[EXTERNALLY_EDITED].last_modified == EXTERNAL.replace(tzinfo=None)


def test_links_to_a_removed_page_say_so(crawls):
    links = crawls["after_backdated"]["links"]
    mine = links[(links.page_id == "cerebral_ischemia") & (links.target == DELETED)]
    assert len(mine) >= 1 and set(mine.kind) == {"missing_page"}


def test_the_plan_says_why_each_page_was_fetched(crawls):
    reasons = crawls["plan"]["plan_reasons"]
    assert reasons["feed date"] == 3  # the two edits and the deletion, dated in the past
    assert reasons["sitemap date"] >= 1  # the external edit (and the backdated ones)
    assert reasons["gone from index"] == 1
    assert "feed" not in reasons  # none of them is newer than the previous crawl


def test_an_unchanged_wiki_costs_only_its_feed_index_and_sitemap(crawls):
    kinds = requests_of(crawls["out"], crawls["ids"][2])
    assert "article" not in kinds
    assert set(kinds) == {"robots", "feed", "index", "sitemap"}


def test_an_edit_behind_a_warm_cache_is_caught_once_the_cache_expires(crawls):
    out, ids = crawls["out"], crawls["ids"]
    assert article_requests(out, ids[3]) == []  # the wiki's cached feed does not show it
    assert article_requests(out, ids[4]) == [WARM_EDIT]
    changes = table(out, "changes")
    assert list(changes[changes.to_crawl_id == ids[4]].page_id) == [WARM_EDIT]
    # The crawls that found nothing to fetch are not in the tables, only in the catalog.
    crawl_rows = table(out, "crawls")
    assert list(crawl_rows.crawl_id) == [ids[0], ids[1], ids[4]]
    assert list(crawl_rows.outcome) == ["finished"] * 3


def test_a_crawl_that_changed_nothing_rewrites_nothing(crawls):
    before, after = crawls["unchanged"]
    assert after.keys() == before.keys()
    for name in before:
        assert after[name] == before[name], name  # same bytes, same mtime


def test_a_one_page_edit_rewrites_the_tables_with_exactly_that_change(crawls):
    before, after = crawls["expired"]
    crawl_id = crawls["ids"][4]
    changed = {name for name in before if after[name] != before[name]}
    # The page's rows, its new version and change, the crawl; its links and citations
    # (they name the crawl that captured the page); the index gains the crawl's records.
    assert {"tables/pages.csv", "tables/changes.csv", "tables/page_versions.csv",
            "tables/crawls.csv", "indexes/index.cdxj"} <= changed
    assert "tables/errors.csv" not in changed and "tables/datapackage.json" not in changed
    for name in sorted(changed):
        if not name.endswith(".csv"):
            continue
        old, new = set(csv_rows(before[name][1])), set(csv_rows(after[name][1]))
        for row in old ^ new:
            assert WARM_EDIT in row or crawl_id in row, (name, row)
    for name in set(before) - changed:
        assert after[name][0] == before[name][0], name  # not even touched

"""Incremental crawls catch every edit the wiki publishes, backdated and external ones too.

One real wiki, crawled five times: a full crawl; edits dated before it (as imports,
restores and external edits are) and a page file changed on disk with no changelog line;
a crawl of the unchanged wiki; an edit while DokuWiki's feed and sitemap caches are warm;
a crawl once they have expired.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from helpers import corpus_wiki
from test_incremental import article_requests, crawl_id_of, crawl_once, files_of, source, table
from warcio.archiveiterator import ArchiveIterator

BACKDATED = datetime(2025, 2, 3, 9, 30, tzinfo=UTC)  # after every corpus date, before today
EXTERNAL = datetime(2025, 3, 1, 0, 0, tzinfo=UTC)
EDITED = {"magnesium": "Magnesium was reviewed again.", "stroke": "Stroke units save lives."}
DELETED = "hypothermia"  # linked from cerebral_ischemia, which is not edited
EXTERNALLY_EDITED = "seizure"
WARM_EDIT = "glasgow_coma_scale"


def requests_of(out: Path, crawl_id: str) -> list[str]:
    """What each request of a crawl asked for: robots, feed, sitemap, index or article."""
    kinds = []
    for path in files_of(out, crawl_id):
        with open(path, "rb") as stream:
            for record in ArchiveIterator(stream):
                if record.rec_type != "request":
                    continue
                parts = urlsplit(record.rec_headers.get_header("WARC-Target-URI"))
                query = parse_qs(parts.query)
                if parts.path.endswith("robots.txt"):
                    kinds.append("robots")
                elif parts.path.endswith("feed.php"):
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
        unchanged = crawl_once(bed, out)
        time.sleep(1.1)
        bed.write_page(WARM_EDIT, source(WARM_EDIT) + "\nA warm edit.\n",
                       when=datetime.now(UTC), refresh_caches=False)
        time.sleep(1.1)
        warm = crawl_once(bed, out)
        bed.refresh_caches()  # as the feed cache's age (rss_update) runs out
        time.sleep(1.1)
        expired = crawl_once(bed, out)
        yield {
            "out": out,
            "ids": [crawl_id_of(r) for r in (full, backdated, unchanged, warm, expired)],
            "plan": plan,
            "after_backdated": after_backdated,
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
    crawl_rows = table(out, "crawls").set_index("crawl_id")
    assert list(crawl_rows.outcome) == ["finished"] * 5

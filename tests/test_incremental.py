"""Scheduled crawls on a really edited wiki: fetch only what changed, say what changed.

Crawl a fresh test wiki; edit it (three pages modified, two added, one deleted);
crawl again; crawl once more without edits; then a --full recrawl.
"""

from __future__ import annotations

import csv
import io
import json
import re
import sqlite3
import subprocess
import time
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pandas as pd
import pytest
from corpus_expect import CORPUS_DIR, expected_by_id
from helpers import FAST, corpus_wiki, warcio_check, wikiarchive
from warcio.archiveiterator import ArchiveIterator
from wikibed import DokuWikiBed

from archive.reader import read_warcinfo

GAINS_FOOTNOTE = "stroke"
BODY_EDIT = "hypothermia"
TYPO_FIX = "seizure"
ADDED = ["vascular:moyamoya", "spine:new_fusion_technique"]
DELETED = "oncology:meningioma"


def source(page_id: str) -> str:
    manifest = expected_by_id()
    return (CORPUS_DIR / manifest[page_id].file).read_text(encoding="utf-8")


def edit_wiki(bed: DokuWikiBed) -> dict[str, str]:
    """Really edit the served wiki; returns the new sources."""
    now = datetime.now(UTC)
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
    for page_id, text in new.items():
        minor = page_id == TYPO_FIX
        bed.write_page(page_id, text, when=now, summary="test edit", minor=minor)
    bed.delete_page(DELETED, when=now)
    bed.reindex()
    return new


def crawl_once(bed: DokuWikiBed, out: Path, *options: str) -> subprocess.CompletedProcess:
    result = wikiarchive("crawl", bed.base_url, "--out", str(out), *FAST, *options)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def crawl_id_of(result: subprocess.CompletedProcess) -> str:
    return result.stdout.split()[1]


def files_of(out: Path, crawl_id: str) -> list[Path]:
    return [
        p
        for p in sorted((out / "warc").glob("*.warc.gz"))
        if read_warcinfo(p).get("wikiarchive-crawl-id") == crawl_id
    ]


def article_requests(out: Path, crawl_id: str) -> list[str]:
    """Page ids of the article requests a crawl made, read from its WARC files."""
    ids = []
    for path in files_of(out, crawl_id):
        with open(path, "rb") as stream:
            for record in ArchiveIterator(stream):
                if record.rec_type != "request":
                    continue
                parts = urlsplit(record.rec_headers.get_header("WARC-Target-URI"))
                query = parse_qs(parts.query)
                if parts.path.endswith("/doku.php") and set(query) == {"id"}:
                    ids.append(query["id"][0])
    return ids


def table(out: Path, name: str) -> pd.DataFrame:
    df = pd.read_parquet(out / "tables" / f"{name}.parquet")
    return df.astype(object).where(df.notna(), None)


@pytest.fixture(scope="module")
def history(tmp_path_factory):
    bed = corpus_wiki(tmp_path_factory.mktemp("editable"))
    out = tmp_path_factory.mktemp("history") / "out"
    try:
        first = crawl_once(bed, out)
        time.sleep(1.1)  # edits come after the crawl, as on a live wiki
        sources = edit_wiki(bed)
        time.sleep(1.1)
        second = crawl_once(bed, out)
        after_second = {name: table(out, name) for name in ("pages", "changes", "page_versions")}
        third = crawl_once(bed, out)
        fourth = crawl_once(bed, out, "--full")
        yield {
            "bed": bed,
            "out": out,
            "runs": [first, second, third, fourth],
            "ids": [crawl_id_of(r) for r in (first, second, third, fourth)],
            "sources": sources,
            "after_second": after_second,
        }
    finally:
        bed.stop()


def test_modes(history):
    modes = [r.stdout.split()[2] for r in history["runs"]]
    assert modes == ["(full):", "(incremental):", "(incremental):", "(full):"]


def test_second_crawl_fetched_only_new_changed_and_deleted_pages(history):
    fetched = article_requests(history["out"], history["ids"][1])
    assert sorted(fetched) == sorted([GAINS_FOOTNOTE, BODY_EDIT, TYPO_FIX, *ADDED, DELETED])


def test_change_set_is_exactly_the_six_pages(history):
    changes = history["after_second"]["changes"]
    mine = changes[changes.to_crawl_id == history["ids"][1]].set_index("page_id")
    assert set(mine.index) == {GAINS_FOOTNOTE, BODY_EDIT, TYPO_FIX, *ADDED, DELETED}
    assert set(mine.from_crawl_id) == {history["ids"][0]}
    kinds = mine.change.to_dict()
    assert kinds == {
        GAINS_FOOTNOTE: "modified",
        BODY_EDIT: "modified",
        TYPO_FIX: "modified",
        ADDED[0]: "added",
        ADDED[1]: "added",
        DELETED: "removed",
    }
    footnote = mine.loc[GAINS_FOOTNOTE]
    assert (footnote.footnotes_added, footnote.footnotes_removed) == (1, 0)
    assert not footnote.body_changed and not footnote.title_changed
    body = mine.loc[BODY_EDIT]
    assert body.body_changed and (body.footnotes_added, body.footnotes_removed) == (0, 0)
    assert body.chars_added >= len("Targeted temperature management is debated.")
    assert body.chars_removed == 0
    typo = mine.loc[TYPO_FIX]
    assert typo.body_changed and (typo.chars_added, typo.chars_removed) == (1, 1)
    for page_id in (GAINS_FOOTNOTE, BODY_EDIT, TYPO_FIX):
        row = mine.loc[page_id]
        assert row.last_modified_after > row.last_modified_before, page_id
    removed = mine.loc[DELETED]
    assert removed.last_modified_after is None and removed.last_modified_before is not None


def test_pages_table_lists_every_current_page(history):
    pages = history["after_second"]["pages"]
    expected = (set(expected_by_id()) - {DELETED}) | set(ADDED)
    assert set(pages.page_id) == expected
    by_id = pages.set_index("page_id")
    # carried pages keep the first crawl's capture; fetched ones point at the second's
    assert by_id.loc["magnesium"].crawl_id == history["ids"][0]
    assert by_id.loc[BODY_EDIT].crawl_id == history["ids"][1]
    assert "Targeted temperature management is debated." in by_id.loc[BODY_EDIT].body_text
    assert by_id.loc[ADDED[0]].title == "Moyamoya disease"


def test_page_versions_hold_both_versions_of_modified_pages(history):
    versions = history["after_second"]["page_versions"]
    for page_id in (GAINS_FOOTNOTE, BODY_EDIT, TYPO_FIX):
        mine = versions[versions.page_id == page_id].sort_values("version_id")
        assert len(mine) == 2, page_id
        assert mine.content_sha256.nunique() == 2
        assert list(mine.first_crawl_id) == history["ids"][:2]
    unchanged = versions[versions.page_id == "magnesium"]
    assert len(unchanged) == 1


def feed_exchanges(out: Path, crawl_id: str) -> list[tuple]:
    """(request headers, response status, response headers) of a crawl's recent-changes
    feed requests (not the media feed, tests/test_media.py)."""
    found, requests = {}, {}
    for path in files_of(out, crawl_id):
        with open(path, "rb") as stream:
            for record in ArchiveIterator(stream):
                uri = record.rec_headers.get_header("WARC-Target-URI") or ""
                if "/feed.php" not in uri or "view=media" in uri:
                    continue
                if record.rec_type == "request":
                    key = record.rec_headers.get_header("WARC-Concurrent-To")
                    requests[key] = record.http_headers
                else:
                    found[record.rec_headers.get_header("WARC-Record-ID")] = record.http_headers
    return [
        (requests[key], int(head.get_statuscode()), head) for key, head in found.items()
    ]


def test_third_crawl_without_edits_fetches_no_article(history):
    assert article_requests(history["out"], history["ids"][2]) == []
    # The feed was asked conditionally and answered 304 Not Modified.
    ((sent, status, got),) = feed_exchanges(history["out"], history["ids"][2])
    assert sent.get_header("If-None-Match") and sent.get_header("If-Modified-Since")
    if status != 304:
        # DokuWiki dates a fresh feed by the clock before writing its cache file and a
        # cached one by that file: when the two straddle a second, the validators differ.
        earlier = parsedate_to_datetime(sent.get_header("If-Modified-Since"))
        later = parsedate_to_datetime(got.get_header("Last-Modified"))
        assert (status, later - earlier) == (200, timedelta(seconds=1))
    changes = table(history["out"], "changes")
    assert not (changes.to_crawl_id == history["ids"][2]).any()


def test_full_recrawl_of_unchanged_wiki(history):
    out, full_id = history["out"], history["ids"][3]
    fetched = article_requests(out, full_id)
    current = (set(expected_by_id()) - {DELETED}) | set(ADDED)
    assert set(fetched) >= current
    changes = table(out, "changes")
    assert not (changes.to_crawl_id == full_id).any()
    revisits = 0
    for path in files_of(out, full_id):
        with open(path, "rb") as stream:
            revisits += sum(r.rec_type == "revisit" for r in ArchiveIterator(stream))
    assert revisits >= 1
    files = sorted((out / "warc").glob("*.warc.gz"))
    check = warcio_check(files)
    assert check.returncode == 0, check.stdout


def test_crawls_table_and_export_from_warcs_alone(history, tmp_path):
    out = history["out"]
    crawls = table(out, "crawls")
    # The third crawl found nothing to fetch: the catalog knows it, the tables do not.
    ids = history["ids"]
    assert list(crawls.crawl_id) == [ids[0], ids[1], ids[3]]
    assert list(crawls["mode"]) == ["full", "incremental", "full"]
    catalog = sqlite3.connect(out / "catalog.sqlite")
    assert [r[0] for r in catalog.execute("SELECT crawl_id FROM crawls ORDER BY seq")] == ids
    catalog.close()
    (tmp_path / "warc").symlink_to(out / "warc")
    result = wikiarchive("export", str(tmp_path))
    assert result.returncode == 0, result.stderr
    for name in ("pages", "changes", "page_versions", "crawls", "footnotes", "links"):
        for ext in ("csv", "parquet"):
            assert (tmp_path / "tables" / f"{name}.{ext}").read_bytes() == (
                out / "tables" / f"{name}.{ext}"
            ).read_bytes(), (name, ext)


def test_changes_command(history):
    out, ids = str(history["out"]), history["ids"]
    text = wikiarchive("changes", out, "--since", ids[0])
    assert text.returncode == 0, text.stderr
    assert f"Crawl {ids[1]} (since {ids[0]}): 2 added, 1 removed, 3 modified" in text.stdout
    assert re.search(rf"modified +{TYPO_FIX} +text \+1/-1 chars", text.stdout)
    assert re.search(rf"modified +{GAINS_FOOTNOTE} +footnotes \+1/-0", text.stdout)
    latest = wikiarchive("changes", out)  # the latest crawl (a no-op full recrawl)
    assert latest.returncode == 0 and latest.stdout.strip() == "No changes."
    as_csv = wikiarchive("changes", out, "--since", ids[0], "--format", "csv").stdout
    rows = list(csv.DictReader(io.StringIO(as_csv)))
    assert {r["page_id"] for r in rows} == {GAINS_FOOTNOTE, BODY_EDIT, TYPO_FIX, *ADDED, DELETED}
    assert {r["to_crawl_id"] for r in rows} == {ids[1]}
    as_json = json.loads(
        wikiarchive("changes", out, "--since", ids[0], "--format", "json").stdout
    )
    assert sorted(r["page_id"] for r in as_json) == sorted(r["page_id"] for r in rows)
    diff = wikiarchive("changes", out, "--diff", BODY_EDIT)
    assert diff.returncode == 0, diff.stderr
    assert f"--- {BODY_EDIT} (before)" in diff.stdout
    assert "+Targeted temperature management is debated." in diff.stdout
    unknown = wikiarchive("changes", out, "--since", "no-such-crawl")
    assert unknown.returncode == 1 and unknown.stderr.startswith("Error: no crawl")

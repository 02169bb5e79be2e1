"""Scheduled crawls on a really edited wiki: fetch only what changed, say what changed.

The session's history (tests/conftest.py): a fresh test wiki crawled, edited (tests/
edits.py: five pages modified, three added, one deleted) and crawled again. Here a copy
of it is crawled once more without edits, then with --full.
"""

from __future__ import annotations

import csv
import io
import json
import re
import sqlite3
from email.utils import parsedate_to_datetime
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pandas as pd
import pytest
from corpus_expect import expected_by_id, footnotes, page_title, parsed_markup
from edits import (  # noqa: F401 - edit_wiki and source: other test modules import them here
    ADDED,
    BODY_EDIT,
    DELETED,
    GAINS_FOOTNOTE,
    HISTORY_CHANGES,
    HOSTILE_EDIT,
    HOSTILE_PAGE,
    RETITLED,
    TYPO_FIX,
    edit_wiki,
    source,
)
from helpers import (  # noqa: F401 - crawl_once: other test modules import it here
    copy_output,
    crawl_id_of,
    crawl_once,
    served_page,
    warc_record_at,
    warcio_check,
    wikiarchive,
)
from warcio.archiveiterator import ArchiveIterator

from archive.reader import read_warcinfo

UNCHANGED = "traumatic_brain_injury"  # a page no edit touches


def files_of(out: Path, crawl_id: str) -> list[Path]:
    return [
        p
        for p in sorted((out / "warc").glob("*.warc.gz"))
        if read_warcinfo(p).get("wikiarchive-crawl-id") == crawl_id
    ]


def requested(out: Path, crawl_id: str) -> list[tuple[str, dict[str, list[str]]]]:
    """(path, query) of every request a crawl made, in order, read from its WARC files."""
    found = []
    for path in files_of(out, crawl_id):
        with open(path, "rb") as stream:
            for record in ArchiveIterator(stream):
                if record.rec_type == "request":
                    parts = urlsplit(record.rec_headers.get_header("WARC-Target-URI"))
                    found.append((parts.path, parse_qs(parts.query)))
    return found


def article_requests(out: Path, crawl_id: str) -> list[str]:
    """Page ids of the article requests a crawl made, read from its WARC files."""
    return [
        query["id"][0]
        for path, query in requested(out, crawl_id)
        if path.endswith("/doku.php") and set(query) == {"id"}
    ]


def table(out: Path, name: str) -> pd.DataFrame:
    df = pd.read_parquet(out / "tables" / f"{name}.parquet")
    return df.astype(object).where(df.notna(), None)


@pytest.fixture(scope="module")
def later(history, tmp_path_factory):
    """A copy of the history crawled a third time without edits, then a fourth with --full."""
    out = copy_output(history.out, tmp_path_factory.mktemp("later") / "out")
    third = crawl_once(history.bed, out)
    fourth = crawl_once(history.bed, out, "--full")
    runs = [*history.runs, third, fourth]
    return {"out": out, "runs": runs, "ids": [crawl_id_of(r) for r in runs]}


CURRENT = (set(expected_by_id()) - {DELETED}) | set(ADDED) | {HOSTILE_PAGE}


def test_modes(later):
    modes = [r.stdout.split()[2] for r in later["runs"]]
    assert modes == ["(full):", "(incremental):", "(incremental):", "(full):"]


def test_second_crawl_fetched_only_new_changed_and_deleted_pages(history):
    fetched = article_requests(history.out, history.ids[1])
    assert sorted(fetched) == sorted(HISTORY_CHANGES)


def test_change_set_is_exactly_the_edited_pages(history):
    changes = table(history.out, "changes")
    mine = changes[changes.to_crawl_id == history.ids[1]].set_index("page_id")
    assert set(mine.index) == set(HISTORY_CHANGES)
    assert set(mine.from_crawl_id) == {history.ids[0]}
    kinds = mine.change.to_dict()
    assert kinds == HISTORY_CHANGES
    footnote = mine.loc[GAINS_FOOTNOTE]
    assert (footnote.footnotes_added, footnote.footnotes_removed) == (1, 0)
    assert not footnote.body_changed and not footnote.title_changed
    body = mine.loc[BODY_EDIT]
    assert body.body_changed and (body.footnotes_added, body.footnotes_removed) == (0, 0)
    assert body.chars_added >= len("Targeted temperature management is debated.")
    assert body.chars_removed == 0
    typo = mine.loc[TYPO_FIX]
    assert typo.body_changed and (typo.chars_added, typo.chars_removed) == (1, 1)
    retitled = mine.loc[RETITLED]
    assert retitled.title_changed and retitled.body_changed
    assert (retitled.footnotes_added, retitled.footnotes_removed) == (1, 0)
    assert mine.loc[HOSTILE_EDIT].body_changed and not mine.loc[HOSTILE_EDIT].title_changed
    for page_id, change in HISTORY_CHANGES.items():
        if change == "modified":
            row = mine.loc[page_id]
            assert row.last_modified_after > row.last_modified_before, page_id
    removed = mine.loc[DELETED]
    assert removed.last_modified_after is None and removed.last_modified_before is not None


def test_pages_table_lists_every_current_page(history):
    pages = table(history.out, "pages")
    assert set(pages.page_id) == CURRENT
    by_id = pages.set_index("page_id")
    # carried pages keep the first crawl's capture; fetched ones point at the second's
    assert by_id.loc[UNCHANGED].crawl_id == history.ids[0]
    assert by_id.loc[BODY_EDIT].crawl_id == history.ids[1]
    assert "Targeted temperature management is debated." in by_id.loc[BODY_EDIT].body_text
    assert by_id.loc[ADDED[0]].title == "Moyamoya disease"


def test_page_versions_hold_both_versions_of_modified_pages(history):
    versions = table(history.out, "page_versions")
    for page_id in [p for p, change in HISTORY_CHANGES.items() if change == "modified"]:
        mine = versions[versions.page_id == page_id].sort_values("version_id")
        assert len(mine) == 2, page_id
        assert mine.content_sha256.nunique() == 2
        assert list(mine.first_crawl_id) == history.ids[:2]
    unchanged = versions[versions.page_id == UNCHANGED]
    assert len(unchanged) == 1


def test_version_locators_point_at_the_first_capture_of_each_version(history):
    """Each version's WARC file and offset hold, as warcio reads them, a capture of its
    page showing that version: the corpus source before the edits, the edited one after."""
    manifest = expected_by_id()
    for row in table(history.out, "page_versions").to_dict("records"):
        page_id = row["page_id"]
        edited = row["first_crawl_id"] == history.ids[1]
        markup = history.sources[page_id] if edited else source(page_id)
        record, body = warc_record_at(history.out / "warc" / row["warc_filename"],
                                      row["warc_offset"])
        assert record.rec_type == "response", page_id
        assert read_warcinfo(history.out / "warc" / row["warc_filename"])[
            "wikiarchive-crawl-id"] == row["first_crawl_id"]
        uri = record.rec_headers.get_header("WARC-Target-URI")
        assert parse_qs(urlsplit(uri).query) == {"id": [page_id]}
        title, modified, notes = served_page(body.decode("utf-8"))
        assert (title or page_id) == page_title(parsed_markup(markup), page_id), page_id
        assert notes == len(footnotes(markup)), page_id
        assert modified == row["last_modified"].strftime("%Y/%m/%d %H:%M"), page_id
        if not edited:
            assert row["last_modified"] == pd.Timestamp(manifest[page_id].last_modified)


def feed_exchanges(out: Path, crawl_id: str) -> list[tuple]:
    """(request headers, response status, response headers, payload digest) of a crawl's
    recent-changes feed requests (not the media feed, tests/test_media.py); a revisit
    record names the digest of the payload it repeats."""
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
                    found[record.rec_headers.get_header("WARC-Record-ID")] = (
                        record.http_headers,
                        record.rec_headers.get_header("WARC-Payload-Digest"),
                    )
    return [
        (requests[key], int(head.get_statuscode()), head, digest)
        for key, (head, digest) in found.items()
    ]


def test_third_crawl_without_edits_fetches_no_article(later):
    assert article_requests(later["out"], later["ids"][2]) == []
    # The feed was asked conditionally and answered 304 Not Modified.
    ((sent, status, got, digest),) = feed_exchanges(later["out"], later["ids"][2])
    assert sent.get_header("If-None-Match") and sent.get_header("If-Modified-Since")
    if status != 304:
        # DokuWiki dates a fresh feed by the clock before making it and a cached one by
        # its cache file, written once it is made: when the two fall in different seconds
        # (more than one on a loaded machine), the validators differ and the cached feed
        # comes again, the very bytes the crawl before got.
        earlier = parsedate_to_datetime(sent.get_header("If-Modified-Since"))
        newer = parsedate_to_datetime(got.get_header("Last-Modified"))
        assert status == 200 and newer > earlier
        ((_, _, _, before),) = feed_exchanges(later["out"], later["ids"][1])
        assert digest == before
    changes = table(later["out"], "changes")
    assert not (changes.to_crawl_id == later["ids"][2]).any()


def test_full_recrawl_of_unchanged_wiki(later):
    out, full_id = later["out"], later["ids"][3]
    fetched = article_requests(out, full_id)
    assert set(fetched) >= CURRENT
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


def test_crawls_table_and_export_from_warcs_alone(later, tmp_path):
    out = later["out"]
    crawls = table(out, "crawls")
    # The third crawl found nothing to fetch: the catalog knows it, the tables do not.
    ids = later["ids"]
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


def test_changes_command(later):
    out, ids = str(later["out"]), later["ids"]
    text = wikiarchive("changes", out, "--since", ids[0])
    assert text.returncode == 0, text.stderr
    assert f"Crawl {ids[1]} (since {ids[0]}): 3 added, 1 removed, 5 modified" in text.stdout
    assert re.search(rf"modified +{TYPO_FIX} +text \+1/-1 chars", text.stdout)
    assert re.search(rf"modified +{GAINS_FOOTNOTE} +footnotes \+1/-0", text.stdout)
    latest = wikiarchive("changes", out)  # the latest crawl (a no-op full recrawl)
    assert latest.returncode == 0 and latest.stdout.strip() == "No changes."
    as_csv = wikiarchive("changes", out, "--since", ids[0], "--format", "csv").stdout
    rows = list(csv.DictReader(io.StringIO(as_csv)))
    assert {r["page_id"] for r in rows} == set(HISTORY_CHANGES)
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

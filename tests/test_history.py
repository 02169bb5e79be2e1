"""History crawls: every revision a wiki lists, its content, its source and its changes.

A fresh wiki is written with a history of chosen dates and authors (tests/history_wiki.py)
and crawled with --history --source; a page is really edited and the wiki crawled again.
Every expected value comes from what was written to the wiki.
"""

from __future__ import annotations

import hashlib
import shutil
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pandas as pd
import pyarrow.parquet as pq
import pytest
from helpers import FAST, warcio_check, wikiarchive
from history_wiki import (
    BUSY_REVISIONS,
    GUIDELINE_R4,
    PRUNED,
    PRUNED_WHEN,
    HistoryWiki,
    Written,
)
from warcio.archiveiterator import ArchiveIterator

from archive.reader import read_response, read_warcinfo
from exports.tables import SCHEMAS, TABLES

HISTORY_TABLES = ("revisions", "page_versions", "changes", "sources")
NEWEST_TEXT = GUIDELINE_R4 + "\nA newer paragraph.\n"


def crawl(wiki: HistoryWiki, out: Path, *options: str) -> str:
    result = wikiarchive("crawl", wiki.bed.base_url, "--out", str(out), *FAST, *options)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout.split()[1]


def table(out: Path, name: str) -> pd.DataFrame:
    df = pd.read_parquet(out / "tables" / f"{name}.parquet")
    return df.astype(object).where(df.notna(), None)


def requests_of(out: Path, crawl_id: str) -> list[dict[str, list[str]]]:
    """The query of every doku.php request a crawl made, from its WARC files."""
    queries = []
    for path in sorted((out / "warc").glob("*.warc.gz")):
        if read_warcinfo(path).get("wikiarchive-crawl-id") != crawl_id:
            continue
        with open(path, "rb") as stream:
            for record in ArchiveIterator(stream):
                if record.rec_type == "request":
                    url = urlsplit(record.rec_headers.get_header("WARC-Target-URI"))
                    if url.path.endswith("/doku.php"):
                        queries.append(parse_qs(url.query))
    return queries


@pytest.fixture(scope="module")
def history(tmp_path_factory):
    wiki = HistoryWiki(tmp_path_factory.mktemp("historywiki")).build()
    out = tmp_path_factory.mktemp("history") / "out"
    try:
        first = crawl(wiki, out, "--history", "--source")
        after_first = {name: table(out, name) for name in HISTORY_TABLES}
        time.sleep(1.1)  # the edit comes after the crawl, as on a live wiki
        wiki.write("guideline", NEWEST_TEXT, datetime.now(UTC).replace(microsecond=0),
                   kind="edited", user="bob", summary="newer")
        wiki.bed.reindex()
        time.sleep(1.1)
        second = crawl(wiki, out, "--history", "--source")
        yield {"wiki": wiki, "out": out, "crawls": [first, second], "first": after_first}
    finally:
        wiki.bed.stop()


def rows_of(df: pd.DataFrame, page_id: str) -> list[dict]:
    return df[df.page_id == page_id].sort_values("revision").to_dict("records")


def test_every_revision_is_listed_with_its_kind_date_and_author(history):
    wiki, revisions = history["wiki"], table(history["out"], "revisions")
    assert len(revisions) == len(wiki.written)
    for page_id in sorted({w.page_id for w in wiki.written}):
        expected: list[Written] = wiki.revisions(page_id)
        rows = rows_of(revisions, page_id)
        assert [r["revision"] for r in rows] == [w.revision for w in expected], page_id
        for row, w in zip(rows, expected, strict=True):
            assert (row["kind"], row["author"], row["summary"]) == (w.kind, w.author, w.summary)
            assert row["revised_at"] == w.when
            assert row["date_shown"] == f"{w.when:%Y/%m/%d %H:%M}"
        assert [r["current"] for r in rows] == [False] * (len(rows) - 1) + [True]
    assert len(rows_of(revisions, "busy")) == BUSY_REVISIONS  # more than one list screen


def test_what_is_gone_is_listed_and_marked_not_archived(history):
    revisions = table(history["out"], "revisions")
    pruned = {r["revision"]: r for r in rows_of(revisions, PRUNED)}
    gone = pruned[int(PRUNED_WHEN.timestamp())]
    assert (gone["served"], gone["archived"], gone["warc_filename"]) == (False, False, None)
    deletions = revisions[revisions.kind == "deleted"]
    assert set(deletions.page_id) == {"old_protocol", "retired"}
    assert not deletions.archived.any() and not deletions.served.any()
    kept = revisions[(revisions.kind != "deleted") & (revisions.revision != gone["revision"])]
    assert kept.archived.all() and kept.served.all()


def test_archived_revisions_point_at_what_a_reader_of_them_saw(history):
    out, wiki = history["out"], history["wiki"]
    revisions = table(out, "revisions")
    for row in revisions[revisions.archived].to_dict("records"):
        written = next(w for w in wiki.written
                       if (w.page_id, w.revision) == (row["page_id"], row["revision"]))
        resp = read_response(out / "warc", row["warc_filename"], int(row["warc_offset"]))
        query = parse_qs(urlsplit(resp.url).query)
        assert query["id"] == [row["page_id"]]
        # an old revision at its own URL, or the page captured while it was current
        assert query.get("rev", [str(row["revision"])]) == [str(row["revision"])]
        first_line = written.text.splitlines()[0].strip("= ")
        assert f">{first_line}</h1>" in resp.body.decode()


def test_one_version_per_revision_and_a_change_per_consecutive_pair(history):
    out, wiki = history["out"], history["wiki"]
    versions = table(out, "page_versions")
    revisions = table(out, "revisions")
    archived = revisions[revisions.archived]
    assert sorted(zip(archived.page_id, archived.revision, strict=True)) == sorted(
        zip(versions.page_id, versions.revision, strict=True)
    )
    changes = table(out, "changes")
    by_revision = changes[changes.revision_after.notna()]
    guideline = rows_of(by_revision.rename(columns={"revision_after": "revision"}), "guideline")
    written = wiki.revisions("guideline")
    assert [r["revision"] for r in guideline] == [w.revision for w in written]
    assert [r["change"] for r in guideline] == ["added"] + ["modified"] * (len(written) - 1)
    assert [r["revision_before"] for r in guideline] == [None] + [
        w.revision for w in written[:-1]
    ]
    added, footnote, minor, migraine, revert, newest = guideline
    assert (footnote["footnotes_added"], footnote["footnotes_removed"]) == (1, 0)
    assert (minor["chars_added"], minor["chars_removed"]) == (len("orally "), 0)
    paragraph = "\n\nIt is also given for migraine."
    assert (migraine["chars_added"], migraine["chars_removed"]) == (len(paragraph), 0)
    assert (revert["chars_added"], revert["chars_removed"]) == (0, len(paragraph))
    assert newest["to_crawl_id"] == history["crawls"][1]
    kinds = {p: [r["change"] for r in rows_of(
        by_revision.rename(columns={"revision_after": "revision"}), p)]
        for p in ("old_protocol", "retired", PRUNED)}
    assert kinds == {"old_protocol": ["added", "removed", "added"],
                     "retired": ["added", "removed"], PRUNED: ["added", "modified"]}
    # the pruned revision is skipped: the change spans the two revisions around it
    skip = rows_of(by_revision.rename(columns={"revision_after": "revision"}), PRUNED)[1]
    first, _, third = wiki.revisions(PRUNED)
    assert (skip["revision_before"], skip["revision"]) == (first.revision, third.revision)


def test_sources_are_the_markup_of_each_revision(history):
    out, wiki = history["out"], history["wiki"]
    sources = table(out, "sources")
    revisions = table(out, "revisions")
    archived = revisions[revisions.archived]
    assert sorted(zip(sources.page_id, sources.revision, strict=True)) == sorted(
        zip(archived.page_id, archived.revision, strict=True)
    )
    for row in sources.to_dict("records"):
        written = next(w for w in wiki.written
                       if (w.page_id, w.revision) == (row["page_id"], row["revision"]))
        assert row["markup"] == written.text
        assert row["sha256"] == hashlib.sha256(written.text.encode()).hexdigest()


def test_a_later_history_crawl_fetches_only_what_is_new(history):
    out = history["out"]
    queries = requests_of(out, history["crawls"][1])
    assert not [q for q in queries if "rev" in q]  # the newest old revision was held
    assert [q["id"] for q in queries if set(q) == {"id"}] == [["guideline"]]
    assert [q for q in queries if q.get("do") == ["revisions"]] == [
        {"id": ["guideline"], "do": ["revisions"]}
    ]
    before = history["first"]
    for name in ("revisions", "page_versions", "sources"):
        assert len(table(out, name)) == len(before[name]) + 1, name


def test_export_rebuilds_the_history_tables_identically(history, tmp_path):
    out = history["out"]
    shutil.copytree(out / "warc", tmp_path / "warc")
    result = wikiarchive("export", str(tmp_path))
    assert result.returncode == 0, result.stderr
    for name in TABLES:
        for ext in ("csv", "parquet"):
            original = (out / "tables" / f"{name}.{ext}").read_bytes()
            assert (tmp_path / "tables" / f"{name}.{ext}").read_bytes() == original, (name, ext)
    assert warcio_check(sorted((out / "warc").glob("*.warc.gz"))).returncode == 0


@pytest.mark.parametrize("name", ["revisions", "sources"])
def test_csv_and_parquet_hold_the_same_rows(history, name):
    out = history["out"]
    parquet = pq.read_table(out / "tables" / f"{name}.parquet")
    assert parquet.schema.equals(SCHEMAS[name])
    from_csv = pd.read_csv(out / "tables" / f"{name}.csv", dtype=str, keep_default_na=False)
    assert list(from_csv.columns) == SCHEMAS[name].names
    assert len(from_csv) == parquet.num_rows > 0
    assert list(from_csv.page_id) == parquet.column("page_id").to_pylist()


def test_first_history_crawl_after_plain_crawls_backfills_without_refetching(
    history, tmp_path
):
    wiki, out = history["wiki"], tmp_path / "out"
    plain = crawl(wiki, out)
    backfill = crawl(wiki, out, "--history")
    queries = requests_of(out, backfill)
    # no current page is fetched again, but one whose date an older revision shares
    assert [q for q in queries if set(q) == {"id"}] == [{"id": ["quick"]}]
    fetched_revisions = {(q["id"][0], int(q["rev"][0])) for q in queries if "rev" in q}
    revisions = table(out, "revisions")
    current = revisions[revisions.current & revisions.archived]
    live = {w.page_id for w in wiki.written} - {"retired"}
    assert set(current.page_id) == live
    plain_files = {p.name for p in (out / "warc").glob("*.warc.gz")
                   if read_warcinfo(p).get("wikiarchive-crawl-id") == plain}
    assert set(current.warc_filename) <= plain_files
    assert not fetched_revisions & set(zip(current.page_id, current.revision, strict=True))
    old = revisions[~revisions.current & revisions.served]
    assert fetched_revisions == set(zip(old.page_id, old.revision, strict=True))
    assert revisions[revisions.served].archived.all()


def test_diff_between_wiki_revisions(history):
    out, wiki = history["out"], history["wiki"]
    _, footnote, minor, migraine, revert, _ = wiki.revisions("guideline")
    added = wikiarchive("changes", str(out), "--diff", "guideline", "--rev",
                        f"{minor.revision}..{migraine.revision}")
    assert added.returncode == 0, added.stderr
    assert "+It is also given for migraine." in added.stdout.splitlines()
    undone = wikiarchive("changes", str(out), "--diff", "guideline", "--rev",
                         str(revert.revision))
    assert "-It is also given for migraine." in undone.stdout.splitlines()
    same = wikiarchive("changes", str(out), "--diff", "guideline", "--rev",
                       f"{minor.revision}..{revert.revision}")
    assert same.stdout == "No text difference."
    note = wikiarchive("changes", str(out), "--diff", "guideline", "--rev",
                       str(footnote.revision))
    assert "+[1] Pickard JD. Oral nimodipine. BMJ 1989. PubMed PMID: 2496789." in (
        note.stdout.splitlines()
    )
    gone = next(w for w in wiki.revisions(PRUNED) if w.when == PRUNED_WHEN)
    for bad, says in ((f"{gone.revision}", "not archived"), ("12..x", "A..B"),
                      ("123", "lists no revision")):
        result = wikiarchive("changes", str(out), "--diff", PRUNED, "--rev", bad)
        assert result.returncode == 1 and says in result.stderr, (bad, result.stderr)
        assert "Traceback" not in result.stderr


def test_changes_and_report_name_the_revisions(history, tmp_path):
    out, wiki = history["out"], history["wiki"]
    newest = wiki.revisions("guideline")[-1]
    listing = wikiarchive("changes", str(out))
    assert listing.returncode == 0, listing.stderr
    assert f"revision {newest.revision} ({newest.when:%Y-%m-%d %H:%M} UTC)" in listing.stdout
    report = tmp_path / "report.html"
    result = wikiarchive("report", str(out), "-o", str(report))
    assert result.returncode == 0, result.stderr
    html = report.read_text(encoding="utf-8")
    section = html[html.index("<h2>Wiki revisions</h2>"):]
    assert f"{newest.when:%Y-%m-%d %H:%M}" in section and "newer" in section
    # the crawl history counts pages, not revisions
    live = len({w.page_id for w in wiki.written} - {"retired"})
    crawls = html[html.index('<table id="crawls">'):html.index("</table>",
                                                               html.index('<table id="crawls">'))]
    last_row = crawls[crawls.index("<tr>", crawls.index("<tbody>")):]
    assert last_row.split("</tr>")[0].endswith(f'<td class="n">{live}</td><td class="n">1</td>')


def test_pywb_replays_an_old_revision_at_its_own_date(history, tmp_path):
    import subprocess

    from test_replay import Wayback, tool  # pywb's wayback server, as the replay tests run it

    out, wiki = history["out"], history["wiki"]
    root = tmp_path / "pywb"
    root.mkdir()
    warcs = sorted((out / "warc").glob("*.warc.gz"))
    for args in (["init", "wiki"], ["add", "wiki", *map(str, warcs)]):
        done = subprocess.run([tool("wb-manager"), *args], cwd=root, capture_output=True,
                              text=True, timeout=120)
        assert done.returncode == 0, done.stderr[-2000:]
    server = Wayback(root)
    server.start()
    try:
        revisions = table(out, "revisions")
        for w in (wiki.revisions("guideline")[1], wiki.revisions("old_protocol")[0]):
            url = f"{wiki.bed.base_url}doku.php?id={w.page_id}&rev={w.revision}"
            row = rows_of(revisions, w.page_id)
            row = next(r for r in row if r["revision"] == w.revision)
            archived = read_response(out / "warc", row["warc_filename"], int(row["warc_offset"]))
            assert archived.url == url
            own_date = f"{w.when:%Y%m%d%H%M%S}"
            raw = server.get("wiki", own_date, "id_", url)
            assert (raw.status, raw.body) == (200, archived.body)
            shown = server.get("wiki", own_date, "mp_", url)
            assert shown.status == 200
            title = w.text.splitlines()[0].strip("= ")
            assert f">{title}</h1>" in shown.text
            assert f"Last modified: {w.when:%Y/%m/%d %H:%M}" in shown.text
    finally:
        server.stop()


def test_a_revision_that_failed_is_reported_and_archived_next_time(tmp_path):
    from faultproxy import FaultProxy

    wiki = HistoryWiki(tmp_path / "wiki").build()
    out = tmp_path / "out"
    quick = ["-s", "RETRY_TIMES=1", "-s", "WIKI_RETRY_BACKOFF=0.1"]
    _, footnote, minor, *_ = wiki.revisions("guideline")
    try:
        with FaultProxy(wiki.bed.base_url) as proxy:
            proxy.status(500, times=None, match=f"id=guideline&rev={footnote.revision}")
            first = wikiarchive("crawl", proxy.base_url, "--out", str(out), *FAST, *quick,
                                "--history")
            assert first.returncode == 3, first.stdout + first.stderr[-3000:]
            rows = {r["revision"]: r for r in rows_of(table(out, "revisions"), "guideline")}
            assert not rows[footnote.revision]["archived"]
            assert rows[footnote.revision]["served"]  # the wiki lists it: it is not gone
            errors = table(out, "errors")
            assert list(errors.page_id) == ["guideline"]
            spans = table(out, "changes").query("page_id == 'guideline'")
            spans = spans[spans.revision_after == minor.revision]
            assert list(spans.revision_before) == [wiki.revisions("guideline")[0].revision]

            proxy.clear()
            second = wikiarchive("crawl", proxy.base_url, "--out", str(out), *FAST,
                                 "--history")
            assert second.returncode == 0, second.stdout + second.stderr[-3000:]
            rows = {r["revision"]: r for r in rows_of(table(out, "revisions"), "guideline")}
            assert all(r["archived"] for r in rows.values())
            changes = table(out, "changes")
            by_revision = changes[(changes.page_id == "guideline")
                                  & changes.revision_after.notna()]
            assert sorted(zip(by_revision.revision_before.fillna(0), by_revision.revision_after,
                              strict=True)) == sorted(
                (before.revision if before else 0, after.revision)
                for before, after in zip([None, *wiki.revisions("guideline")],
                                         wiki.revisions("guideline"), strict=False)
            )
    finally:
        wiki.bed.stop()


def test_frictionless_validates_the_history_tables(history):
    from test_datapackage import failures, validate  # the real `frictionless validate`

    tables = history["out"] / "tables"
    code, report = validate(tables)
    assert code == 0 and report["valid"], failures(report)
    rows = {task["name"]: task["stats"].get("rows", 0) for task in report["tasks"]}
    for name in HISTORY_TABLES:
        assert rows[name] == pq.read_metadata(tables / f"{name}.parquet").num_rows > 0, name

"""Failures are loud: a crawl that did not do its job never ends as finished with exit 0.

Each test drives the real CLI (or `scrapy crawl`) against the real test wiki, through a
proxy on loopback where the wiki must answer differently (tests/faultproxy.py).
"""

from __future__ import annotations

import json
import re
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from corpus_expect import expected_by_id
from faultproxy import FaultProxy
from filelock import FileLock
from helpers import (
    FAST,
    WHOLE,
    catalog_crawls,
    copy_output,
    corpus_wiki,
    wait_for_fresh_caches,
    wikiarchive,
)
from test_incremental import article_requests, crawl_id_of, source, table

from archive.catalog import Catalog
from archive.reader import read_warcinfo
from archive.writer import Exchange, RotatingWarcWriter, Stored
from crawler.feed import feed_date, parse_feed

ROOT = Path(__file__).resolve().parent.parent
ALL = set(expected_by_id())
LINKED_FROM_START = {"magnesium", "traumatic_brain_injury", "stroke"}  # a few of them


def crawl(site: str, out: Path, *options: str) -> subprocess.CompletedProcess:
    return wikiarchive("crawl", site, "--out", str(out), *FAST, *options)


def error_lines(result: subprocess.CompletedProcess) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.strip()]


def tables_equal_export(out: Path) -> None:
    """The tables the crawls wrote are the tables `export` rebuilds from the WARCs."""
    written = {p.name: p.read_bytes() for p in sorted((out / "tables").glob("*.csv"))}
    result = wikiarchive("export", str(out))
    assert result.returncode == 0, result.stderr
    rebuilt = {p.name: p.read_bytes() for p in sorted((out / "tables").glob("*.csv"))}
    assert rebuilt.keys() == written.keys()
    for name in written:
        assert rebuilt[name] == written[name], name


@pytest.fixture
def proxy(wiki):
    with FaultProxy(wiki.base_url) as proxy:
        yield proxy


# ---- 1: a failure in a signal handler fails the crawl


@pytest.mark.parametrize(
    "stamp", ["Fri, 07 Jun 2024 03:00:00 -0000", "Fri, 07 Jun 2024 03:00:00", "7 Jun 2024 03:00"]
)
def test_feed_dates_without_a_zone_are_utc(stamp):
    assert feed_date(stamp) == datetime(2024, 6, 7, 3, 0, tzinfo=UTC)
    feed = f"<rss><channel><item><link>http://h/wiki/doku.php?id=a</link><pubDate>{stamp}"
    feed += "</pubDate></item></channel></rss>"
    (item,) = parse_feed(feed.encode(), site="http://h/wiki/", requested=10).items
    assert item.date.tzinfo is not None


def test_incremental_crawl_reads_a_feed_with_unknown_zones(tmp_path):
    """Every pubDate written with -0000 (zone unknown): the edits are still caught."""
    bed = corpus_wiki(tmp_path / "wiki")
    out = tmp_path / "out"
    try:
        with FaultProxy(bed.base_url) as proxy:
            assert crawl(proxy.base_url, out).returncode == 0
            # No wait: the edit is dated after the feed the first crawl read, and an edit
            # in that very second counts (crawler.plan).
            bed.write_page("stroke", source("stroke") + "\nOne more line.\n",
                           when=datetime.now(UTC))
            proxy.rewrite(lambda body: body.replace(b" +0000</pubDate>", b" -0000</pubDate>"),
                          match="feed.php")
            second = crawl(proxy.base_url, out)
            assert second.returncode == 0, second.stderr[-2000:]
            assert proxy.hits_for("feed.php")[-1].outcome == "rewrite 200"
            assert article_requests(out, crawl_id_of(second)) == ["stroke"]
    finally:
        bed.stop()


BOOM_SPIDER = '''
from crawler.spiders.wiki import WikiSpider

class BoomSpider(WikiSpider):
    name = "boom"

    def _schedule(self, page_ids):
        raise RuntimeError("the plan broke")
'''


def test_exception_in_a_signal_handler_fails_the_crawl(tmp_path):
    """The incremental plan raises inside spider_idle: the crawl is failed, not finished,
    the exit status says so, and the next crawl still catches the edit made before it."""
    bed = corpus_wiki(tmp_path / "wiki")
    out = tmp_path / "out"
    spiders = tmp_path / "boom"
    spiders.mkdir()
    (spiders / "boom_spider.py").write_text(BOOM_SPIDER)
    command = [
        sys.executable, "-m", "scrapy", "crawl", "boom", "-a", f"site={bed.base_url}",
        "-s", f"WIKI_OUT_DIR={out}", "-s", "DOWNLOAD_DELAY=0", "-s", "AUTOTHROTTLE_ENABLED=False",
        "-s", "SPIDER_MODULES=boom_spider",
    ]
    env = {"PYTHONPATH": f"{spiders}:{ROOT}", "PATH": "/usr/bin:/bin"}
    try:
        assert crawl(bed.base_url, out).returncode == 0
        bed.write_page("stroke", source("stroke") + "\nOne more line.\n", when=datetime.now(UTC))
        # The failed crawl's feed is then served from DokuWiki's cache to the third crawl
        # (304 Not Modified): the edit must be caught though no crawl after it fetched it.
        wait_for_fresh_caches(bed)
        result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, env=env,
                                timeout=300)
        assert result.returncode == 1, result.stderr[-3000:]
        assert "RuntimeError: the plan broke" in result.stderr
        third = crawl(bed.base_url, out)
        assert third.returncode == 0, third.stderr[-2000:]
        assert article_requests(out, crawl_id_of(third)) == ["stroke"]
    finally:
        bed.stop()
    crawls = table(out, "crawls")
    assert list(crawls.outcome) == ["finished", "failed", "finished"]
    # The crawl's own summary record says why it failed.
    (summary,) = summary_records(out, crawls.crawl_id.iloc[1])
    assert summary["finish_reason"] == "failed"
    assert "the plan broke" in summary["fatal"]


def summary_records(out: Path, crawl_id: str) -> list[dict]:
    from warcio.archiveiterator import ArchiveIterator

    found = []
    for path in sorted((out / "warc").glob("*.warc.gz")):
        if read_warcinfo(path).get("wikiarchive-crawl-id") != crawl_id:
            continue
        with open(path, "rb") as stream:
            for record in ArchiveIterator(stream):
                if record.rec_type == "metadata":
                    found.append(json.loads(record.content_stream().read()))
    return found


# ---- 2: the feed is optional evidence, never the gate


def test_robots_txt_shutting_out_the_feed_does_not_stop_the_crawl(tmp_path):
    bed = corpus_wiki(tmp_path / "wiki", robots_txt="User-agent: *\nDisallow: /wiki/feed.php\n")
    out = tmp_path / "out"
    try:
        result = crawl(bed.base_url, out)
        assert result.returncode == 0, result.stderr[-2000:]
        assert set(table(out, "pages").page_id) == ALL
    finally:
        bed.stop()


def test_a_feed_that_times_out_does_not_stop_a_full_crawl(proxy, tmp_path):
    proxy.delay(3, times=None, match="feed.php")
    out = tmp_path / "out"
    result = crawl(proxy.base_url, out, "-s", "DOWNLOAD_TIMEOUT=1", "-s", "RETRY_TIMES=0")
    assert result.returncode == 0, result.stderr[-2000:]
    assert set(table(out, "pages").page_id) == ALL


def test_incremental_crawl_without_its_feed_fetches_every_page(proxy, tmp_path):
    out = tmp_path / "out"
    assert crawl(proxy.base_url, out).returncode == 0
    proxy.reset(times=None, match="feed.php")
    second = crawl(proxy.base_url, out, "-s", "RETRY_TIMES=0")
    assert second.returncode == 0, second.stderr[-2000:]
    assert second.stdout.split()[2] == "(incremental):"
    assert sorted(article_requests(out, crawl_id_of(second))) == sorted(ALL)


# ---- 3: link discovery does not depend on data-wiki-id


def test_links_are_found_by_their_href_without_data_wiki_id(proxy, tmp_path):
    proxy.rewrite(lambda body: re.sub(rb' data-wiki-id="[^"]*"', b"", body), match="doku.php?id=")
    out = tmp_path / "out"
    result = crawl(proxy.base_url, out, "--discovery", "links")
    assert result.returncode == 0, result.stderr[-2000:]
    assert b"data-wiki-id" not in proxy_body(proxy, out)
    found = set(table(out, "pages").page_id)
    assert LINKED_FROM_START <= found and len(found) > 10


def proxy_body(proxy: FaultProxy, out: Path) -> bytes:
    """The start page as the crawl archived it."""
    from warcio.archiveiterator import ArchiveIterator

    for path in sorted((out / "warc").glob("*.warc.gz")):
        with open(path, "rb") as stream:
            for record in ArchiveIterator(stream):
                uri = record.rec_headers.get_header("WARC-Target-URI") or ""
                if record.rec_type == "response" and uri.endswith("doku.php?id=start"):
                    return record.content_stream().read()
    raise AssertionError("no start page archived")


def test_discovery_that_finds_nothing_says_so(proxy, tmp_path):
    def hide_links(body: bytes) -> bytes:
        return re.sub(rb'<a href="/wiki/doku.php\?id=([^"]*)"', rb'<a href="#\1"', body)

    proxy.rewrite(hide_links, match="doku.php?id=")
    out = tmp_path / "out"
    result = crawl(proxy.base_url, out, "--discovery", "links,index")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Page discovery by links found no wiki page" in result.stderr
    assert set(table(out, "pages").page_id) == ALL  # the index still found them


# ---- 4: where WARC files live, and in which order crawls count


@pytest.mark.parametrize(
    ("setting", "said"),
    [
        ("WARC_DIR=/tmp/elsewhere", "WARC_DIR is not supported"),
        ("WARC_ENABLED=False", "WARC_ENABLED=False"),
        ("HTTPCACHE_ENABLED=True", "HTTPCACHE_ENABLED=True"),
        ("WARC_PREFIX=../x", "WARC_PREFIX"),
    ],
)
def test_settings_the_archive_cannot_honour_are_refused(wiki, tmp_path, setting, said):
    out = tmp_path / "out"
    result = crawl(wiki.base_url, out, "-s", setting)
    assert result.returncode == 2
    (line,) = error_lines(result)
    assert line.startswith("Error: cannot crawl with these settings:") and said in line
    assert not (out / "warc").exists()


def test_crawls_count_in_the_order_they_ran_whatever_their_prefix(tmp_path):
    bed = corpus_wiki(tmp_path / "wiki")
    out = tmp_path / "out"
    try:
        assert crawl(bed.base_url, out, "-s", "WARC_PREFIX=zzz").returncode == 0
        # No wait: the edit is dated after the feed the first crawl read.
        bed.write_page("stroke", source("stroke") + "\nOne more line.\n", when=datetime.now(UTC))
        second = crawl(bed.base_url, out, "-s", "WARC_PREFIX=aaa")
        assert second.returncode == 0, second.stderr[-2000:]
    finally:
        bed.stop()
    changes = table(out, "changes")
    assert list(changes[changes.to_crawl_id == crawl_id_of(second)].change) == ["modified"]
    tables_equal_export(out)


# ---- 5: a revisit whose original is missing is an error, not an empty page


def test_revisit_without_its_original_fails_the_export(wiki, full_crawl, tmp_path):
    out = copy_output(full_crawl.out, tmp_path / "out")
    before = {p.name: p.read_bytes() for p in (out / "tables").iterdir()}
    info = read_warcinfo(next((out / "warc").glob("*.warc.gz")))
    writer = RotatingWarcWriter(out / "warc", prefix="zz", info={
        **info, "wikiarchive-crawl-id": "29990101T000000Z-000000",
        "wikiarchive-started-at": "2999-01-01T00:00:00+00:00",
    })
    url = wiki.base_url + "doku.php?id=magnesium"
    request = b"GET /wiki/doku.php?id=magnesium HTTP/1.1\r\n\r\n"
    head = b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
    lost = Stored("gone.warc.gz", 0, "<urn:uuid:0000>", "2020-01-01T00:00:00Z", url, False)
    writer.write_exchange(
        Exchange(url, request, head, b"<html>x</html>", datetime.now(UTC)), refers_to=lost
    )
    writer.close()
    result = wikiarchive("export", str(out))
    assert result.returncode == 1
    (line,) = error_lines(result)
    assert "refers to <urn:uuid:0000>, which is not in the archive" in line
    assert {p.name: p.read_bytes() for p in (out / "tables").iterdir()} == before


# ---- 6: ingestion tracked by file; a rebuilt catalog never pairs with an old -wal


def limit_file_size(limit: int):
    import resource
    import signal

    def apply() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


def test_crawl_whose_catalog_could_not_be_written_is_completed_next_run(wiki, tmp_path):
    """The disk fills up as the crawl ends: its WARC files (rotated) are complete, the
    catalog transaction is rolled back; the next run ingests those files, then crawls."""
    out = tmp_path / "out"
    # Room for a new catalog and a few WARC files, not for the whole crawl's ingest.
    Catalog(tmp_path / "empty.sqlite").close()
    room = max(f.stat().st_size for f in tmp_path.glob("empty.sqlite*")) + 200_000
    stopped = subprocess.run(
        [sys.executable, "-m", "crawler.cli", "crawl", wiki.base_url, "--out", str(out),
         *WHOLE, "--warc-max-size", "0.02"],
        capture_output=True, text=True, timeout=300, preexec_fn=limit_file_size(room),
    )
    assert stopped.returncode == 1, stopped.stderr[-2000:]
    assert "cannot write the archive" in stopped.stderr
    assert len(list((out / "warc").glob("*.warc.gz"))) > 1  # files rotated before it broke
    again = crawl(wiki.base_url, out)
    assert again.returncode == 0, again.stderr[-2000:]
    # The second run found nothing to fetch: the catalog holds it, the tables do not.
    assert [mode for _, mode in catalog_crawls(out)] == ["full", "incremental"]
    crawls = table(out, "crawls")
    assert list(crawls["mode"]) == ["full"]
    assert crawls.crawl_id.iloc[0] == read_warcinfo(min((out / "warc").glob("*.gz")))[
        "wikiarchive-crawl-id"]
    tables_equal_export(out)


def test_tables_that_cannot_be_written_fail_a_crawl_the_archive_keeps(wiki, tmp_path):
    """The archivist commits the crawl, then fails to write the tables: the run says so
    in one line and exits 1; the crawl stays archived and `export` writes its tables."""
    out = tmp_path / "out"
    out.mkdir()
    (out / "tables").write_text("a file where the tables' folder goes")
    failed = crawl(wiki.base_url, out)
    assert failed.returncode == 1, failed.stderr[-2000:]
    said = [line for line in error_lines(failed) if line.startswith("Error:")]
    assert len(said) == 1 and "Traceback" not in failed.stderr, failed.stderr[-2000:]
    assert said[0].startswith("Error: the crawl is archived, but its tables could not be "
                              "written: FileExistsError"), said
    assert "wikiarchive export" in said[0] and error_lines(failed)[-1] == said[0]
    assert [mode for _, mode in catalog_crawls(out)] == ["full"]
    (out / "tables").unlink()
    exported = wikiarchive("export", str(out))
    assert exported.returncode == 0, exported.stderr[-2000:]
    assert set(table(out, "pages")["page_id"]) == ALL


def test_rebuilt_catalog_ignores_a_stale_wal(wiki, full_crawl, tmp_path):
    out = copy_output(full_crawl.out, tmp_path / "out")
    other = tmp_path / "other.sqlite"
    db = sqlite3.connect(other)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA wal_autocheckpoint=0")
    db.execute("CREATE TABLE t (x)")
    db.executemany("INSERT INTO t VALUES (?)", [(n,) for n in range(1000)])
    db.commit()
    (out / "catalog.sqlite-wal").write_bytes(Path(f"{other}-wal").read_bytes())
    db.close()
    tables_equal_export(out)
    changes = wikiarchive("changes", str(out))
    assert changes.returncode == 0, changes.stderr


# ---- 7: one site per folder


def test_a_second_site_in_the_same_folder_is_refused(wiki, full_crawl, proxy, tmp_path):
    out = copy_output(full_crawl.out, tmp_path / "out")
    before = sorted(p.name for p in (out / "warc").iterdir())
    other = crawl(proxy.base_url, out)  # the same wiki under another address
    assert other.returncode == 1
    (line,) = error_lines(other)
    assert f"holds an archive of {wiki.base_url}" in line
    assert sorted(p.name for p in (out / "warc").iterdir()) == before


# ---- 8: archive errors are one line, and --summary-json is written


def test_unreadable_warc_file_is_one_line_and_a_summary(wiki, full_crawl, tmp_path):
    out = copy_output(full_crawl.out, tmp_path / "out")
    (out / "warc" / "broken.warc.gz").write_bytes(b"\x1f\x8b\x08 not a warc")
    summary = tmp_path / "summary.json"
    result = crawl(wiki.base_url, out, "--summary-json", str(summary))
    assert result.returncode == 1
    (line,) = error_lines(result)
    assert "broken.warc.gz: unreadable WARC file" in line and "Traceback" not in result.stderr
    report = json.loads(summary.read_text())
    assert report["outcome"] == "failed" and "broken.warc.gz" in report["error"]
    packaged = wikiarchive("package", str(out), "--wacz", str(tmp_path / "a.wacz"))
    assert packaged.returncode == 1
    (line,) = error_lines(packaged)
    assert "broken.warc.gz" in line


def test_damaged_catalog_is_rebuilt_from_the_warcs(wiki, full_crawl, tmp_path):
    out = copy_output(full_crawl.out, tmp_path / "out")
    (out / "catalog.sqlite").write_bytes(b"not a database at all" * 100)
    again = crawl(wiki.base_url, out)
    assert again.returncode == 0, again.stderr[-2000:]
    # The rebuilt catalog knows the first crawl, so this one is incremental (and, finding
    # nothing to fetch, leaves the tables as they were).
    assert [mode for _, mode in catalog_crawls(out)] == ["full", "incremental"]
    assert list(table(out, "crawls")["mode"]) == ["full"]


# ---- 9: a refused scrapy crawl writes nothing


def test_scrapy_crawl_refused_by_the_lock_writes_nothing(wiki, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    command = [
        sys.executable, "-m", "scrapy", "crawl", "wiki", "-a", f"site={wiki.base_url}",
        "-s", f"WIKI_OUT_DIR={out}",
    ]
    with FileLock(out / ".wikiarchive.lock"):
        result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 4, result.stderr[-2000:]
    assert "another wikiarchive run is using" in result.stderr
    assert sorted(p.name for p in out.iterdir()) == [".wikiarchive.lock"]

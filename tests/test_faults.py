"""Faults survived, nothing lost: the real CLI crawls the real test wiki through a proxy
that breaks some answers (tests/faultproxy.py).

A fault that clears within the retries leaves no trace in the tables: every page archived,
exit status 0. A page that keeps failing is reported (summary line, exit status 3), never
stored as a page version nor recorded as changed or removed, and the next run fetches it.
The proxy's log shows the retries and how long the crawler waited before each.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from corpus_expect import expected_by_id
from faultproxy import FaultProxy, Hit
from helpers import FAST, corpus_wiki, warcio_check, wikiarchive
from test_incremental import crawl_id_of, source, table
from warcio.archiveiterator import ArchiveIterator

BACKOFF = 0.1  # WIKI_RETRY_BACKOFF in these tests: retries after 0.1, 0.2, 0.4 s
RETRIES = 3  # RETRY_TIMES, the project default
QUICK = [*FAST, "-s", f"WIKI_RETRY_BACKOFF={BACKOFF}"]
EXIT_PARTIAL = 3


@pytest.fixture
def proxy(wiki):
    with FaultProxy(wiki.base_url) as proxy:
        yield proxy


@pytest.fixture(scope="module")
def all_pages():
    return set(expected_by_id())


def crawl(proxy: FaultProxy, out: Path, *options: str) -> subprocess.CompletedProcess:
    return wikiarchive("crawl", proxy.base_url, "--out", str(out), *QUICK, *options)


def article_hits(proxy: FaultProxy, page_id: str) -> list[Hit]:
    """The requests for a page's permanent link, in order."""
    return [h for h in proxy.hits if h.path == f"/wiki/doku.php?id={page_id}"]


def outcomes(hits: list[Hit]) -> list[str]:
    return [h.outcome for h in hits]


def gaps(hits: list[Hit]) -> list[float]:
    return [b.time - a.time for a, b in zip(hits, hits[1:], strict=False)]


def failed_pages(result: subprocess.CompletedProcess) -> list[str]:
    found = re.search(r"^Failed, to be retried next run: (.*)$", result.stdout, re.M)
    return found.group(1).split(", ") if found else []


def page_ids(out: Path) -> set[str]:
    return set(table(out, "pages").page_id)


def changes_of(out: Path, crawl_id: str) -> dict[str, str]:
    changes = table(out, "changes")
    mine = changes[changes.to_crawl_id == crawl_id]
    return dict(zip(mine.page_id, mine.change, strict=True))


def warc_records(out: Path):
    for path in sorted((out / "warc").glob("*.warc.gz")):
        with open(path, "rb") as stream:
            yield from ArchiveIterator(stream)


def archived_statuses(out: Path, page_id: str) -> list[int]:
    """HTTP statuses of the archived responses for a page's permanent link."""
    return [
        int(record.http_headers.get_statuscode())
        for record in warc_records(out)
        if record.rec_type in ("response", "revisit")
        and record.rec_headers.get_header("WARC-Target-URI").endswith(f"doku.php?id={page_id}")
    ]


def assert_warcs_valid(out: Path, *, truncated: int = 0) -> None:
    files = sorted((out / "warc").glob("*.warc.gz"))
    assert files and not list((out / "warc").glob("*.open"))
    result = warcio_check(files)
    assert result.returncode == 0, result.stdout + result.stderr
    marked = [r for r in warc_records(out) if r.rec_headers.get_header("WARC-Truncated")]
    assert len(marked) == truncated


def assert_complete(result: subprocess.CompletedProcess, out: Path, pages: set[str]) -> None:
    assert result.returncode == 0, result.stdout + result.stderr[-3000:]
    assert failed_pages(result) == []
    assert re.search(r"\): \d+ pages, \d+ requests, 0 errors$", result.stdout.splitlines()[0])
    assert page_ids(out) == pages
    assert_warcs_valid(out)


# ---- faults that clear within the retries


def test_server_errors_and_resets_that_clear_are_retried(proxy, tmp_path, all_pages):
    proxy.status(500, times=1, match=re.compile(r"id=magnesium$"))
    proxy.status(502, times=2, match=re.compile(r"id=stroke$"))
    proxy.status(503, times=RETRIES, match=re.compile(r"id=hypothermia$"))
    proxy.reset(times=2, match=re.compile(r"id=seizure$"))
    proxy.reset(times=2, match=re.compile(r"id=glasgow_coma_scale$"), after_headers=True)
    proxy.status(500, times=1, match="do=index")  # the page index, too
    proxy.reset(times=1, match="do=index", after_headers=True)
    out = tmp_path / "out"
    result = crawl(proxy, out)
    assert_complete(result, out, all_pages)
    assert outcomes(article_hits(proxy, "magnesium")) == ["status 500", "200"]
    assert outcomes(article_hits(proxy, "stroke")) == ["status 502", "status 502", "200"]
    hits = article_hits(proxy, "hypothermia")
    assert outcomes(hits) == ["status 503"] * RETRIES + ["200"]
    # Each retry waited longer than the one before: 0.1, 0.2, 0.4 s.
    for n, gap in enumerate(gaps(hits)):
        assert gap >= BACKOFF * 2**n, gaps(hits)
    hits = article_hits(proxy, "seizure")
    assert outcomes(hits) == ["reset", "reset", "200"]
    # Twisted's pool resends at once a request reset before any answer on a kept-alive
    # connection (a stale one, as far as it knows); the crawler's own retry waits.
    assert max(gaps(hits)) >= BACKOFF, gaps(hits)
    hits = article_hits(proxy, "glasgow_coma_scale")
    assert outcomes(hits) == ["reset 200", "reset 200", "200"]
    assert gaps(hits)[0] >= BACKOFF and gaps(hits)[1] >= 2 * BACKOFF
    assert outcomes(proxy.hits_for("do=index")) == ["status 500", "reset 200", "200"]
    # The error answers are archived too, the cut ones are not; the page is the 200 one.
    assert archived_statuses(out, "hypothermia") == [503] * RETRIES + [200]
    assert archived_statuses(out, "glasgow_coma_scale") == [200]
    pages = table(out, "pages").set_index("page_id")
    assert pages.loc["hypothermia"].title == expected_by_id()["hypothermia"].title


def test_retry_after_is_waited_for(proxy, tmp_path, all_pages):
    proxy.status(429, times=1, match=re.compile(r"id=magnesium$"), headers={"Retry-After": "2"})
    proxy.status(503, times=1, match=re.compile(r"id=stroke$"), headers={"Retry-After": "1"})
    out = tmp_path / "out"
    started = time.monotonic()
    result = crawl(proxy, out)
    assert_complete(result, out, all_pages)
    for page_id, status, wait in (("magnesium", 429, 2.0), ("stroke", 503, 1.0)):
        hits = article_hits(proxy, page_id)
        assert outcomes(hits) == [f"status {status}", "200"], page_id
        assert gaps(hits)[0] >= wait, (page_id, gaps(hits))  # not the 0.1 s backoff
    assert time.monotonic() - started < 30


def test_slow_responses_past_the_timeout_are_retried(proxy, tmp_path, all_pages):
    proxy.delay(3, times=1, match=re.compile(r"id=magnesium$"))
    proxy.delay(3, times=1, match="do=index")
    out = tmp_path / "out"
    result = crawl(proxy, out, "-s", "DOWNLOAD_TIMEOUT=1")
    assert_complete(result, out, all_pages)
    hits = article_hits(proxy, "magnesium")
    assert outcomes(hits) == ["delay", "200"]
    assert 1.0 <= gaps(hits)[0] < 3.0  # given up after the timeout, not after the answer
    assert outcomes(proxy.hits_for("do=index")) == ["delay", "200"]


@pytest.mark.parametrize("fail_on_dataloss", [True, False])
def test_truncated_bodies_are_retried_not_archived(proxy, tmp_path, all_pages, fail_on_dataloss):
    proxy.truncate(times=2, match=re.compile(r"id=magnesium$"))
    proxy.truncate(times=None, match=re.compile(r"id=stroke$"))
    proxy.truncate(times=1, match="do=index", keep=0.9)
    out = tmp_path / "out"
    result = crawl(proxy, out, "-s", f"DOWNLOAD_FAIL_ON_DATALOSS={fail_on_dataloss}")
    assert result.returncode == EXIT_PARTIAL, result.stdout + result.stderr[-3000:]
    assert failed_pages(result) == ["stroke"]
    assert page_ids(out) == all_pages - {"stroke"}
    assert outcomes(article_hits(proxy, "magnesium")) == ["truncate 200"] * 2 + ["200"]
    assert outcomes(article_hits(proxy, "stroke")) == ["truncate 200"] * (1 + RETRIES)
    assert outcomes(proxy.hits_for("do=index")) == ["truncate 200", "200"]
    pages = table(out, "pages").set_index("page_id")
    # the whole page: its last paragraph and both footnotes
    assert "Serum magnesium levels had no significant" in pages.loc["magnesium"].body_text
    assert pages.loc["magnesium"].footnote_count == 2
    versions = table(out, "page_versions")
    assert len(versions[versions.page_id == "magnesium"]) == 1
    assert "stroke" not in set(versions.page_id)
    if fail_on_dataloss:  # a failed download: nothing to archive
        assert archived_statuses(out, "magnesium") == [200]
        assert archived_statuses(out, "stroke") == []
        assert_warcs_valid(out)
    else:  # archived as received, marked truncated, never taken for the page
        assert archived_statuses(out, "magnesium") == [200] * 3
        assert archived_statuses(out, "stroke") == [200] * (1 + RETRIES)
        assert_warcs_valid(out, truncated=2 + 1 + RETRIES + 1)


def test_wiki_down_mid_crawl_and_back(proxy, tmp_path, all_pages):
    out = tmp_path / "out"
    # Retries after 0.5, 1 and 2 s: 3.5 s of patience for 1.5 s of downtime.
    command = [
        sys.executable, "-m", "crawler.cli", "crawl", proxy.base_url, "--out", str(out),
        *FAST, "-s", "WIKI_RETRY_BACKOFF=0.5",
    ]
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as process:
        try:
            assert proxy.wait_for(
                lambda hits: sum("doku.php?id=" in h.path for h in hits) >= 10, timeout=60
            )
            proxy.down()
            time.sleep(1.5)
            proxy.up()
            stdout, stderr = process.communicate(timeout=120)
        finally:
            if process.poll() is None:
                process.kill()
    result = subprocess.CompletedProcess(command, process.returncode, stdout, stderr)
    assert_complete(result, out, all_pages)
    down = [h for h in proxy.hits if h.outcome == "down"]
    assert down, "the crawl finished before the wiki went down"
    # Every request refused while down was made again and answered afterwards.
    for hit in down:
        later = [h for h in proxy.hits if h.path == hit.path and h.time > hit.time]
        assert later and later[-1].outcome == "200", hit
    # ... and the crawl went on after the wiki came back.
    assert any("doku.php?id=" in h.path for h in proxy.hits if h.time > down[-1].time + 0.5)


# ---- faults that outlast the retries


def test_pages_that_keep_failing_are_reported_and_fetched_next_run(proxy, tmp_path, all_pages):
    broken = {
        "magnesium": lambda m: proxy.status(500, times=None, match=m),
        "stroke": lambda m: proxy.reset(times=None, match=m),
        "hypothermia": lambda m: proxy.truncate(times=None, match=m),
        "seizure": lambda m: proxy.status(429, times=None, match=m, headers={"Retry-After": "60"}),
    }
    for page_id, set_fault in broken.items():
        set_fault(re.compile(rf"id={page_id}$"))
    out = tmp_path / "out"
    first = crawl(proxy, out, "-s", "WIKI_RETRY_AFTER_MAX=5")
    assert first.returncode == EXIT_PARTIAL, first.stdout + first.stderr[-3000:]
    assert failed_pages(first) == sorted(broken)
    assert re.search(r"\): \d+ pages, \d+ requests, 4 errors$", first.stdout.splitlines()[0])
    assert page_ids(out) == all_pages - set(broken)
    for page_id in ("magnesium", "hypothermia"):
        assert len(article_hits(proxy, page_id)) == 1 + RETRIES, page_id
    # Each reset before any answer on a kept-alive connection is resent once by Twisted.
    assert 1 + RETRIES <= len(article_hits(proxy, "stroke")) <= 2 * (1 + RETRIES)
    # A Retry-After beyond WIKI_RETRY_AFTER_MAX is not waited for, nor retried sooner.
    assert outcomes(article_hits(proxy, "seizure")) == ["status 429"]
    assert archived_statuses(out, "magnesium") == [500] * (1 + RETRIES)
    assert archived_statuses(out, "stroke") == archived_statuses(out, "hypothermia") == []
    versions = table(out, "page_versions")
    assert not set(versions.page_id) & set(broken)
    assert_warcs_valid(out)
    crawls = table(out, "crawls")
    assert crawls.iloc[0].errors == 4

    proxy.clear()
    second = crawl(proxy, out)
    assert_complete(second, out, all_pages)
    assert changes_of(out, crawl_id_of(second)) == dict.fromkeys(broken, "added")
    for page_id in broken:
        assert article_hits(proxy, page_id)[-1].outcome == "200", page_id


def test_failed_page_of_an_incremental_crawl_is_neither_modified_nor_removed(tmp_path):
    bed = corpus_wiki(tmp_path / "wiki")
    out = tmp_path / "out"
    try:
        with FaultProxy(bed.base_url) as proxy:
            first = crawl(proxy, out)
            assert first.returncode == 0, first.stderr[-3000:]
            # No wait: the edits are dated after the feed the first crawl read, and an edit
            # in that very second counts (crawler.plan).
            now = datetime.now(UTC)
            for page_id in ("magnesium", "stroke"):
                bed.write_page(page_id, source(page_id) + "\nOne more sentence.\n", when=now)
            proxy.status(500, times=None, match=re.compile(r"id=magnesium$"))
            second = crawl(proxy, out)
            assert second.returncode == EXIT_PARTIAL, second.stdout + second.stderr[-3000:]
            assert second.stdout.split()[2] == "(incremental):"
            assert failed_pages(second) == ["magnesium"]
            assert len(article_hits(proxy, "magnesium")) == 1 + 1 + RETRIES
            assert changes_of(out, crawl_id_of(second)) == {"stroke": "modified"}
            pages = table(out, "pages").set_index("page_id")
            assert "magnesium" in pages.index  # still present, as last seen
            assert pages.loc["magnesium"].crawl_id == crawl_id_of(first)
            assert "One more sentence." not in pages.loc["magnesium"].body_text
            assert_warcs_valid(out)

            proxy.clear()
            third = crawl(proxy, out)
            assert third.returncode == 0, third.stdout + third.stderr[-3000:]
            assert changes_of(out, crawl_id_of(third)) == {"magnesium": "modified"}
            pages = table(out, "pages").set_index("page_id")
            assert pages.loc["magnesium"].crawl_id == crawl_id_of(third)
            assert "One more sentence." in pages.loc["magnesium"].body_text
            changes = table(out, "changes")
            assert "removed" not in set(changes.change)
    finally:
        bed.stop()

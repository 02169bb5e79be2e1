"""The archivist: the second process that writes the WARC files and the catalog while
Scrapy downloads. Its life is tied to the crawl's, a stop is the crawl's to make, and
its failure is the crawl's failure, never a silent loss."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
from corpus_expect import expected_by_id
from faultproxy import FaultProxy
from helpers import FAST, warcio_check, wikiarchive
from test_interrupt import wait_for_open_file

from crawler import archivist
from crawler import settings as defaults
from crawler.checks import settings_problems
from crawler.run import project_settings


def archivists_of(pid: int) -> list[int]:
    """The archivist processes whose parent is *pid*."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes()
        except OSError:
            continue  # ended meanwhile
        parent = int(stat.rpartition(")")[2].split()[1])
        if parent == pid and b"crawler.archivist" in command:
            found.append(int(entry.name))
    return found


def outcomes(out: Path) -> list[str]:
    """The outcome of every crawl the catalog holds (committed ones only)."""
    if not (out / "catalog.sqlite").exists():
        return []
    with sqlite3.connect(out / "catalog.sqlite") as db:
        return [row[0] for row in db.execute("SELECT outcome FROM crawls ORDER BY seq")]


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return False
    return state != "Z"


def start_crawl(site: str, out: Path, *extra: str, session: bool = False) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "crawler.cli", "crawl", site, "--out", str(out), *FAST,
         "--delay", "0.05", *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=session,
    )


def the_archivist(process: subprocess.Popen) -> int:
    found = archivists_of(process.pid)
    assert len(found) == 1, f"archivists of the crawl: {found}"
    return found[0]


def test_the_wiki_sees_no_more_requests_at_once_than_the_concurrency(wiki, tmp_path):
    # Scrapy counts a response as in flight until the archivist has stored it, so the crawl
    # allows more than --concurrency in all; the wiki must still see at most that many.
    with FaultProxy(wiki.base_url) as proxy:
        proxy.delay(0.2, times=None, match="doku.php?id=")
        result = wikiarchive(
            "crawl", proxy.base_url, "--out", str(tmp_path / "out"), *FAST,
            "--delay", "0", "--concurrency", "2",
        )
        peak = proxy.peak_in_flight
    assert result.returncode == 0, result.stderr[-3000:]
    assert peak == 2


def test_what_the_archivist_logs_reaches_the_crawls_log(wiki, tmp_path):
    result = wikiarchive("crawl", wiki.base_url, "--out", str(tmp_path / "out"), *FAST,
                         "--log-level", "INFO")
    assert result.returncode == 0, result.stderr[-3000:]
    logged = [line for line in result.stderr.splitlines() if "[crawler.archivist] INFO:" in line]
    assert len(logged) == 1, result.stderr[-3000:]
    files = [p.name for p in (tmp_path / "out" / "warc").glob("*.warc.gz")]
    assert f"exchanges in {files[0]}" in logged[0] and len(files) == 1


def test_the_host_share_cannot_be_disabled():
    assert settings_problems(project_settings({})) == []
    off = {"DOWNLOADER_MIDDLEWARES": {**defaults.DOWNLOADER_MIDDLEWARES,
                                      "crawler.transfers.HostShareMiddleware": None}}
    (gone,) = settings_problems(project_settings(off))
    assert "HostShareMiddleware is disabled" in gone


def test_the_archivist_dies_with_a_killed_crawl(wiki, tmp_path):
    out = tmp_path / "out"
    process = start_crawl(wiki.base_url, out)
    wait_for_open_file(out, process, min_size=20_000)
    archivist = the_archivist(process)
    os.kill(process.pid, signal.SIGKILL)
    process.communicate()
    deadline = time.monotonic() + 10
    while alive(archivist) and time.monotonic() < deadline:
        time.sleep(0.02)  # polling for the process's end
    assert not alive(archivist)
    assert outcomes(out) == []  # nothing committed: the crawl is the WARC's to tell
    assert list((out / "warc").glob("*.open"))  # left for the next run's recovery


def test_a_stop_sent_to_the_whole_process_group_still_commits_the_crawl(wiki, tmp_path):
    # systemd and a terminal's Ctrl-C signal every process of the crawl, the archivist too;
    # the crawl stops gracefully and its archivist must still be there to commit it.
    out = tmp_path / "out"
    process = start_crawl(wiki.base_url, out, session=True)
    wait_for_open_file(out, process, min_size=20_000)
    assert the_archivist(process)
    os.killpg(process.pid, signal.SIGTERM)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 3, stderr[-3000:]
    assert "Stopped before the end (shutdown)" in stdout
    assert "Error:" not in stderr
    assert outcomes(out) == ["shutdown"]
    assert not list((out / "warc").glob("*.open"))
    assert warcio_check(sorted((out / "warc").glob("*.warc.gz"))).returncode == 0
    pages = pd.read_parquet(out / "tables" / "pages.parquet")
    assert 0 < len(pages) < len(expected_by_id())


def test_a_dead_archivist_fails_the_crawl_and_the_next_run_recovers(wiki, tmp_path):
    out = tmp_path / "out"
    process = start_crawl(wiki.base_url, out)
    wait_for_open_file(out, process, min_size=20_000)
    os.kill(the_archivist(process), signal.SIGKILL)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 1
    assert "Traceback" not in stderr
    errors = [line for line in stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, stderr[-3000:]
    assert "cannot write the archive" in errors[0]
    assert "the archiving process stopped" in errors[0]
    assert outcomes(out) == []
    assert list((out / "warc").glob("*.open"))

    again = wikiarchive("crawl", wiki.base_url, "--out", str(out), *FAST)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "Recovered" in again.stderr
    assert not list((out / "warc").glob("*.open"))
    assert warcio_check(sorted((out / "warc").glob("*.warc.gz"))).returncode == 0
    pages = pd.read_parquet(out / "tables" / "pages.parquet")
    assert sorted(pages.page_id) == sorted(expected_by_id())


def test_an_archivist_started_ahead_is_taken_once_or_ended():
    # `wikiarchive crawl` starts it before Scrapy sets up (its imports overlap); the
    # recorder takes it, or the run ends it when no crawl opened.
    archivist.start_spare()
    spare = archivist._spare
    assert spare is not None and spare._process.poll() is None
    assert archivist.take() is spare
    fresh = archivist.take()  # none waiting: a new one
    assert fresh is not spare
    for unused in (spare, fresh):
        unused.close()  # never opened: it reads the end of its pipe and exits
        assert unused._process.returncode == 0
    archivist.start_spare()
    dropped = archivist._spare
    archivist.drop_spare()
    assert archivist._spare is None and dropped._process.returncode == 0
    archivist.drop_spare()  # nothing waiting: nothing to do

"""Safe to schedule: one run at a time, and a killed crawl loses nothing already archived."""

from __future__ import annotations

import hashlib
import os
import random
import resource
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from corpus_expect import expected_by_id
from filelock import FileLock
from helpers import FAST, copy_output, wikiarchive
from helpers import warcio_check as check_files

from archive.recover import recover_file


def digests(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.glob("*.warc.gz")}


def crawl_rows(out: Path) -> list[tuple]:
    with sqlite3.connect(out / "catalog.sqlite") as db:
        return db.execute("SELECT crawl_id, outcome FROM crawls ORDER BY seq").fetchall()


def warcio_check(folder: Path) -> subprocess.CompletedProcess:
    return check_files(sorted(folder.glob("*.warc.gz")))


def test_second_run_on_the_same_folder_is_refused(wiki, tmp_path):
    out = tmp_path / "out"
    (out / "warc").mkdir(parents=True)
    with FileLock(out / ".wikiarchive.lock"):
        result = wikiarchive("crawl", wiki.base_url, "--out", str(out), *FAST)
        export = wikiarchive("export", str(out))
    assert result.returncode == 4
    assert result.stderr.strip() == f"Error: another wikiarchive run is using {out}"
    assert export.returncode == 4
    assert not list((out / "warc").iterdir())


def test_killed_crawl_leaves_the_archive_intact_and_the_next_run_completes(
    wiki, full_crawl, tmp_path
):
    out = copy_output(full_crawl.out, tmp_path / "out")  # a first, finished crawl
    before_files, before_crawls = digests(out / "warc"), crawl_rows(out)

    slow = [*FAST, "--delay", "0.05", "--full"]  # the last --delay wins
    process = subprocess.Popen(
        [sys.executable, "-m", "crawler.cli", "crawl", wiki.base_url, "--out", str(out), *slow],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        open_files = list((out / "warc").glob("*.open"))
        if open_files and open_files[0].stat().st_size > 20_000:
            break
        time.sleep(0.05)  # polling the crawl's progress, not waiting for the wiki
    else:
        process.kill()
        pytest.fail("the crawl never got going")
    os.kill(process.pid, signal.SIGKILL)
    process.wait()

    # Earlier WARC files and the catalog are untouched; the killed crawl's file is still open.
    assert digests(out / "warc") == before_files
    assert crawl_rows(out) == before_crawls
    assert list((out / "warc").glob("*.open"))

    again = wikiarchive("crawl", wiki.base_url, "--out", str(out), *FAST)
    assert again.returncode == 0, again.stderr
    assert "Recovered" in again.stderr
    assert not list((out / "warc").glob("*.open"))
    outcomes = [outcome for _, outcome in crawl_rows(out)]
    assert outcomes == ["finished", "interrupted", "finished"]
    check = warcio_check(out / "warc")
    assert check.returncode == 0, check.stdout
    pages = pd.read_parquet(out / "tables" / "pages.parquet")
    assert sorted(pages.page_id) == sorted(expected_by_id())


@pytest.mark.parametrize("cut", [1, 3, 0.5, 0.9])
def test_recovery_cuts_the_torn_tail(full_crawl, tmp_path_factory, cut):
    source = next((full_crawl.out / "warc").glob("*.warc.gz")).read_bytes()
    size = int(len(source) * cut) if isinstance(cut, float) else len(source) - cut
    torn = tmp_path_factory.mktemp("torn") / "wikiarchive-x-00000.warc.gz.open"
    torn.write_bytes(source[:size])
    result = recover_file(torn)
    assert result.path.name == "wikiarchive-x-00000.warc.gz"
    assert 0 < result.captures
    assert result.cut_bytes > 0
    kept = result.path.read_bytes()
    assert source.startswith(kept)
    assert warcio_check(result.path.parent).returncode == 0
    assert subprocess.run(["gzip", "-t", str(result.path)]).returncode == 0


def test_unreadable_open_file_is_set_aside_not_deleted(tmp_path):
    torn = tmp_path / "wikiarchive-y-00000.warc.gz.open"
    torn.write_bytes(b"\x1f\x8b\x08garbage")
    result = recover_file(torn)
    assert result.path.name.endswith(".damaged")
    assert result.path.read_bytes() == b"\x1f\x8b\x08garbage"


def limit_file_size(limit: int):
    """For a child process: writes past `limit` bytes fail with EFBIG, like a full disk."""

    def apply() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


def tables_digest(out: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in (out / "tables").iterdir()}


def test_write_failure_stops_the_crawl_and_keeps_what_was_written(wiki, full_crawl, tmp_path):
    out = copy_output(full_crawl.out, tmp_path / "out")  # a first, finished crawl
    before = digests(out / "warc"), crawl_rows(out), tables_digest(out)

    full = subprocess.run(
        [sys.executable, "-m", "crawler.cli", "crawl", wiki.base_url, "--out", str(out),
         *FAST, "--full"],
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=limit_file_size(60_000),
    )
    assert full.returncode == 1
    assert "Traceback" not in full.stderr
    errors = [line for line in full.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and "cannot write the archive" in errors[0], full.stderr
    assert (digests(out / "warc"), crawl_rows(out), tables_digest(out)) == before
    assert list((out / "warc").glob("*.open"))  # the torn file, left for recovery

    again = wikiarchive("crawl", wiki.base_url, "--out", str(out), *FAST, "--full")
    assert again.returncode == 0, again.stderr
    assert not list((out / "warc").glob("*.open"))
    assert warcio_check(out / "warc").returncode == 0
    pages = pd.read_parquet(out / "tables" / "pages.parquet")
    assert sorted(pages.page_id) == sorted(expected_by_id())


def start_slow_crawl(wiki, out: Path) -> subprocess.Popen:
    slow = [*FAST, "--delay", "0.05"]  # the last --delay wins
    return subprocess.Popen(
        [sys.executable, "-m", "crawler.cli", "crawl", wiki.base_url, "--out", str(out), *slow],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )


def wait_for_open_file(out: Path, process: subprocess.Popen, min_size: int) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        files = list((out / "warc").glob("*.open"))
        if files and files[0].stat().st_size > min_size:
            return
        if process.poll() is not None:
            pytest.fail("the crawl ended before it could be stopped")
        time.sleep(0.02)  # polling the crawl's progress, not waiting for the wiki
    process.kill()
    pytest.fail("the crawl never got going")


def article_requests(out: Path) -> dict[str, list[str]]:
    """Page ids requested as articles, by crawl id, read from the WARC files."""
    from test_incremental import article_requests as of_crawl

    from archive.reader import read_warcinfo

    crawl_ids = {read_warcinfo(p)["wikiarchive-crawl-id"] for p in (out / "warc").glob("*.gz")}
    return {crawl_id: of_crawl(out, crawl_id) for crawl_id in crawl_ids}


def test_killed_at_random_points_then_resumed_archives_every_page_once(wiki, tmp_path):
    out = tmp_path / "out"
    rng = random.Random(4)
    for _ in range(3):
        process = start_slow_crawl(wiki, out)
        wait_for_open_file(out, process, min_size=1_000)
        time.sleep(rng.uniform(0.0, 1.0))  # the kill lands at a random point of the crawl
        os.kill(process.pid, signal.SIGKILL)
        process.communicate()
    final = wikiarchive("crawl", wiki.base_url, "--out", str(out), *FAST)
    assert final.returncode == 0, final.stderr
    assert "(incremental)" in final.stdout  # resumed, not started over
    pages = pd.read_parquet(out / "tables" / "pages.parquet")
    assert sorted(pages.page_id) == sorted(expected_by_id())  # every page, once
    requested = article_requests(out)
    final_id = final.stdout.split()[1]
    earlier = {p for crawl_id, ids in requested.items() if crawl_id != final_id for p in ids}
    # the resuming run fetched what the killed runs had not archived, and nothing else
    assert set(requested[final_id]) == set(expected_by_id()) - earlier
    assert warcio_check(out / "warc").returncode == 0
    assert not list((out / "warc").glob("*.open"))


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_sigterm_and_sigint_stop_gracefully(wiki, tmp_path, signum):
    out = tmp_path / "out"
    process = start_slow_crawl(wiki, out)
    wait_for_open_file(out, process, min_size=20_000)
    process.send_signal(signum)
    stdout, _ = process.communicate(timeout=60)
    assert process.returncode == 3
    assert "Stopped before the end (shutdown)" in stdout
    assert not list((out / "warc").glob("*.open"))  # WARC closed, with its summary
    assert warcio_check(out / "warc").returncode == 0
    assert crawl_rows(out)[0][1] == "shutdown"
    stopped = pd.read_parquet(out / "tables" / "pages.parquet")
    assert 0 < len(stopped) < len(expected_by_id())
    again = wikiarchive("crawl", wiki.base_url, "--out", str(out), *FAST)
    assert again.returncode == 0, again.stderr
    pages = pd.read_parquet(out / "tables" / "pages.parquet")
    assert sorted(pages.page_id) == sorted(expected_by_id())

"""The archive replays in pywb, and ``OUT/indexes/index.cdxj`` is an index pywb can use.

The session's history (tests/conftest.py): a fresh test wiki crawled, really edited
(tests/edits.py: among others, one article gets a new title, a new sentence and a new
footnote) and crawled again, incrementally (its unchanged robots.txt answer becomes a
revisit record). The WARC files go into a pywb collection the documented way
(``wb-manager init`` / ``wb-manager add``), and a second collection is served straight from
``OUT/warc`` with our own ``OUT/indexes/index.cdxj``. One ``wayback`` server on 127.0.0.1
serves both; every expected value comes from the wiki sources, every archived byte is read
by warcio.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import pytest
from corpus_expect import expected_by_id, footnotes, page_title
from edits import NEW_FOOTNOTE, NEW_SENTENCE, NEW_TITLE, RETITLED, retitled_source
from helpers import copy_output, crawl_once, library_index, warc_record_at, wikiarchive
from warcio.archiveiterator import ArchiveIterator
from warcio.timeutils import iso_date_to_timestamp
from wikibed import http_get

import archive.index as index_module
from archive.index import PARTS_DIR, index_path, part_name, parts_dir, update_index
from crawler.parse import parse_page

EDITED = RETITLED
COLL = "wiki"  # built with wb-manager
BY_INDEX = "byindex"  # served from OUT/warc with OUT/indexes/index.cdxj
BIN = Path(sys.executable).parent


def tool(name: str) -> str:
    path = BIN / name
    assert path.exists(), f"{name} is not installed next to {sys.executable} (pip install pywb)"
    return str(path)


def edited_source() -> str:
    return retitled_source()


def index_entries(out: Path) -> list[tuple[str, str, dict]]:
    lines = index_path(out).read_text(encoding="utf-8").splitlines()
    return [(key, ts, json.loads(rest)) for key, ts, rest in (ln.split(" ", 2) for ln in lines)]


def captures_of(out: Path, url: str) -> list[tuple[str, dict]]:
    """(timestamp, fields) of the index lines for url, oldest first."""
    return sorted((ts, f) for _, ts, f in index_entries(out) if f["url"] == url)


def part_mtimes(out: Path) -> dict[str, int]:
    return {p.name: p.stat().st_mtime_ns for p in (out / "indexes" / PARTS_DIR).iterdir()}


def archived_body(out: Path, fields: dict) -> bytes:
    """The payload of the record an index line points at, read by warcio."""
    _, body = warc_record_at(out / "warc" / fields["filename"], int(fields["offset"]))
    return body


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Wayback:
    """pywb's ``wayback`` server in a subprocess, bound to 127.0.0.1 (stopped by stop())."""

    def __init__(self, root: Path):
        self.root = root
        self.proc: subprocess.Popen | None = None
        self.port = 0

    def start(self, timeout: float = 40) -> None:
        for _ in range(3):  # another process may take the free port first
            self.port = free_port()
            log = open(self.root / "wayback.log", "ab")  # noqa: SIM115 - child keeps it
            self.proc = subprocess.Popen(
                [tool("wayback"), "-b", "127.0.0.1", "-p", str(self.port)],
                cwd=self.root,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            log.close()
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline and self.proc.poll() is None:
                try:
                    if http_get(self.url("/"), timeout=2).status == 200:
                        return
                except OSError:
                    time.sleep(0.2)  # pywb is still starting
            self.stop()
        tail = (self.root / "wayback.log").read_text(errors="replace")[-2000:]
        pytest.fail(f"wayback did not come up:\n{tail}", pytrace=False)

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None:
            return
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def get(self, coll: str, ts: str, mode: str, url: str):
        return http_get(self.url(f"/{coll}/{ts}{mode}/{url}"), timeout=30)


@pytest.fixture(scope="module")
def replay(history, tmp_path_factory):
    out = history.out
    first, second = (run.stdout for run in history.runs)
    assert "(full)" in first and "(incremental)" in second
    parts = f"indexes/{PARTS_DIR}/"
    parts_after_first = {
        path.removeprefix(parts): mtime
        for path, mtime in history.files_after_first.items()
        if path.startswith(parts)
    }
    server = Wayback(tmp_path_factory.mktemp("pywb"))
    try:
        warcs = sorted((out / "warc").glob("*.warc.gz"))
        run = [tool("wb-manager")]
        for args in (["init", COLL], ["add", COLL, *map(str, warcs)]):
            done = subprocess.run(
                run + args, cwd=server.root, capture_output=True, text=True, timeout=60
            )
            assert done.returncode == 0, done.stderr[-2000:]
        (server.root / "config.yaml").write_text(
            "collections:\n"
            f"  {BY_INDEX}:\n"
            f"    index_paths: {json.dumps(str(index_path(out)))}\n"
            f"    archive_paths: {json.dumps(str(out / 'warc') + '/')}\n",
            encoding="utf-8",
        )
        server.start()
        yield {
            "bed": history.bed,
            "out": out,
            "server": server,
            "url": history.bed.base_url + "doku.php?id=" + EDITED,
            "parts_after_first": parts_after_first,
        }
    finally:
        server.stop()


def article(html: bytes, replay, url: str | None = None) -> tuple[str, list[str]]:
    """Title and footnote texts of a served page, read by the crawler's own parser."""
    page = parse_page(url or replay["url"], html, site=replay["bed"].base_url)
    return page.title, [f.text for f in page.footnotes]


def old_and_new(replay) -> tuple[str, str]:
    """Timestamps of the edited article's first two captures: before and after the edit."""
    found = [
        ts for ts, f in captures_of(replay["out"], replay["url"]) if f["mime"] != "warc/revisit"
    ]
    assert len(found) >= 2, found
    assert found[0] < found[1]
    return found[0], found[1]


def test_index_lists_every_article_sorted_and_located(replay):
    out, base = replay["out"], replay["bed"].base_url
    lines = index_path(out).read_text(encoding="utf-8").splitlines()
    assert lines == sorted(lines)
    entries = index_entries(out)
    urls = {f["url"] for _, _, f in entries}
    for page_id in expected_by_id():
        assert base + "doku.php?id=" + quote(page_id, safe=":") in urls, page_id
    # Every line points at a record of its URL and date in OUT/warc, or (a capture a 304
    # confirmed) at an earlier response holding the same bytes.
    for _, ts, fields in entries[:: max(1, len(entries) // 25)]:
        with open(out / "warc" / fields["filename"], "rb") as stream:
            stream.seek(int(fields["offset"]))
            record = next(iter(ArchiveIterator(stream)))
        date = iso_date_to_timestamp(record.rec_headers.get_header("WARC-Date"))
        if date == ts:
            assert record.rec_headers.get_header("WARC-Target-URI") == fields["url"]
        else:
            assert date < ts and record.rec_type == "response", (fields, date)
            digest = record.rec_headers.get_header("WARC-Payload-Digest")
            assert digest.endswith(fields["digest"].split(":")[-1]), (fields, digest)
    # Two crawls, two WARC files, each indexed once into its own part.
    files = sorted(p.name for p in (out / "warc").glob("*.warc.gz"))
    assert {f["filename"] for _, _, f in entries} == set(files) and len(files) == 2
    assert sorted(p.name for p in (out / "indexes").iterdir()) == [PARTS_DIR, "index.cdxj"]


def test_each_files_part_is_the_one_cdxj_indexer_makes_of_it(replay):
    # Pages, requisites, media, revisits, 304s and the crawls' metadata records.
    out = replay["out"]
    for warc in sorted((out / "warc").glob("*.warc.gz")):
        part = parts_dir(out) / part_name(warc.name, warc.stat().st_size)
        assert part.read_bytes() == library_index(warc), warc.name


def test_a_crawl_indexes_its_file_as_it_writes_it(wiki, tmp_path):
    out = tmp_path / "out"
    crawl = crawl_once(wiki, out, "--log-level", "DEBUG")
    (warc,) = (out / "warc").glob("*.warc.gz")
    assert "by reading it back" not in crawl.stderr
    part = parts_dir(out) / part_name(warc.name, warc.stat().st_size)
    assert part.read_bytes() == library_index(warc)
    # Without its part, the file is read back (and the log says so).
    part.unlink()
    export = wikiarchive("export", str(out), "--log-level", "DEBUG")
    assert export.returncode == 0, export.stderr[-3000:]
    assert f"Indexing {warc.name} by reading it back" in export.stderr
    assert part.read_bytes() == library_index(warc)


def test_index_update_is_incremental(replay, tmp_path):
    out = replay["out"]
    parts = part_mtimes(out)
    assert len(parts) == 2 and len(replay["parts_after_first"]) == 1
    for name, mtime in replay["parts_after_first"].items():
        assert parts[name] == mtime, name  # the first crawl's file was not indexed again
    copy = copy_output(out, tmp_path / "out")  # the shared history stays as it is
    assert update_index(copy) == index_path(copy)
    assert index_path(copy).read_bytes() == index_path(out).read_bytes()


def test_an_index_larger_than_the_sort_buffer_is_sorted_in_runs_alike(
    replay, tmp_path, monkeypatch
):
    # A buffer of a few lines makes cdxj-indexer sort in runs on disk and merge them.
    out = replay["out"]
    copy = copy_output(out, tmp_path / "out")
    for part in (copy / "indexes" / PARTS_DIR).iterdir():
        part.unlink()
    monkeypatch.setattr(index_module, "SORT_BUFFER_CHARS", 1000)
    runs = []
    sorter = index_module._sorter_class()
    spill = sorter.write_to_temp
    monkeypatch.setattr(sorter, "write_to_temp", lambda w: runs.append(spill(w)) or runs[-1])
    update_index(copy)
    assert len(runs) > 5
    # The runs went beside the parts (not to the system's temporary folder), and are gone.
    assert {Path(run).parent for run in runs} == {copy / "indexes" / PARTS_DIR}
    assert not any(Path(run).exists() for run in runs)
    assert len(index_path(out).read_bytes()) > 10 * 1000
    assert index_path(copy).read_bytes() == index_path(out).read_bytes()


def test_raw_replay_serves_the_archived_bytes(replay):
    out, server = replay["out"], replay["server"]
    old, new = old_and_new(replay)
    for ts in (old, new):
        (fields,) = [f for t, f in captures_of(out, replay["url"]) if t == ts]
        archived = archived_body(out, fields)
        for coll in (COLL, BY_INDEX):
            got = server.get(coll, ts, "id_", replay["url"])
            assert got.status == 200, (coll, ts, got.text[:500])
            assert got.body == archived, (coll, ts)


def test_rewritten_replay_carries_title_and_footnotes(replay):
    server = replay["server"]
    expected = expected_by_id()[EDITED]
    old, _ = old_and_new(replay)
    for coll in (COLL, BY_INDEX):
        frame = server.get(coll, old, "", replay["url"])  # pywb's framed view
        assert frame.status == 200
        assert f'timestamp: "{old}"' in frame.text and replay["url"] in frame.text
        page = server.get(coll, old, "mp_", replay["url"])  # the page inside the frame
        assert page.status == 200
        title, notes = article(page.body, replay)
        assert title == expected.title == "Magnesium"
        assert notes == [f.text for f in expected.footnotes] and len(notes) == 2
        # Links now lead back into the archive, not to the live wiki.
        assert f'href="/{coll}/{old}mp_/{replay["bed"].base_url}doku.php?id=magnesium_sulfate"' in (
            page.text
        )


def test_each_version_at_its_own_timestamp(replay):
    server = replay["server"]
    old, new = old_and_new(replay)
    source = edited_source()
    new_notes = [f.text for f in footnotes(source)]
    assert new_notes[-1] == NEW_FOOTNOTE and page_title(source, EDITED) == NEW_TITLE
    old_notes = [f.text for f in expected_by_id()[EDITED].footnotes]
    for coll in (COLL, BY_INDEX):
        for mode in ("id_", "mp_"):
            before = server.get(coll, old, mode, replay["url"])
            after = server.get(coll, new, mode, replay["url"])
            assert article(before.body, replay) == ("Magnesium", old_notes), (coll, mode)
            assert article(after.body, replay) == (NEW_TITLE, new_notes), (coll, mode)
            assert NEW_SENTENCE not in before.text and NEW_SENTENCE in after.text


def test_revisit_records_replay_the_original_payload(replay):
    out, server = replay["out"], replay["server"]
    entries = [f | {"ts": ts} for _, ts, f in index_entries(out)]
    originals = {(f["url"], f["digest"]): f for f in entries if f["mime"] != "warc/revisit"}
    # A stylesheet whose URL changed (DokuWiki's seed of its configuration) but whose bytes
    # did not is a revisit of the first URL's capture (WARC-Refers-To-Target-URI).
    by_digest = {f["digest"]: f for f in entries if f["mime"] != "warc/revisit"}
    revisits = [f for f in entries if f["mime"] == "warc/revisit"]
    # robots.txt (404 here) is fetched by every crawl: the second one's is a revisit
    assert any(f["url"].endswith("/robots.txt") for f in revisits), revisits
    for revisit in revisits:
        original = originals.get((revisit["url"], revisit["digest"])) or by_digest[
            revisit["digest"]
        ]
        body = archived_body(out, original)
        for coll in (COLL, BY_INDEX):
            got = server.get(coll, revisit["ts"], "id_", revisit["url"])
            assert (got.status, got.body) == (int(revisit["status"]), body), (
                coll,
                revisit["url"],
                got.text[-300:],
            )

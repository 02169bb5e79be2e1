"""The WARC writer on its own: record shape, rotation, .open naming, warcio's own checks,
the index part each file gets as it is written (checked against cdxj-indexer's own)."""

from __future__ import annotations

import itertools
import json
import logging
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, datetime
from functools import partial

from helpers import library_index
from warcio.archiveiterator import ArchiveIterator

import archive.index as index_module
from archive.index import (
    SPILL_PREFIX,
    FileIndexer,
    index_path,
    part_name,
    parts_dir,
    update_index,
)
from archive.recover import recover_open_files
from archive.writer import Exchange, RotatingWarcWriter
from crawler.recorder import dechunked_head

WHEN = datetime(2024, 6, 7, 3, 0, 0, 123456, tzinfo=UTC)
HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\n\r\n"


def exchange(n: int = 0, body: bytes = b"<html>x</html>") -> Exchange:
    url = f"http://127.0.0.1:9/wiki/doku.php?id=%CE%B1-page{n}"
    request = f"GET /wiki/doku.php?id=%CE%B1-page{n} HTTP/1.1\r\nHost: 127.0.0.1:9\r\n\r\n"
    return Exchange(url, request.encode(), HEAD, body, WHEN, ip_address="127.0.0.1")


def fixed_writer(directory, **kwargs) -> RotatingWarcWriter:
    ids = (f"<urn:uuid:00000000-0000-0000-0000-{n:012d}>" for n in itertools.count())
    return RotatingWarcWriter(
        directory,
        prefix="test",
        info={"software": "wikiarchive-test"},
        clock=lambda: WHEN,
        make_id=lambda: next(ids),
        **kwargs,
    )


def records(path):
    with open(path, "rb") as stream:
        return [
            (r.rec_type, r.rec_headers, r.http_headers, r.content_stream().read())
            for r in ArchiveIterator(stream)
        ]


def test_open_suffix_until_closed(tmp_path):
    writer = fixed_writer(tmp_path)
    writer.write_exchange(exchange())
    assert [p.name for p in tmp_path.iterdir()] == ["test-20240607030000123-00000.warc.gz.open"]
    writer.close()
    assert [p.name for p in tmp_path.iterdir()] == ["test-20240607030000123-00000.warc.gz"]


def test_records_linked_and_complete(tmp_path):
    writer = fixed_writer(tmp_path)
    location = writer.write_exchange(exchange())
    writer.close()
    path = tmp_path / location.filename
    (info, response, request) = records(path)
    assert info[0] == "warcinfo"
    assert info[1].get_header("WARC-Filename") == location.filename
    assert response[0] == "response" and request[0] == "request"
    assert request[1].get_header("WARC-Concurrent-To") == response[1].get_header("WARC-Record-ID")
    for headers in (response[1], request[1]):
        assert headers.get_header("WARC-Target-URI") == "http://127.0.0.1:9/wiki/doku.php?id=%CE%B1-page0"
        assert headers.get_header("WARC-Date") == "2024-06-07T03:00:00.123456Z"
        assert headers.protocol == "WARC/1.1"
    assert response[1].get_header("WARC-IP-Address") == "127.0.0.1"
    assert response[1].get_header("WARC-Payload-Digest").startswith("sha1:")
    assert response[1].get_header("WARC-Block-Digest").startswith("sha1:")
    # repeated headers survive
    assert [v for k, v in response[2].headers if k == "Set-Cookie"] == ["a=1", "b=2"]
    assert response[3] == b"<html>x</html>"
    assert request[2].protocol == "GET"
    assert request[2].statusline.startswith("/wiki/doku.php?id=%CE%B1-page0")


def test_offset_points_at_response(tmp_path):
    writer = fixed_writer(tmp_path)
    locations = [writer.write_exchange(exchange(n, body=b"page %d" % n)) for n in range(3)]
    writer.close()
    for n, location in enumerate(locations):
        with open(tmp_path / location.filename, "rb") as stream:
            stream.seek(location.offset)
            record = next(iter(ArchiveIterator(stream)))
            assert record.rec_type == "response"
            assert record.content_stream().read() == b"page %d" % n


def test_rotation_keeps_pairs_together(tmp_path):
    writer = fixed_writer(tmp_path, max_size=1)
    for n in range(3):
        writer.write_exchange(exchange(n))
    writer.close()
    files = sorted(tmp_path.iterdir())
    assert [p.name[-13:] for p in files] == ["00000.warc.gz", "00001.warc.gz", "00002.warc.gz"]
    for path in files:
        assert [r[0] for r in records(path)] == ["warcinfo", "response", "request"]


def test_byte_identical_with_fixed_clock_and_ids(tmp_path):
    outputs = []
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        writer = fixed_writer(tmp_path / name)
        writer.write_exchange(exchange())
        writer.close()
        outputs.append(next((tmp_path / name).iterdir()).read_bytes())
    assert outputs[0] == outputs[1]


def test_warcio_check_passes(tmp_path):
    writer = fixed_writer(tmp_path)
    writer.write_exchange(exchange(body=bytes(range(256)) * 4))  # binary body, untouched
    writer.write_metadata("crawl-1", {"pages": 1})
    writer.close()
    path = next(tmp_path.iterdir())
    result = subprocess.run(
        [sys.executable, "-m", "warcio.cli", "check", "-v", str(path)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "digest pass" in result.stdout


def test_dechunked_head_keeps_original_header():
    head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: text/html\r\n\r\n"
    fixed = dechunked_head(head, 42)
    assert b"\r\nX-Archive-Orig-Transfer-Encoding: chunked\r\n" in fixed
    assert b"\r\nContent-Length: 42\r\n" in fixed
    assert fixed.endswith(b"\r\n\r\n")
    assert not any(
        line.lower().startswith(b"transfer-encoding") for line in fixed.split(b"\r\n")
    )


def test_dechunked_head_leaves_plain_heads_alone():
    assert dechunked_head(HEAD, 3) == HEAD


def test_revisit_record_refers_to_the_original(tmp_path):
    writer = fixed_writer(tmp_path)
    first = writer.write_exchange(exchange(body=b"same payload"))
    again = exchange(body=b"same payload")
    second = writer.write_exchange(again, refers_to=first)
    writer.close()
    assert not first.revisit and second.revisit
    (_, response, _, revisit, request) = records(tmp_path / first.filename)
    assert revisit[0] == "revisit"
    headers = revisit[1]
    assert headers.get_header("WARC-Profile").endswith("/revisit/identical-payload-digest")
    assert headers.get_header("WARC-Refers-To") == first.record_id
    assert headers.get_header("WARC-Refers-To-Target-URI") == first.uri
    assert headers.get_header("WARC-Refers-To-Date") == first.date
    assert headers.get_header("WARC-Payload-Digest") == response[1].get_header(
        "WARC-Payload-Digest"
    )
    assert headers.get_header("WARC-Payload-Digest") == again.payload_digest
    assert revisit[2].statusline.startswith("200")  # the HTTP head is kept
    assert request[1].get_header("WARC-Concurrent-To") == second.record_id
    result = subprocess.run(
        [sys.executable, "-m", "warcio.cli", "check", str(tmp_path / first.filename)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout


# ---- the index part each file gets as it is written (archive.index.FileIndexer)

NOT_MODIFIED_HEAD = b"HTTP/1.1 304 Not Modified\r\nETag: \"x\"\r\n\r\n"


def indexing_writer(directory, parts, **kwargs) -> RotatingWarcWriter:
    return fixed_writer(directory, indexer=partial(FileIndexer, parts), **kwargs)


def write_every_kind(writer: RotatingWarcWriter) -> None:
    """Responses of several types, a revisit, a 304 revisit and a metadata record."""
    pages = [writer.write_exchange(exchange(n, body=b"<p>page %d</p>" % n)) for n in range(5)]
    png = Exchange(
        "http://127.0.0.1:9/wiki/lib/exe/fetch.php?media=a.png",
        b"GET /wiki/lib/exe/fetch.php?media=a.png HTTP/1.1\r\nHost: 127.0.0.1:9\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Type: image/png; charset=binary\r\n\r\n",
        bytes(range(256)), WHEN,
    )
    writer.write_exchange(png)
    writer.write_exchange(exchange(9, body=b"<p>page 0</p>"), refers_to=pages[0])
    confirmed = replace(exchange(3, body=b""), response_head=NOT_MODIFIED_HEAD)
    writer.write_exchange(
        confirmed, refers_to=pages[3], not_modified=exchange(3, b"<p>page 3</p>").payload_digest
    )
    writer.write_metadata("crawl-1", {"pages": 5})


def test_each_file_gets_the_index_part_the_library_makes_of_it(tmp_path):
    warcs, parts = tmp_path / "warc", tmp_path / "parts"
    writer = indexing_writer(warcs, parts, max_size=4000)
    write_every_kind(writer)
    writer.close()
    files = sorted(warcs.iterdir())
    assert len(files) >= 2  # rotated: each file has its own part
    assert sorted(p.name for p in parts.iterdir()) == sorted(
        part_name(f.name, f.stat().st_size) for f in files
    )
    indexed = b""
    for warc in files:
        part = (parts / part_name(warc.name, warc.stat().st_size)).read_bytes()
        assert part == library_index(warc)
        indexed += part
    kinds = [json.loads(line.split(b" ", 2)[2]) for line in indexed.splitlines()]
    assert {k["mime"] for k in kinds} >= {"text/html", "image/png", "warc/revisit",
                                          "application/json"}
    assert {k.get("status") for k in kinds} >= {"200", "304"}


def test_a_part_larger_than_the_sort_buffer_is_sorted_in_runs_alike(tmp_path, monkeypatch):
    monkeypatch.setattr(index_module, "SORT_BUFFER_CHARS", 600)
    warcs, parts = tmp_path / "warc", tmp_path / "parts"
    writer = indexing_writer(warcs, parts)
    spilled = []
    original = writer.indexer

    def watched(name):
        indexer = original(name)
        spill = indexer._sorter.write_to_temp
        indexer._sorter.write_to_temp = lambda: spilled.append(1) or spill()
        return indexer

    writer.indexer = watched
    for n in range(40):
        writer.write_exchange(exchange(n, body=b"<p>page %d</p>" % n))
    writer.close()
    (warc,) = warcs.iterdir()
    assert len(spilled) > 5
    assert sorted(p.name for p in parts.iterdir()) == [part_name(warc.name, warc.stat().st_size)]
    assert (parts / part_name(warc.name, warc.stat().st_size)).read_bytes() == library_index(warc)


def test_a_part_that_cannot_be_written_leaves_the_file_to_be_read_back(tmp_path, caplog):
    out = tmp_path / "out"
    parts = parts_dir(out)
    parts.parent.mkdir(parents=True)
    parts.write_text("not a folder")  # the part cannot go there
    writer = indexing_writer(out / "warc", parts)
    write_every_kind(writer)
    writer.close()
    (warc,) = (out / "warc").iterdir()
    assert warc.name.endswith(".warc.gz")  # closed all the same
    assert "Could not write the index part" in caplog.text
    parts.unlink()
    with caplog.at_level(logging.DEBUG, logger="archive.index"):
        update_index(out)
    assert f"Indexing {warc.name} by reading it back" in caplog.text
    part = parts / part_name(warc.name, warc.stat().st_size)
    assert part.read_bytes() == library_index(warc)
    assert len(index_path(out).read_bytes().splitlines()) == len(part.read_bytes().splitlines())


def test_runs_a_killed_crawl_left_are_removed_by_the_next_index_update(tmp_path, monkeypatch):
    monkeypatch.setattr(index_module, "SORT_BUFFER_CHARS", 600)
    out = tmp_path / "out"
    writer = indexing_writer(out / "warc", parts_dir(out))
    for n in range(40):
        writer.write_exchange(exchange(n, body=b"<p>page %d</p>" % n))
    writer._file.close()  # killed here: the file keeps its .open name, the runs stay
    assert any(p.name.startswith(SPILL_PREFIX) for p in parts_dir(out).iterdir())
    recover_open_files(out / "warc")
    (recovered,) = (out / "warc").glob("*.warc.gz")
    update_index(out)
    assert [p.name for p in parts_dir(out).iterdir()] == [
        part_name(recovered.name, recovered.stat().st_size)
    ]
    assert len(index_path(out).read_bytes().splitlines()) == 40


def test_an_indexing_failure_leaves_the_records_and_the_file_to_be_read_back(
    tmp_path, monkeypatch, caplog
):
    out = tmp_path / "out"
    writer = indexing_writer(out / "warc", parts_dir(out))
    calls = []
    add = FileIndexer.add

    def failing(self, record, offset, length):
        calls.append(offset)
        if len(calls) == 3:
            raise ValueError("no key for this record")
        add(self, record, offset, length)

    monkeypatch.setattr(FileIndexer, "add", failing)
    write_every_kind(writer)
    writer.close()
    (warc,) = (out / "warc").iterdir()
    assert "Could not index" in caplog.text
    assert [r[0] for r in records(warc)].count("response") == 6  # every record written
    assert not parts_dir(out).exists() or not any(parts_dir(out).iterdir())
    update_index(out)
    part = parts_dir(out) / part_name(warc.name, warc.stat().st_size)
    assert part.read_bytes() == library_index(warc)

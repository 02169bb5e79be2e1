"""The WARC writer on its own: record shape, rotation, .open naming, warcio's own checks."""

from __future__ import annotations

import itertools
import subprocess
import sys
from datetime import UTC, datetime

from warcio.archiveiterator import ArchiveIterator

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

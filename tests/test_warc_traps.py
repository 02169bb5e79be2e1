"""The WARC recorder against the known traps of Scrapy WARC plugins.

A real HTTP server on 127.0.0.1 serves hand-crafted responses, byte for byte;
real Scrapy crawls (``tests/record_urls.py``, the project's settings, in a
subprocess each) archive them; warcio's own ``ArchiveIterator`` and ``warcio
check`` read the files back, and cdxj-indexer indexes them.
"""

from __future__ import annotations

import gzip
import json
import re
import socketserver
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator
from warcio.statusandheaders import StatusAndHeaders

ROOT = Path(__file__).resolve().parent.parent
RECORD_URLS = ROOT / "tests" / "record_urls.py"
CRLF = b"\r\n"


def http(status_line: str, headers: list[tuple[str, str]], body: bytes = b"") -> bytes:
    head = [status_line.encode("latin-1")]
    head += [f"{name}: {value}".encode("latin-1") for name, value in headers]
    return CRLF.join(head) + CRLF + CRLF + body


def ok(body: bytes, content_type: str = "text/html; charset=utf-8", **extra: str) -> bytes:
    headers = [("Content-Type", content_type), ("Content-Length", str(len(body)))]
    headers += [(name.replace("_", "-"), value) for name, value in extra.items()]
    return http("HTTP/1.1 200 OK", headers, body)


def chunked(payload: bytes, sizes: tuple[int, ...]) -> bytes:
    out, pos = [], 0
    for size in sizes:
        out.append(b"%x\r\n%s\r\n" % (size, payload[pos : pos + size]))
        pos += size
    assert pos == len(payload)
    return b"".join(out) + b"0\r\n\r\n"


PAGE = "<!DOCTYPE html><html><body><p>Gray matter, white matter: ÿ α</p></body></html>\n"
GZ_PLAIN = (PAGE * 40).encode()
GZ_BODY = gzip.compress(GZ_PLAIN, mtime=0)
CHUNKED_PAYLOAD = b"<html>" + b"0123456789abcdef" * 20 + b"</html>"
# A payload of its own: an identical one would be archived as a revisit record.
STALE_LENGTH_PAYLOAD = b"<html>" + b"fedcba9876543210" * 20 + b"</html>"
CHUNKED_GZ_PLAIN = b"<html>" + b"compressed and chunked " * 30 + b"</html>"
CHUNKED_GZ_BODY = gzip.compress(CHUNKED_GZ_PLAIN, mtime=0)
ALL_BYTES = bytes(range(256))
BAD_UTF8_HTML = b"<html><body>caf\xe9 \xff\xfe \xc3\x28 \xed\xa0\x80 \x80\x00</body></html>"
QUERY_PATH = "/wiki/doku.php?id=a:b&x=1"
ALPHA_QUERY = "/wiki/doku.php?id=%CE%B1-page"
ALPHA_PATH = "/wiki/%CE%B1%CE%B2/doku.php?id=%CE%B1-page"

# Request target exactly as it arrives on the wire -> response bytes exactly as sent.
RESPONSES: dict[str, bytes] = {
    "/gzip": ok(GZ_BODY, Content_Encoding="gzip", Vary="Accept-Encoding"),
    "/redirect/301": http(
        "HTTP/1.1 301 Moved Permanently",
        [("Location", "/redirect/target-301"), ("Content-Length", "0")],
    ),
    "/redirect/302": http(
        "HTTP/1.1 302 Found",
        [
            ("Location", "/redirect/target-302"),
            ("Content-Type", "text/html"),
            ("Content-Length", "12"),
        ],
        b"moved: go on",
    ),
    "/redirect/target-301": ok(b"<html>target of 301</html>"),
    "/redirect/target-302": ok(b"<html>target of 302</html>"),
    "/headers/repeated": http(
        "HTTP/1.1 200 OK",
        [
            ("Content-Type", "text/html"),
            ("Set-Cookie", "DokuWiki=abc123; path=/wiki/; HttpOnly"),
            ("Link", "<https://example.org/a>; rel=preload"),
            ("Set-Cookie", "DW7fa065a06cb74b536c124cfbe56ac6d3=deleted; path=/"),
            ("Link", "<https://example.org/b>; rel=preconnect"),
            ("Content-Length", "9"),
        ],
        b"<p>hi</p>",
    ),
    # Header lines a normalising writer would rewrite.
    "/headers/verbatim": (
        b"HTTP/1.1 200 OK\r\n"
        b"Content-Type:text/plain\r\n"
        b"X-Padded:    lots of space\r\n"
        b"X-Folded: first part\r\n"
        b"\tsecond part\r\n"
        b"x-lower-case: yes\r\n"
        b"X-Latin-1: caf\xe9\r\n"
        b"Content-Length: 4\r\n"
        b"\r\n"
        b"body"
    ),
    "/length/keep-alive": ok(b"<html>kept alive</html>", Connection="keep-alive"),
    "/length/close": ok(b"<html>then closed</html>", Connection="close"),
    "/chunked": http(
        "HTTP/1.1 200 OK",
        [
            ("Content-Type", "text/html"),
            ("Transfer-Encoding", "chunked"),
            ("Connection", "keep-alive"),
        ],
        chunked(CHUNKED_PAYLOAD, (1, 100, 3, len(CHUNKED_PAYLOAD) - 104)),
    ),
    "/chunked/gzip": http(
        "HTTP/1.1 200 OK",
        [
            ("Content-Type", "text/html"),
            ("Content-Encoding", "gzip"),
            ("Transfer-Encoding", "chunked"),
        ],
        chunked(CHUNKED_GZ_BODY, (10, len(CHUNKED_GZ_BODY) - 10)),
    ),
    # Invalid but seen in the wild: the chunked coding wins, the length is stale.
    "/chunked/with-length": http(
        "HTTP/1.1 200 OK",
        [("Content-Length", "999"), ("Transfer-Encoding", "chunked")],
        chunked(STALE_LENGTH_PAYLOAD, (7, len(STALE_LENGTH_PAYLOAD) - 7)),
    ),
    "/status/299": http("HTTP/1.1 299 Quite Fine", [("Content-Length", "2")], b"ok"),
    "/status/404": http(
        "HTTP/1.1 404 Nope", [("Content-Type", "text/plain"), ("Content-Length", "4")], b"gone"
    ),
    QUERY_PATH: ok(b"<html>page a:b</html>"),
    "/binary/octet": ok(ALL_BYTES, "application/octet-stream"),
    "/binary/html": ok(BAD_UTF8_HTML, "text/html; charset=utf-8"),
    ALPHA_QUERY: ok("<html>α page</html>".encode()),
    ALPHA_PATH: ok("<html>αβ folder</html>".encode()),
    **{f"/rotate/{n}": ok(b"<html>rotation %d</html>" % n) for n in range(4)},
    "/cache/page": ok(b"<html>cache me</html>"),
    "/cache/redirect": http(
        "HTTP/1.1 302 Found", [("Location", "/cache/target"), ("Content-Length", "0")]
    ),
    "/cache/target": ok(b"<html>cached target</html>"),
    "/cache/fresh": ok(b"<html>never cached</html>"),
}
NOT_FOUND = http("HTTP/1.1 404 Not Found", [("Content-Length", "9")], b"not found")

MAIN_PATHS = [
    "/gzip",
    "/redirect/301",
    "/redirect/302",
    "/headers/repeated",
    "/headers/verbatim",
    "/length/keep-alive",
    "/length/close",
    "/chunked",
    "/chunked/gzip",
    "/chunked/with-length",
    "/status/299",
    "/status/404",
    "/wiki/doku.php?id=a:b&x=1",
    "/binary/octet",
    "/binary/html",
    "/wiki/doku.php?id=α-page",
    "/wiki/αβ/doku.php?id=α-page",
]  # as the spider is given them: raw, not yet percent-encoded
CACHED_PATHS = ["/cache/page", "/cache/redirect"]


# --------------------------------------------------------------------------- server


class _Handler(socketserver.StreamRequestHandler):
    """Answers each request of a (keep-alive) connection with its canned bytes."""

    def handle(self) -> None:
        try:
            while self._one_exchange():
                pass
        except OSError:
            pass

    def _one_exchange(self) -> bool:
        lines = []
        while True:
            line = self.rfile.readline(65537)
            if not line:
                return False
            lines.append(line)
            if line in (b"\r\n", b"\n"):
                break
        raw = b"".join(lines)
        target = raw.split(b" ", 2)[1].decode("ascii")
        reply = RESPONSES.get(target, NOT_FOUND)
        self.server.received.append((target, raw))  # type: ignore[attr-defined]
        self.wfile.write(reply)
        head = reply.partition(CRLF + CRLF)[0].lower()
        return b"\r\nconnection: close" not in head


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.received: list[tuple[str, bytes]] = []


@pytest.fixture(scope="module")
def server() -> Iterator[_Server]:
    srv = _Server()
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    try:
        yield srv
    finally:
        srv.shutdown()
        srv.server_close()
        thread.join(5)


def base_of(srv: _Server) -> str:
    return f"http://127.0.0.1:{srv.server_address[1]}"


# --------------------------------------------------------------------------- crawls


@dataclass
class Record:
    file: Path
    rec_type: str
    headers: StatusAndHeaders  # WARC headers
    http: StatusAndHeaders | None  # HTTP head as warcio parses it
    payload: bytes  # stored HTTP body (raw_stream after the HTTP head)
    content: bytes  # warcio's content_stream(): transfer and content decoded
    block: bytes  # the whole record block, unparsed

    def get(self, name: str) -> str | None:
        return self.headers.get_header(name)


def read_records(path: Path) -> list[Record]:
    """Every record of a file, read three times by warcio's own iterator."""
    with open(path, "rb") as stream:
        parsed = [
            (r.rec_type, r.rec_headers, r.http_headers, r.raw_stream.read())
            for r in ArchiveIterator(stream)
        ]
    with open(path, "rb") as stream:
        contents = [r.content_stream().read() for r in ArchiveIterator(stream)]
    with open(path, "rb") as stream:
        blocks = [r.raw_stream.read() for r in ArchiveIterator(stream, no_record_parse=True)]
    assert len(parsed) == len(contents) == len(blocks)
    return [
        Record(path, t, h, hh, payload, content, block)
        for (t, h, hh, payload), content, block in zip(parsed, contents, blocks, strict=True)
    ]


@dataclass
class Crawl:
    out: Path
    base: str
    stats: dict
    stderr: str
    files: list[Path]
    records: list[Record]

    def responses(self, path: str) -> list[Record]:
        uri = self.base + path
        return [
            r for r in self.records if r.rec_type == "response" and r.get("WARC-Target-URI") == uri
        ]

    def response(self, path: str) -> Record:
        found = self.responses(path)
        assert len(found) == 1, f"{len(found)} response records for {path}"
        return found[0]

    def request_of(self, response: Record) -> Record:
        rid = response.get("WARC-Record-ID")
        found = [
            r
            for r in self.records
            if r.rec_type == "request" and r.get("WARC-Concurrent-To") == rid
        ]
        assert len(found) == 1, f"{len(found)} request records for {rid}"
        return found[0]


def crawl(out: Path, base: str, paths: list[str], *settings: str) -> Crawl:
    args = [sys.executable, str(RECORD_URLS), str(out), *(base + p for p in paths)]
    for setting in settings:
        args += ["-s", setting]
    done = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    stats = json.loads(done.stdout.strip().splitlines()[-1])
    files = sorted((out / "warc").glob("*.warc.gz")) if out.exists() else []
    records = [record for path in files for record in read_records(path)]
    return Crawl(out, base, stats, done.stderr, files, records)


@pytest.fixture(scope="module")
def main_crawl(server, tmp_path_factory) -> Crawl:
    return crawl(tmp_path_factory.mktemp("main") / "out", base_of(server), MAIN_PATHS)


@pytest.fixture(scope="module")
def rotation_crawl(server, tmp_path_factory) -> Crawl:
    out = tmp_path_factory.mktemp("rotation") / "out"
    paths = [f"/rotate/{n}" for n in range(4)] + ["/redirect/301"]
    return crawl(out, base_of(server), paths, "WARC_MAX_SIZE=1")


# --------------------------------------------------------------------------- helpers


def header_values(head: StatusAndHeaders, name: str) -> list[str]:
    return [v for k, v in head.headers if k.lower() == name.lower()]


def head_bytes(block: bytes) -> bytes:
    return block.partition(CRLF + CRLF)[0] + CRLF + CRLF


# --------------------------------------------------------------------------- traps


def test_every_file_passes_warcio_check(main_crawl, rotation_crawl):
    files = [*main_crawl.files, *rotation_crawl.files]
    assert len(files) >= 1 + 5
    for path in files:
        done = subprocess.run(
            [sys.executable, "-m", "warcio.cli", "check", "-v", str(path)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, f"{path.name}: {done.stdout}{done.stderr}"
        assert "digest pass" in done.stdout, done.stdout
        assert "digest failed" not in done.stdout, done.stdout


def test_main_crawl_archived_everything(main_crawl):
    assert main_crawl.stats["finish_reason"] == "finished"
    assert "Not archived" not in main_crawl.stderr
    assert "warc/skipped_no_raw" not in main_crawl.stats
    # 16 URLs asked, plus the 2 redirect targets
    assert main_crawl.stats["warc/exchanges"] == len(MAIN_PATHS) + 2
    assert sum(r.rec_type == "response" for r in main_crawl.records) == len(MAIN_PATHS) + 2
    assert not list((main_crawl.out / "warc").glob("*.open"))


# 1
def test_gzip_body_stored_as_sent(main_crawl):
    record = main_crawl.response("/gzip")
    assert header_values(record.http, "Content-Encoding") == ["gzip"]
    assert record.payload == GZ_BODY  # not decompressed by Scrapy before archiving
    assert record.block == RESPONSES["/gzip"]
    assert record.content == GZ_PLAIN  # warcio decodes it on read


# 2
@pytest.mark.parametrize(
    ("path", "status_line", "target"),
    [
        ("/redirect/301", "301 Moved Permanently", "/redirect/target-301"),
        ("/redirect/302", "302 Found", "/redirect/target-302"),
    ],
)
def test_redirect_itself_archived(main_crawl, path, status_line, target):
    redirect = main_crawl.response(path)
    assert redirect.http.protocol == "HTTP/1.1"
    assert redirect.http.statusline == status_line
    assert header_values(redirect.http, "Location") == [target]
    assert redirect.block == RESPONSES[path]
    followed = main_crawl.response(target)
    assert followed.http.get_statuscode() == "200"
    assert followed.block == RESPONSES[target]
    order = [r.get("WARC-Target-URI") for r in main_crawl.records if r.rec_type == "response"]
    assert order.index(main_crawl.base + path) < order.index(main_crawl.base + target)


# 3
def test_repeated_headers_kept_in_order(main_crawl):
    record = main_crawl.response("/headers/repeated")
    assert header_values(record.http, "Set-Cookie") == [
        "DokuWiki=abc123; path=/wiki/; HttpOnly",
        "DW7fa065a06cb74b536c124cfbe56ac6d3=deleted; path=/",
    ]
    assert header_values(record.http, "Link") == [
        "<https://example.org/a>; rel=preload",
        "<https://example.org/b>; rel=preconnect",
    ]
    names = [k for k, _ in record.http.headers]
    assert names == ["Content-Type", "Set-Cookie", "Link", "Set-Cookie", "Link", "Content-Length"]
    assert record.block == RESPONSES["/headers/repeated"]


def test_header_lines_stored_byte_exact(main_crawl):
    """No re-serialisation: spacing, folding, case and non-ASCII bytes as received."""
    record = main_crawl.response("/headers/verbatim")
    sent = RESPONSES["/headers/verbatim"]
    assert head_bytes(record.block) == head_bytes(sent)
    assert record.block == sent
    assert record.payload == b"body"


@pytest.mark.parametrize(
    "path",
    [p for p in RESPONSES if not p.startswith(("/chunked", "/rotate", "/cache"))],
)
def test_non_chunked_response_block_is_what_was_sent(main_crawl, path):
    assert main_crawl.response(path).block == RESPONSES[path]


# 4
@pytest.mark.parametrize("connection", ["keep-alive", "close"])
def test_content_length_and_connection_kept(main_crawl, connection):
    record = main_crawl.response(f"/length/{connection}")
    body = record.payload
    assert header_values(record.http, "Content-Length") == [str(len(body))]
    assert header_values(record.http, "Connection") == [connection]
    assert record.block == RESPONSES[f"/length/{connection}"]


@pytest.mark.parametrize(
    ("path", "payload", "content"),
    [
        ("/chunked", CHUNKED_PAYLOAD, CHUNKED_PAYLOAD),
        ("/chunked/gzip", CHUNKED_GZ_BODY, CHUNKED_GZ_PLAIN),
        ("/chunked/with-length", STALE_LENGTH_PAYLOAD, STALE_LENGTH_PAYLOAD),
    ],
    ids=["plain", "gzip", "with-length"],
)
def test_chunked_stored_dechunked_with_matching_length(main_crawl, path, payload, content):
    record = main_crawl.response(path)
    assert header_values(record.http, "X-Archive-Orig-Transfer-Encoding") == ["chunked"]
    assert header_values(record.http, "Transfer-Encoding") == []
    assert header_values(record.http, "Content-Length") == [str(len(payload))]
    assert record.payload == payload  # de-chunked, still content-coded
    assert record.content == content
    # The other header lines are kept as sent, in order; the sent framing headers
    # under X-Archive-Orig-, and one Content-Length for the stored body added.
    sent_lines = head_bytes(RESPONSES[path]).split(CRLF)
    kept_lines = head_bytes(record.block).split(CRLF)
    added = f"Content-Length: {len(payload)}".encode()
    assert kept_lines.count(added) == 1
    kept_lines.remove(added)
    framing = (b"Transfer-Encoding:", b"Content-Length:")
    assert kept_lines == [
        b"X-Archive-Orig-" + line if line.startswith(framing) else line for line in sent_lines
    ]
    assert b"\r\nTransfer-Encoding:" not in head_bytes(record.block)


# 5
@pytest.mark.parametrize(
    ("path", "status_line"), [("/status/299", "299 Quite Fine"), ("/status/404", "404 Nope")]
)
def test_status_line_verbatim(main_crawl, path, status_line):
    record = main_crawl.response(path)
    assert record.http.protocol == "HTTP/1.1"
    assert record.http.statusline == status_line
    assert record.block.startswith(f"HTTP/1.1 {status_line}\r\n".encode())


# 6
def test_request_record_holds_bytes_sent(main_crawl, server):
    response = main_crawl.response(QUERY_PATH)
    request = main_crawl.request_of(response)
    assert request.file == response.file
    assert request.get("WARC-Concurrent-To") == response.get("WARC-Record-ID")
    assert request.get("WARC-Target-URI") == main_crawl.base + QUERY_PATH
    assert request.http.protocol == "GET"
    assert request.http.statusline == f"{QUERY_PATH} HTTP/1.1"
    assert request.block.startswith(f"GET {QUERY_PATH} HTTP/1.1\r\n".encode())
    host = main_crawl.base.removeprefix("http://")
    assert header_values(request.http, "Host") == [host]
    received = [raw for target, raw in server.received if target == QUERY_PATH]
    assert received == [request.block]  # exactly the bytes the server got


def test_each_request_follows_its_response_in_the_same_file(main_crawl):
    for path in main_crawl.files:
        records = [r for r in main_crawl.records if r.file == path]
        for first, second in zip(records, records[1:], strict=False):
            if first.rec_type == "response":
                assert second.rec_type == "request"
                assert second.get("WARC-Concurrent-To") == first.get("WARC-Record-ID")
                assert second.get("WARC-Target-URI") == first.get("WARC-Target-URI")


# 7
@pytest.mark.parametrize(
    ("path", "body"), [("/binary/octet", ALL_BYTES), ("/binary/html", BAD_UTF8_HTML)]
)
def test_binary_body_byte_exact(main_crawl, path, body):
    record = main_crawl.response(path)
    assert record.payload == body
    assert record.content == body
    assert record.block == RESPONSES[path]


# 8
WARC_DATE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z$")


def test_warc_date_format_and_version(main_crawl):
    assert main_crawl.records
    for record in main_crawl.records:
        assert record.headers.protocol == "WARC/1.1"
        assert WARC_DATE.match(record.get("WARC-Date")), record.get("WARC-Date")
    for path in main_crawl.files:
        with gzip.open(path, "rb") as stream:
            assert stream.read(10) == b"WARC/1.1\r\n"


# 9
def test_rotation_keeps_warcinfo_first_and_pairs_together(rotation_crawl):
    crawl = rotation_crawl
    assert not list((crawl.out / "warc").glob("*.open"))
    written = sorted(p.name for p in (crawl.out / "warc").iterdir())
    assert written == sorted(crawl.stats["warc/files"])
    # 4 pages, a redirect and its target: one exchange per file; then the crawl's summary
    assert len(crawl.files) == 7
    *exchanges, last = crawl.files
    assert [r.rec_type for r in crawl.records if r.file == last] == ["warcinfo", "metadata"]
    uris = set()
    for path in exchanges:
        records = [r for r in crawl.records if r.file == path]
        assert [r.rec_type for r in records] == ["warcinfo", "response", "request"]
        info, response, request = records
        assert info.get("WARC-Filename") == path.name
        assert b"wikiarchive-crawl-id:" in info.payload
        assert request.get("WARC-Concurrent-To") == response.get("WARC-Record-ID")
        assert request.get("WARC-Target-URI") == response.get("WARC-Target-URI")
        uris.add(response.get("WARC-Target-URI"))
    expected = [f"/rotate/{n}" for n in range(4)] + ["/redirect/301", "/redirect/target-301"]
    assert uris == {crawl.base + p for p in expected}


# 10
def test_ip_address_on_responses(main_crawl):
    responses = [r for r in main_crawl.records if r.rec_type == "response"]
    assert responses
    assert {r.get("WARC-IP-Address") for r in responses} == {"127.0.0.1"}


# 11
@pytest.mark.parametrize("path", [ALPHA_QUERY, ALPHA_PATH])
def test_non_ascii_url_percent_encoded(main_crawl, path):
    record = main_crawl.response(path)
    assert record.get("WARC-Target-URI") == main_crawl.base + path
    assert record.block == RESPONSES[path]
    request = main_crawl.request_of(record)
    assert request.block.startswith(f"GET {path} HTTP/1.1\r\n".encode())
    for r in main_crawl.records:
        assert (r.get("WARC-Target-URI") or "").isascii()


# 12
def test_http_cache_refused_before_anything_is_fetched(server, tmp_path):
    """Scrapy's HTTP cache would replay answers that are no fresh captures: refused."""
    out = tmp_path / "out"
    seen = len(server.received)
    done = crawl(out, base_of(server), CACHED_PATHS, "HTTPCACHE_ENABLED=True",
                 f"HTTPCACHE_DIR={tmp_path / 'httpcache'}")
    assert done.stats["finish_reason"] == "failed"
    assert "HTTPCACHE_ENABLED" in done.stats["fatal"]
    assert server.received[seen:] == []  # not one request
    assert done.files == [] and not (out / "warc").exists()


def test_cdxj_indexer_lists_responses(main_crawl):
    path = main_crawl.files[0]
    done = subprocess.run(
        [sys.executable, "-m", "cdxj_indexer.main", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    indexed = {}
    for line in done.stdout.splitlines():
        _surt, _stamp, fields = line.split(" ", 2)
        entry = json.loads(fields)
        indexed[entry["url"]] = entry
    responses = [r for r in main_crawl.records if r.rec_type == "response"]
    for record in responses:
        entry = indexed[record.get("WARC-Target-URI")]
        assert entry["status"] == record.http.get_statuscode()
        assert entry["filename"] == path.name

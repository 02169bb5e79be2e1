"""A fault-injecting reverse proxy in front of the test wiki, for the fault tests.

The crawler is pointed at the proxy as if it were the wiki (same path, ``/wiki/``); the
proxy forwards each request to the real wiki and passes the answer back unchanged (status
line, reason phrase, headers and body; only the hop-by-hop headers and the framing are its
own: the body is sent with a ``Content-Length``). The ``Host`` header is forwarded as the
crawler sent it, i.e. the proxy's address, so DokuWiki, which builds its absolute URLs
(canonical links) from the Host header, names the proxy and not its own port.

Faults are set per test, each for the requests whose path and query match a pattern
(a substring, or a compiled regex searched for) and for a number of matching requests
(``times=None``: every one)::

    with FaultProxy(wiki.base_url) as proxy:
        proxy.status(503, times=2, match="id=magnesium", headers={"Retry-After": "2"})
        proxy.delay(3, match="id=stroke")            # slower than the crawler's timeout
        proxy.reset(match="idx=spine", after_headers=True)
        proxy.truncate(times=None, match="id=aneurysm")
        proxy.down(); ...; proxy.up()                # reset every connection meanwhile
        crawl(proxy.base_url)
        proxy.hits_for("id=magnesium")               # what was asked, when, what it got
        proxy.peak_in_flight                         # most requests answered at once

A request takes the first fault (in the order they were set) that matches it and has
uses left. Loopback only; one thread per connection, at most ``max_connections`` at once
(more are reset); ``stop()`` closes the listener and every open connection. Stdlib only.
"""

from __future__ import annotations

import http.client
import re
import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from urllib.parse import urlsplit

# Headers that describe one connection, not the message (RFC 9110 7.6.1).
HOP_BY_HOP = frozenset(
    {
        "connection", "keep-alive", "proxy-connection", "proxy-authenticate",
        "proxy-authorization", "te", "trailer", "transfer-encoding", "upgrade",
    }
)

Pattern = str | re.Pattern[str] | None


@dataclass(frozen=True, slots=True)
class Hit:
    """One request the proxy received."""

    method: str
    path: str  # path and query, as sent
    time: float  # time.monotonic() when its request head was read
    # "200" (forwarded: the wiki's status), "status 503", "reset", "reset 200" (after the
    # headers), "truncate 200", "delay" (logged on arrival), "down"
    outcome: str
    # The headers as they went through: what the client sent, what the wiki answered
    # (empty when the wiki was not asked).
    request_headers: tuple[tuple[str, str], ...] = ()
    response_headers: tuple[tuple[str, str], ...] = ()


@dataclass(slots=True)
class Fault:
    kind: str  # status | delay | reset | truncate | rewrite
    match: Pattern
    times: int | None  # uses left; None: unlimited
    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    seconds: float = 0.0
    after_headers: bool = False
    keep: float = 0.5
    rewrite: Callable[[bytes], bytes] | None = None

    def matches(self, path: str) -> bool:
        if self.times is not None and self.times <= 0:
            return False
        if self.match is None:
            return True
        if isinstance(self.match, re.Pattern):
            return self.match.search(path) is not None
        return self.match in path


def _matches(pattern: Pattern, path: str) -> bool:
    return Fault("", pattern, None).matches(path)


class FaultProxy:
    """Reverse proxy on 127.0.0.1 (a free port) in front of ``upstream`` (a base URL)."""

    def __init__(
        self, upstream: str, *, max_connections: int = 32, upstream_timeout: float = 30
    ):
        parts = urlsplit(upstream)
        if parts.scheme != "http" or parts.hostname not in ("127.0.0.1", "localhost"):
            raise ValueError(f"upstream must be a loopback http URL: {upstream!r}")
        self.upstream_host = parts.hostname
        self.upstream_port = parts.port or 80
        self.base_path = parts.path or "/"
        self.max_connections = max_connections
        self.upstream_timeout = upstream_timeout
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self._hits: list[Hit] = []
        self._in_flight = 0
        self.peak_in_flight = 0  # most requests it was answering at the same time
        self._down = False
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # ---- lifecycle

    def start(self) -> str:
        if self._server is not None:
            return self.base_url
        self._stopping.clear()
        self._server = _Server(self)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
            name="faultproxy", daemon=True,
        )
        self._thread.start()
        return self.base_url

    def stop(self) -> None:
        """Stop accepting, close every connection, wait for the threads. Safe twice."""
        server, self._server = self._server, None
        if server is None:
            return
        self._stopping.set()  # wakes delayed responses
        server.shutdown()
        server.server_close()
        server.close_all()
        if self._thread is not None:
            self._thread.join(timeout=5)
        server.join_handlers(timeout=5)

    def __enter__(self) -> FaultProxy:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("proxy not started")
        return self._server.server_address[1]

    @property
    def base_url(self) -> str:
        """The wiki's base URL, through the proxy."""
        return f"http://127.0.0.1:{self.port}{self.base_path}"

    # ---- faults

    def status(
        self,
        code: int,
        times: int | None = 1,
        *,
        match: Pattern = None,
        headers: dict[str, str] | None = None,
        body: bytes = b"",
    ) -> None:
        """Answer ``code`` (with ``headers``) instead of forwarding."""
        body = body or f"fault proxy: {code}\n".encode()
        self._add(Fault("status", match, times, status=code, headers=dict(headers or {}),
                        body=body))

    def delay(self, seconds: float, times: int | None = 1, *, match: Pattern = None) -> None:
        """Wait ``seconds`` before forwarding (the answer then comes, if anyone still waits)."""
        self._add(Fault("delay", match, times, seconds=seconds))

    def reset(
        self, times: int | None = 1, *, match: Pattern = None, after_headers: bool = False
    ) -> None:
        """Reset the connection (RST), before any byte of the answer or after its headers."""
        self._add(Fault("reset", match, times, after_headers=after_headers))

    def truncate(self, times: int | None = 1, *, match: Pattern = None, keep: float = 0.5) -> None:
        """Send the headers with the full Content-Length, ``keep`` of the body, then close."""
        self._add(Fault("truncate", match, times, keep=keep))

    def rewrite(
        self, change: Callable[[bytes], bytes], times: int | None = None, *, match: Pattern = None
    ) -> None:
        """Forward, then send ``change(body)`` instead of the body: a wiki whose engine or
        template writes its pages (or feed) differently."""
        self._add(Fault("rewrite", match, times, rewrite=change))

    def down(self) -> None:
        """Reset every request (on new or kept-alive connections) until ``up()``."""
        with self._lock:
            self._down = True

    def up(self) -> None:
        with self._lock:
            self._down = False

    def clear(self) -> None:
        """Remove every fault (the log is kept)."""
        with self._lock:
            self._faults.clear()

    def _add(self, fault: Fault) -> None:
        with self._lock:
            self._faults.append(fault)

    def _take(self, path: str) -> Fault | str | None:
        """The fault for this request ("down" while down), using it up once."""
        with self._lock:
            if self._down:
                return "down"
            for fault in self._faults:
                if fault.matches(path):
                    if fault.times is not None:
                        fault.times -= 1
                    return fault
        return None

    # ---- log

    @property
    def hits(self) -> list[Hit]:
        with self._lock:
            return list(self._hits)

    def hits_for(self, match: Pattern) -> list[Hit]:
        return [hit for hit in self.hits if _matches(match, hit.path)]

    def _record(self, hit: Hit) -> None:
        with self._lock:
            self._hits.append(hit)

    def wait_for(self, predicate, timeout: float = 30) -> bool:  # noqa: ANN001 - callable
        """Poll the log until ``predicate(hits)`` holds; False on timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate(self.hits):
                return True
            time.sleep(0.005)
        return False


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def __init__(self, proxy: FaultProxy):
        self.proxy = proxy
        self._conns: set[socket.socket] = set()
        self._handler_threads: set[threading.Thread] = set()
        self._conns_lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), _Handler)

    def process_request(self, request: socket.socket, client_address: tuple) -> None:
        with self._conns_lock:
            if len(self._conns) >= self.proxy.max_connections:
                _abort(request)
                return
            self._conns.add(request)
        thread = threading.Thread(
            target=self._serve, args=(request, client_address), daemon=True
        )
        with self._conns_lock:
            self._handler_threads.add(thread)
        thread.start()

    def _serve(self, request: socket.socket, client_address: tuple) -> None:
        try:
            self.finish_request(request, client_address)
        except OSError:
            pass  # the client went away, or a fault cut the connection
        finally:
            with self._conns_lock:
                self._conns.discard(request)
                self._handler_threads.discard(threading.current_thread())
            self.shutdown_request(request)

    def close_all(self) -> None:
        with self._conns_lock:
            conns = list(self._conns)
        for conn in conns:
            _abort(conn, close=False)

    def join_handlers(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        with self._conns_lock:
            threads = list(self._handler_threads)
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the wiki's clients expect
    timeout = 30  # an idle kept-alive connection is closed after this
    server: _Server

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib name
        pass

    def do_GET(self) -> None:  # noqa: N802 - stdlib name
        self._handle()

    do_HEAD = do_POST = do_PUT = do_DELETE = do_OPTIONS = do_GET  # noqa: N815

    def _handle(self) -> None:
        proxy = self.server.proxy
        with proxy._lock:
            proxy._in_flight += 1
            proxy.peak_in_flight = max(proxy.peak_in_flight, proxy._in_flight)
        try:
            self._answer()
        finally:
            with proxy._lock:
                proxy._in_flight -= 1

    def _answer(self) -> None:
        proxy = self.server.proxy
        started = time.monotonic()
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        fault = proxy._take(self.path)

        sent = tuple(self.headers.items())

        def record(outcome: str, answered: tuple[tuple[str, str], ...] = ()) -> None:
            proxy._record(Hit(self.command, self.path, started, outcome, sent, answered))

        if fault == "down":
            record("down")
            return self._reset()
        if isinstance(fault, Fault) and fault.kind == "status":
            record(f"status {fault.status}")
            headers = {"Content-Type": "text/plain; charset=utf-8", **fault.headers}
            return self._send(fault.status, None, list(headers.items()), fault.body)
        if isinstance(fault, Fault) and fault.kind == "reset" and not fault.after_headers:
            record("reset")
            return self._reset()
        if isinstance(fault, Fault) and fault.kind == "delay":
            record("delay")  # now: the client may give up before the answer comes
            if proxy._stopping.wait(fault.seconds):
                return self._reset()
        try:
            status, reason, headers, payload = self._forward(body)
        except OSError as exc:
            record(f"upstream error: {exc}")
            return self._send(502, "Bad Gateway", [], b"fault proxy: upstream error\n")
        kind = fault.kind if isinstance(fault, Fault) else None
        if kind != "delay":
            record(f"{status}" if kind is None else f"{kind} {status}", tuple(headers))
        if kind == "reset":  # after the headers
            self._send(status, reason, headers, payload, body_bytes=0)
            return self._reset()
        if kind == "rewrite":
            payload = fault.rewrite(payload)
        if kind == "truncate":
            cut = int(len(payload) * fault.keep)
            self._send(status, reason, headers, payload, body_bytes=min(cut, len(payload) - 1))
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_WR)
            return None
        self._send(status, reason, headers, payload)
        return None

    def _forward(self, body: bytes) -> tuple[int, str, list[tuple[str, str]], bytes]:
        proxy = self.server.proxy
        conn = http.client.HTTPConnection(
            proxy.upstream_host, proxy.upstream_port, timeout=proxy.upstream_timeout
        )
        try:
            conn.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
            for name, value in self.headers.items():
                # Host is kept: DokuWiki builds its absolute URLs from it.
                if name.lower() not in HOP_BY_HOP and name.lower() != "content-length":
                    conn.putheader(name, value)
            if body:
                conn.putheader("Content-Length", str(len(body)))
            conn.endheaders(body or None)
            response = conn.getresponse()
            payload = response.read()
            headers = [
                (name, value)
                for name, value in response.getheaders()
                if name.lower() not in HOP_BY_HOP and name.lower() != "content-length"
            ]
            return response.status, response.reason, headers, payload
        finally:
            conn.close()

    def _send(
        self,
        status: int,
        reason: str | None,
        headers: list[tuple[str, str]],
        payload: bytes,
        *,
        body_bytes: int | None = None,
    ) -> None:
        self.send_response_only(status, reason)
        for name, value in headers:
            if name.lower() not in HOP_BY_HOP and name.lower() != "content-length":
                self.send_header(name, value)
        no_body = self.command == "HEAD" or status in (204, 304) or 100 <= status < 200
        if not no_body:
            self.send_header("Content-Length", str(len(payload)))
        self.end_headers()  # flushes the head
        if not no_body:
            self.wfile.write(payload if body_bytes is None else payload[:body_bytes])

    def _reset(self) -> None:
        self.close_connection = True
        _abort(self.connection)  # the RST leaves when the handler lets go of the socket


def _abort(sock: socket.socket, *, close: bool = True) -> None:
    """Reset a connection: linger 0 makes close send RST instead of FIN.

    With ``close=False`` (a connection another thread is reading) the reader is woken
    instead; its handler then closes the socket, which sends the RST.
    """
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        if close:
            sock.close()
        else:
            sock.shutdown(socket.SHUT_RD)
    except OSError:
        pass

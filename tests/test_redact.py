"""archive.redact: credential header values replaced, everything else kept; records with
redacted heads stay valid for warcio's checker (digests over what is stored)."""

from __future__ import annotations

import gzip

from helpers import warcio_check
from test_warc_writer import WHEN, fixed_writer, records

from archive.redact import REQUEST_HEADERS, SESSION_HEADERS, redact_message
from archive.writer import Exchange

REQUEST = (
    b"GET /wiki/doku.php?id=secret HTTP/1.1\r\n"
    b"Host: 127.0.0.1:9\r\n"
    b"Authorization: Basic ZWRpdG9yOmVkaXRvci1wYXNz\r\n"
    b"Cookie: DokuWiki=k3v9sessionid; DW41a011361c5bbf=ZWRpdG9y%7C0%7Cc2VjcmV0\r\n"
    b"Accept: text/html\r\n"
    b"\r\n"
)
RESPONSE_HEAD = (
    b"HTTP/1.1 200 OK\r\n"
    b"Content-Type: text/html; charset=utf-8\r\n"
    b"Set-Cookie: DokuWiki=k3v9sessionid; path=/wiki/; HttpOnly\r\n"
    b"set-cookie:DW41a011361c5bbf=ZWRpdG9y%7C0%7Cc2VjcmV0; path=/wiki/; secure\r\n"
    b"Vary: Cookie\r\n"
    b"\r\n"
)
SECRETS = [b"ZWRpdG9yOmVkaXRvci1wYXNz", b"k3v9sessionid", b"ZWRpdG9y%7C0%7Cc2VjcmV0"]


def test_request_credentials_redacted_names_kept() -> None:
    redacted, names = redact_message(REQUEST, REQUEST_HEADERS)
    assert names == ("Authorization", "Cookie")
    assert redacted == (
        b"GET /wiki/doku.php?id=secret HTTP/1.1\r\n"
        b"Host: 127.0.0.1:9\r\n"
        b"Authorization: Basic REDACTED\r\n"
        b"Cookie: DokuWiki=REDACTED; DW41a011361c5bbf=REDACTED\r\n"
        b"Accept: text/html\r\n"
        b"\r\n"
    )


def test_session_cookies_redacted_attributes_kept() -> None:
    body = b"<html>Set-Cookie: not a header k3v9sessionid</html>"
    redacted, names = redact_message(RESPONSE_HEAD + body, SESSION_HEADERS)
    assert names == ("Set-Cookie", "set-cookie")
    assert redacted == (
        b"HTTP/1.1 200 OK\r\n"
        b"Content-Type: text/html; charset=utf-8\r\n"
        b"Set-Cookie: DokuWiki=REDACTED; path=/wiki/; HttpOnly\r\n"
        b"set-cookie:DW41a011361c5bbf=REDACTED; path=/wiki/; secure\r\n"
        b"Vary: Cookie\r\n"
        b"\r\n"
    ) + body  # the body is the page as served: never touched


def test_nothing_to_redact_gives_the_same_bytes() -> None:
    head = b"HTTP/1.1 304 Not Modified\r\nETag: \"x\"\r\n\r\n"
    assert redact_message(head, SESSION_HEADERS | REQUEST_HEADERS) == (head, ())
    assert redact_message(RESPONSE_HEAD, REQUEST_HEADERS) == (RESPONSE_HEAD, ())


def test_folded_continuation_of_a_credential_goes_too() -> None:
    head = b"GET / HTTP/1.1\r\nAuthorization: Basic\r\n ZWRpdG9yOmVkaXRvci1wYXNz\r\nX: 1\r\n\r\n"
    redacted, names = redact_message(head, REQUEST_HEADERS)
    assert redacted == b"GET / HTTP/1.1\r\nAuthorization: REDACTED\r\nX: 1\r\n\r\n"
    assert names == ("Authorization",)


def test_redacted_records_are_valid_and_hold_no_secret(tmp_path) -> None:
    request, request_names = redact_message(REQUEST, REQUEST_HEADERS)
    head, response_names = redact_message(RESPONSE_HEAD, SESSION_HEADERS)
    writer = fixed_writer(tmp_path)
    exchange = Exchange(
        "http://127.0.0.1:9/wiki/doku.php?id=secret", request, head, b"<html>page</html>", WHEN,
        request_redacted=request_names, response_redacted=response_names,
    )
    stored = writer.write_exchange(exchange)
    writer.write_exchange(exchange, refers_to=stored)  # a revisit names its redaction too
    writer.close()
    path = writer.closed_files[0]
    assert warcio_check([path], verbose=True).returncode == 0
    _info, response, request_record, revisit, _request2 = records(path)
    assert response[1].get_header("WikiArchive-Redacted") == "Set-Cookie, set-cookie"
    assert revisit[1].get_header("WikiArchive-Redacted") == "Set-Cookie, set-cookie"
    assert request_record[1].get_header("WikiArchive-Redacted") == "Authorization, Cookie"
    assert response[2].get_header("Set-Cookie") == "DokuWiki=REDACTED; path=/wiki/; HttpOnly"
    raw = gzip.decompress(path.read_bytes())
    assert not [secret for secret in SECRETS if secret in raw]

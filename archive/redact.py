"""Credentials kept out of the archive: header values replaced before a record is written.

A crawl that logs in sends its session and auth cookies (or an ``Authorization`` header)
with every request, and the wiki sets them in its answers. Their values would let anyone
holding the WARC files act as the account (DokuWiki's auth cookie even carries the
password, encrypted with a key of the server's), so they are replaced by ``REDACTED``
in the bytes handed to the writer, which computes the record digests over what it stores.
Header names, cookie names and cookie attributes are kept: the archive still says that a
session was used and how, without the means to use it.
"""

from __future__ import annotations

from collections.abc import Iterable

REDACTED = b"REDACTED"
# Sent by the crawler: never archived with a value.
REQUEST_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie"})
# Set by the wiki: the session (and auth) cookies of a crawl that logged in.
SESSION_HEADERS = frozenset({"set-cookie", "set-cookie2"})
HEAD_END = b"\r\n\r\n"


def redact_message(message: bytes, names: Iterable[str]) -> tuple[bytes, tuple[str, ...]]:
    """*message* (an HTTP request or response: head, then any body, kept as is) with the
    value of every header named in *names* (lower case) redacted, and the names of the
    headers it redacted, as written, in the order met (each once)."""
    names = frozenset(names)
    end = message.find(HEAD_END)
    head, rest = (message, b"") if end < 0 else (message[:end], message[end:])
    lines = head.split(b"\r\n")
    out = lines[:1]  # the request or status line
    redacted: list[str] = []
    in_redacted = False
    for line in lines[1:]:
        if line[:1] in (b" ", b"\t"):
            # an obsolete folded continuation of the previous header's value
            if not in_redacted:
                out.append(line)
            continue
        name, colon, value = line.partition(b":")
        key = name.strip().decode("latin-1").lower()
        in_redacted = bool(colon) and key in names
        if not in_redacted:
            out.append(line)
            continue
        spacing = value[: len(value) - len(value.lstrip(b" \t"))]
        out.append(name + b":" + spacing + _redacted_value(key, value.strip(b" \t")))
        written = name.strip().decode("latin-1")
        if written not in redacted:
            redacted.append(written)
    if not redacted:
        return message, ()
    return b"\r\n".join(out) + rest, tuple(redacted)


def _redacted_value(key: str, value: bytes) -> bytes:
    if key == "cookie":  # name=value; name=value
        pairs = [pair.strip() for pair in value.split(b";") if pair.strip()]
        return b"; ".join(_cookie_name(pair) + b"=" + REDACTED for pair in pairs)
    if key.startswith("set-cookie"):  # name=value; attributes (kept: path, expiry, flags)
        pair, semicolon, attributes = value.partition(b";")
        return _cookie_name(pair) + b"=" + REDACTED + semicolon + attributes
    scheme, space, _credentials = value.partition(b" ")
    return scheme + b" " + REDACTED if space else REDACTED


def _cookie_name(pair: bytes) -> bytes:
    name, equals, _value = pair.strip().partition(b"=")
    return name.strip() if equals else b""

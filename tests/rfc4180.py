"""A CSV reader written from RFC 4180's grammar (section 2), for checking the tables.

    file = [header CRLF] record *(CRLF record) [CRLF]
    field = (escaped / non-escaped)
    escaped = DQUOTE *(TEXTDATA / COMMA / CR / LF / 2DQUOTE) DQUOTE
    non-escaped = *TEXTDATA
    TEXTDATA = %x20-21 / %x23-2B / %x2D-7E

The one widening: TEXTDATA also holds every non-ASCII character, as the RFC's ``charset``
parameter allows (the tables are UTF-8). Anything else (a bare LF or CR between records,
a quote inside an unquoted field, a control character, text after a closing quote) is a
``ValueError`` naming the byte offset. Independent of the code under test and of Python's
csv module, so the two readers can check each other.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_TEXTDATA = r"\x20\x21\x23-\x2b\x2d-\x7e\u0080-\U0010ffff"  # escapes for re, not Python
_ESCAPED = re.compile(rf'"((?:[{_TEXTDATA}\x2c\r\n]+|"")*)"')
_NON_ESCAPED = re.compile(f"[{_TEXTDATA}]*")


@dataclass(frozen=True, slots=True)
class Field:
    value: str
    quoted: bool  # written as an escaped field


def parse(data: bytes) -> list[list[Field]]:
    """Records of an RFC 4180 file (UTF-8, no byte order mark), header first."""
    if data.startswith(b"\xef\xbb\xbf"):
        raise ValueError("offset 0: byte order mark")
    text = data.decode("utf-8")
    records: list[list[Field]] = []
    pos = 0
    while pos < len(text):
        record, pos = _record(text, pos)
        records.append(record)
        if pos == len(text):
            break  # the last record without its optional CRLF
        if not text.startswith("\r\n", pos):
            raise ValueError(f"offset {pos}: {text[pos:pos + 20]!r} where CRLF or COMMA belongs")
        pos += 2
    return records


def _record(text: str, pos: int) -> tuple[list[Field], int]:
    fields = []
    while True:
        escaped = _ESCAPED.match(text, pos)
        if escaped:
            fields.append(Field(escaped.group(1).replace('""', '"'), True))
            pos = escaped.end()
        else:
            plain = _NON_ESCAPED.match(text, pos)
            fields.append(Field(plain.group(0), False))
            pos = plain.end()
        if not text.startswith(",", pos):
            return fields, pos
        pos += 1

"""The RFC 4180 reader the table tests use (tests/rfc4180.py), on the RFC's own examples."""

from __future__ import annotations

import pytest
import rfc4180

# RFC 4180, section 2, rules 1 to 7, each example as the RFC writes it.
EXAMPLES = [
    (b"aaa,bbb,ccc\r\nzzz,yyy,xxx\r\n", [["aaa", "bbb", "ccc"], ["zzz", "yyy", "xxx"]]),
    (b"aaa,bbb,ccc\r\nzzz,yyy,xxx", [["aaa", "bbb", "ccc"], ["zzz", "yyy", "xxx"]]),
    (
        b"field_name,field_name,field_name\r\naaa,bbb,ccc\r\nzzz,yyy,xxx\r\n",
        [["field_name"] * 3, ["aaa", "bbb", "ccc"], ["zzz", "yyy", "xxx"]],
    ),
    (b'"aaa","bbb","ccc"\r\nzzz,yyy,xxx', [["aaa", "bbb", "ccc"], ["zzz", "yyy", "xxx"]]),
    (b'"aaa","b\r\nbb","ccc"\r\nzzz,yyy,xxx', [["aaa", "b\r\nbb", "ccc"], ["zzz", "yyy", "xxx"]]),
    (b'"aaa","b""bb","ccc"', [["aaa", 'b"bb', "ccc"]]),
]


@pytest.mark.parametrize(("data", "cells"), EXAMPLES)
def test_the_rfc_examples_read_as_the_rfc_says(data, cells):
    assert [[field.value for field in record] for record in rfc4180.parse(data)] == cells


def test_quoted_empty_text_and_missing_value_stay_apart():
    (record,) = rfc4180.parse('"",,"é, ü"\r\n'.encode())
    assert [(f.value, f.quoted) for f in record] == [("", True), ("", False), ("é, ü", True)]


@pytest.mark.parametrize(
    "data",
    [
        b"aaa,bbb\nzzz,yyy\n",  # LF alone ends no record
        b'aa"a,bbb\r\n',  # a quote inside an unquoted field
        b'"aaa,bbb\r\n',  # a quote never closed
        b'"aaa"x,bbb\r\n',  # text after the closing quote
        b"aaa\tbbb\r\n",  # a control character
        b"\xef\xbb\xbfaaa,bbb\r\n",  # a byte order mark
    ],
)
def test_what_the_grammar_does_not_allow_is_refused(data):
    with pytest.raises(ValueError, match="offset"):
        rfc4180.parse(data)

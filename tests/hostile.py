"""Hypothesis strategies for what a hostile or broken client sends: any text (lone surrogates included), any
bytes, numbers too large for anything, and JSON of every type where a field of one type is expected."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, TypeVar
from urllib.parse import quote_from_bytes

from hypothesis import strategies as st

T = TypeVar("T")
ABSENT: Any = object()  # a field left out

ODD_TEXTS = (
    "",
    " ",
    "²",
    "٣",
    "1_000",
    "-1",
    "+1",
    "0",
    "00",
    "1e9",
    "NaN",
    "null",
    "undefined",
    "idna",
    "rot13",
    "hex",
    "utf\x008",
    "\x00",
    "\r\n",
    "é",
    "ü",
    "\ufeff",
    "\u202e",
    "例子",
    "😀",
    "\ud800",
    "..",
    "../..",
    "%",
    "%ZZ",
    '"',
    "\\",
    "{",
    "}",
    "|",
    "@",
    "a@b",
    "x" * 300,
    "9" * 30,
    "9" * 5000,
    str(2**63 - 1),
    str(2**64),
    str(-(2**63)),
)
HUGE_NUMBERS = (2**31, 2**53 + 1, 2**63 - 1, 2**63, 2**64, -(2**63) - 1, 10**30, -1, 0)

# Any code point, lone surrogates too (st.text leaves those out unless told).
any_text = st.one_of(
    st.sampled_from(ODD_TEXTS),
    st.text(st.characters(exclude_categories=()), max_size=40),
    st.integers().map(str),
)


def utf8(text: str) -> bytes:
    """``text`` as UTF-8, a lone surrogate as the three bytes it would be."""
    return text.encode("utf-8", "surrogatepass")


any_bytes = st.one_of(any_text.map(utf8), st.binary(max_size=40))

# A header value: any byte a server passes on (HTAB, printable ASCII and 0x80-0xFF), as Latin-1 or UTF-8 text.
_HEADER_CHARS = st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f")
header_value = st.one_of(
    st.text(_HEADER_CHARS, max_size=60).map(lambda text: text.encode("latin-1")),
    st.text(st.characters(exclude_categories=("Cc", "Cs")), max_size=30).map(lambda text: text.encode()),
    st.sampled_from(
        [
            b"Basic",
            b"Basic ",
            b"Basic !!!",
            b"Basic \xe9\xe9",
            b"Basic " + b"/w==",
            b"Bearer",
            b"Bearer kod_" + b"x" * 40,
            b"Bearer \xff" * 3,
            b"sha256=\xc3\xa9",
            b"\xc3\xa9",
        ]
    ),
).map(lambda value: value.strip())

json_scalar = st.one_of(
    st.none(), st.booleans(), st.integers(), st.sampled_from(HUGE_NUMBERS), st.floats(allow_nan=False), any_text
)
json_value = st.recursive(
    json_scalar, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(any_text, inner, max_size=3), max_leaves=6
)


raw_json_body = st.sampled_from(
    [
        b"",
        b"{",
        b"[]",
        b"null",
        b"1",
        b'"x"',
        b"{}",
        b'{"a": NaN}',
        b'{"a": Infinity}',
        b"\xff\xfe{}",
        b'{"a": ' + b"9" * 5000 + b"}",
        b"[" * 5000 + b"]" * 5000,
        b'{"a": "\\ud800"}',
        b'{"\\udfff": 1}',
        b"\xef\xbb\xbf{}",
        '{"a": "é"}'.encode("latin-1"),
    ]
)


def percent(data: bytes) -> bytes:
    """``data`` percent-encoded for a URL, every byte outside the unreserved set escaped."""
    return quote_from_bytes(data, safe="").encode("ascii")


def query_string(pairs: list[tuple[bytes, bytes]]) -> bytes:
    """``name=value&...`` of percent-encoded bytes."""
    return b"&".join(percent(name) + b"=" + percent(value) for name, value in pairs)


def mostly(good: st.SearchStrategy[T], bad: st.SearchStrategy[T]) -> st.SearchStrategy[T]:
    """Four times in five a value from ``good`` (so a request gets past its first checks), else one from ``bad``."""
    return st.integers(0, 4).flatmap(lambda n: good if n < 4 else bad)


def fields(
    good: Mapping[str, st.SearchStrategy[T]], bad: st.SearchStrategy[T], stray: st.SearchStrategy[tuple[str, T]]
) -> st.SearchStrategy[list[tuple[str, T]]]:
    """Every field of ``good``, each :func:`mostly` sensible (else from ``bad``, or left out), in any order, and
    maybe a stray field or two."""
    wrong = st.one_of(bad, st.just(ABSENT))
    known = st.fixed_dictionaries({name: mostly(value, wrong) for name, value in good.items()})
    pairs = st.tuples(known, st.lists(stray, max_size=2)).map(
        lambda both: [(k, v) for k, v in both[0].items() if v is not ABSENT] + both[1]
    )
    return pairs.flatmap(st.permutations)


def byte_fields(good: Mapping[str, st.SearchStrategy[bytes]]) -> st.SearchStrategy[list[tuple[bytes, bytes]]]:
    """:func:`fields` of a query string or form: any bytes where a field goes wrong."""
    stray = st.tuples(any_bytes.map(lambda b: b.decode("latin-1")), any_bytes)
    return fields(good, any_bytes, stray).map(lambda pairs: [(k.encode("latin-1"), v) for k, v in pairs])


def json_fields(good: Mapping[str, st.SearchStrategy[Any]]) -> st.SearchStrategy[bytes]:
    """:func:`fields` of a JSON object, any JSON value where a field goes wrong, with ``\\u`` escapes so lone
    surrogates travel too (the last of a repeated key wins)."""
    stray = st.tuples(any_text, json_value)
    return fields(good, json_value, stray).map(lambda pairs: json.dumps(dict(pairs)).encode())

"""Rows read with their exact text: one at a time by the csv module, or a piece at a time, with the same rows."""

from __future__ import annotations

import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kodeord.support.csvfile import CsvError
from kodeord.support.csvrows import Lines, RawRows, Row


def one_by_one(text: str, delimiter: str = ";", head: int = 0) -> list[Row]:
    """The rows as the csv module reads them, a row at a time (``head`` lines read off first, as a header's
    search does)."""
    stream = io.StringIO(text, newline="")
    lines = [stream.readline() for _ in range(head)]
    return list(RawRows(stream, delimiter, [line for line in lines if line]))


def by_blocks(text: str, delimiter: str = ";", head: int = 0, piece: int = 7, before: int = 0) -> list[Row]:
    """The same rows read with ``blocks`` in pieces of ``piece`` characters, after ``before`` rows one at a time;
    a block of lines is turned back into rows as a reader of one takes them."""
    stream = io.StringIO(text, newline="")
    lines = [stream.readline() for _ in range(head)]
    rows = RawRows(stream, delimiter, [line for line in lines if line])
    found = [row for _, row in zip(range(before), rows, strict=False)]
    for block in rows.blocks(piece):
        if isinstance(block, Lines):
            assert block.bodies, "a block of no lines"
            for number, body in enumerate(block.bodies, block.first):
                assert '"' not in body and "\r" not in body and "\n" not in body
                found.append((number, body.split(delimiter) if body else [], body + block.ending))
        else:
            found.extend(block)
    return found


def test_each_row_comes_with_its_exact_text_and_first_line() -> None:
    text = 'a;b\r\n"x\ny";2\r\n\r\nlast;"q""q"'
    expected = [
        (1, ["a", "b"], "a;b\r\n"),
        (2, ["x\ny", "2"], '"x\ny";2\r\n'),
        (4, [], "\r\n"),
        (5, ["last", 'q"q'], 'last;"q""q"'),
    ]
    assert one_by_one(text) == expected
    assert by_blocks(text) == expected


def test_lines_without_quotes_come_as_blocks_of_their_bodies() -> None:
    text = "namn;telefon\r\n" + "".join(f"n{i};070-{i:07d}\r\n" for i in range(100))
    stream = io.StringIO(text, newline="")
    rows = RawRows(stream, ";")
    assert next(rows) == (1, ["namn", "telefon"], "namn;telefon\r\n")
    blocks = list(rows.blocks(400))
    assert all(isinstance(block, Lines) and block.ending == "\r\n" for block in blocks)
    assert [body for block in blocks for body in block.bodies] == [f"n{i};070-{i:07d}" for i in range(100)]
    assert [block.first for block in blocks][:2] == [2, 2 + len(blocks[0])]


def test_a_piece_with_a_quote_or_mixed_line_endings_is_read_by_the_csv_module() -> None:
    text = "a;b\n" * 5 + 'c;"d\ne"\n' + "f;g\r\n" + "h;i\n" + "j;k\rl;m\n"
    assert by_blocks(text, piece=1 << 20) == one_by_one(text)
    assert by_blocks(text, piece=3) == one_by_one(text)


def test_a_line_too_long_is_refused_at_its_number_either_way() -> None:
    text = "a;b\n" * 3 + "x" * 50 + "\n"
    for read in (lambda: list(RawRows(io.StringIO(text, newline=""), ";", longest=40)), lambda: by_long(text)):
        with pytest.raises(CsvError) as caught:
            read()
        assert caught.value.line == 4
        assert "more than 40 characters" in caught.value.message


def by_long(text: str) -> list[Row]:
    rows = RawRows(io.StringIO(text, newline=""), ";", longest=40)
    return [row for block in rows.blocks(16) if not isinstance(block, Lines) for row in block]


@settings(max_examples=400, deadline=None)
@given(
    text=st.text(alphabet='ab;,"\r\n \t', max_size=80),
    head=st.integers(0, 3),
    piece=st.integers(1, 30),
    before=st.integers(0, 2),
)
def test_blocks_give_exactly_the_rows_the_csv_module_reads(text: str, head: int, piece: int, before: int) -> None:
    try:
        expected = one_by_one(text, head=head)
    except CsvError as exc:
        with pytest.raises(CsvError) as caught:
            by_blocks(text, head=head, piece=piece, before=before)
        assert caught.value.line == exc.line
        return
    assert by_blocks(text, head=head, piece=piece, before=before) == expected

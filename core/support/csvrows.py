"""The rows of a CSV text with the exact text each was read from, for a program that writes a changed copy of a
file and leaves what it does not change byte for byte (see :mod:`kodeord.support.csvfile`).

:class:`RawRows` gives ``(first line, fields, text)`` one row at a time, as the csv module reads them. A list of a
million rows is read faster by :meth:`RawRows.blocks`, which hands out the rest of the file a piece (about a
megabyte of text) at a time: a piece without a quote character whose lines all end alike is a :class:`Lines`,
the lines' text without their endings, each line one row whose fields are that text split at the delimiter,
exactly what the csv module reads from it, at a fraction of the cost; any other piece is read by the csv module
and handed out as a list of rows.
"""

from __future__ import annotations

import csv
import re
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TextIO

from .csvfile import LONGEST_LINE, CsvError, bounded_line

Row = tuple[int, list[str], str]  # (the line the row begins on, its fields, its text with the line ending)
PIECE = 1 << 20  # characters read at a time by RawRows.blocks
# A line as readline(newline="") ends it: at \r\n, \r or \n, or at the end of the text.
_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+")


@dataclass(frozen=True, slots=True)
class Lines:
    """Rows that are one line each, with no quote character: ``first`` is the first one's line number,
    ``bodies`` the lines' text without their ending, which is ``ending`` for every one (``"\\n"`` or
    ``"\\r\\n"``). A row's fields are its body split at the delimiter; an empty body is a row of no fields."""

    first: int
    bodies: list[str]
    ending: str

    def __len__(self) -> int:
        return len(self.bodies)


class RawRows:
    """The rows of ``text`` (opened with ``newline=""``) after the lines ``head`` already read off it; iterated,
    ``(first line, fields, text)`` for each, ``text`` the row exactly as the file has it.

    Raises :class:`~.csvfile.CsvError` at a line longer than ``longest`` characters or a field over the csv
    module's limit; a file of any size is read a line (or with :meth:`blocks`, a piece) at a time."""

    def __init__(self, text: TextIO, delimiter: str, head: Iterable[str] = (), longest: int = LONGEST_LINE) -> None:
        self._text = text
        self.delimiter = delimiter
        self._longest = longest
        self._queue: deque[str] = deque(head)  # lines read off the text that the csv module has yet to read
        self._carry = ""  # the start of a line read off the text in a piece, its end not read yet
        self._pending: list[str] = []  # the lines of the row being read
        self._count = 0  # lines handed to the csv module or in blocks
        self._start = 1
        self._reader = csv.reader(self._feed(), delimiter=delimiter)

    def _feed(self) -> Iterator[str]:
        queue, keep, readline, longest = self._queue, self._pending.append, self._text.readline, self._longest
        while True:
            if not queue:
                if self._carry:  # the end of a line begun in a piece, and any line with a lone \r it holds
                    queue.extend(_LINE.findall(self._carry + readline(longest + 1)))
                    self._carry = ""
                else:
                    line = readline(longest + 1)
                    if not line:
                        return
                    queue.append(line)
            line = queue.popleft()
            self._count += 1
            if len(line) > longest:
                bounded_line(line, self._count, longest)
            keep(line)
            yield line

    def __iter__(self) -> RawRows:
        return self

    def __next__(self) -> Row:
        try:
            fields = next(self._reader)
        except csv.Error as exc:
            message = str(exc)
            if "field limit" in message:
                message = f"a field of more than {csv.field_size_limit()} characters"
            raise CsvError(self._start, message) from None
        pending = self._pending
        row = (self._start, fields, pending[0] if len(pending) == 1 else "".join(pending))
        pending.clear()
        self._start = self._count + 1
        return row

    def blocks(self, piece: int = PIECE) -> Iterator[Lines | list[Row]]:
        """The rest of the rows, a piece of the file at a time: :class:`Lines` where the piece allows, else a
        list of rows as iterating gives them."""
        read = self._text.read
        longest = min(self._longest, csv.field_size_limit())
        while True:
            if self._queue:  # lines read off the text before (the header's search, a piece with quotes)
                rows: list[Row] = []
                while self._queue:
                    try:
                        rows.append(next(self))
                    except StopIteration:
                        break
                if rows:
                    yield rows
            text = read(piece)
            if not text:
                if not self._carry:
                    return
                self._queue.extend(_LINE.findall(self._carry))  # the last line may lack a line ending
                self._carry = ""
                continue
            text = self._carry + text
            cut = text.rfind("\n") + 1
            if cut == 0:
                self._carry = text
                if len(text) > self._longest:
                    bounded_line(text, self._count + 1, self._longest)
                continue
            self._carry = text[cut:]
            lines = _lines(text[:cut], longest)
            if lines is None:
                self._queue.extend(_LINE.findall(text, 0, cut))
                continue
            bodies, ending = lines
            yield Lines(self._count + 1, bodies, ending)
            self._count += len(bodies)
            self._start = self._count + 1


def _lines(text: str, longest: int) -> tuple[list[str], str] | None:
    """``text`` (whole lines) as line bodies and their common ending, or None if it has a quote character, lines
    ending in different ways, or a line longer than ``longest``."""
    if '"' in text:
        return None
    if "\r" in text:
        pairs = text.count("\r\n")
        if pairs != text.count("\r") or pairs != text.count("\n"):
            return None
        ending = "\r\n"
    else:
        ending = "\n"
    bodies = text.split(ending)
    bodies.pop()  # the empty text after the last ending
    if max(map(len, bodies)) > longest:
        return None
    return bodies, ending


def raw_rows(text: TextIO, delimiter: str, head: Iterable[str] = (), longest: int = LONGEST_LINE) -> Iterator[Row]:
    """``(first line, fields, text)`` for each row of ``text``: see :class:`RawRows`."""
    return RawRows(text, delimiter, head, longest)

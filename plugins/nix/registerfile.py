"""Reading one version of a register from a file: one number per line, or a CSV with an area-code and a number
column, as the register's publisher delivers it.

Numbers may be written with or without the trunk prefix (``08-123 45 67``, ``8 1234567``), with spaces or
dashes; a CSV's area code may be ``08`` or ``8``. A first line without digits is a header: in a CSV it names the
columns (``riktnummer``/``area`` and ``nummer``/``number``); without one the first column is the area code and the
second the number. A line that is not a valid number is a bad line: counted, and the first few kept with their
line numbers to report. A file with more bad lines than numbers, or no numbers at all, is refused
(:class:`RegisterFileError`): it is not a register, and a version made from it would let registered numbers pass.
"""

from __future__ import annotations

import codecs
from collections.abc import Generator, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from kodeord.support.errors import KodeordError

from .numbers import reader
from .spec import RegisterSpec

CHUNK = 50_000  # numbers read at a time
KEEP_BAD = 20  # bad lines kept to report; all are counted
LONGEST_LINE = 1000
SHOWN = 60  # characters of a bad line shown
AREA_NAMES = frozenset(
    {"riktnummer", "riktnr", "rikt", "områdesnummer", "area", "areacode", "area code", "area_code", "prefix"}
)
SNIFF = 1 << 16  # bytes read to tell UTF-8 from Latin-1
NUMBER_NAMES = frozenset(
    {"nummer", "number", "telefonnummer", "telefon", "tel", "phone", "abonnentnummer", "abonnentnr", "nr", "msisdn"}
)
DELIMITERS = (";", "\t", ",")


class RegisterFileError(KodeordError):
    """A register file that cannot be a version of the register; the message says what and where."""


@dataclass(frozen=True)
class BadLine:
    """A line that is not a number: where, what it says (shortened) and why."""

    line: int
    text: str
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason} ({self.text!r})"


@dataclass
class Tally:
    """What reading a register file found."""

    lines: int = 0  # every line, blank lines and the header included
    numbers: int = 0  # valid numbers, duplicates included
    bad: int = 0
    first_bad: list[BadLine] = field(default_factory=list)
    layout: str = "one number per line"

    def bad_line(self, line: int, text: str, reason: str) -> None:
        """Count a bad line (and keep it when it is one of the first)."""
        self.bad += 1
        if len(self.first_bad) < KEEP_BAD:
            self.first_bad.append(BadLine(line, text[:SHOWN], reason))

    def judge(self) -> None:
        """Refuse what cannot be a register: no numbers, or more bad lines than numbers."""
        if self.numbers == 0:
            first = f"; {self.first_bad[0]}" if self.first_bad else ""
            raise RegisterFileError(f"no numbers in {self.lines} lines{first}")
        if self.bad > self.numbers:
            raise RegisterFileError(
                f"{self.bad} of {self.bad + self.numbers} lines are not numbers (first {self.first_bad[0]}): "
                "this is not a register file"
            )


def lines_of(path: Path) -> Generator[str, None, None]:
    """The lines of a register file: UTF-8 (with or without a byte-order mark), else Latin-1 (only a header
    has letters, but its names must read right)."""
    with path.open("rb") as raw:
        start = raw.read(SNIFF)
    try:
        codecs.getincrementaldecoder("utf-8")().decode(start, final=False)
        encoding = "utf-8-sig"
    except UnicodeDecodeError:
        encoding = "latin-1"
    with path.open(encoding=encoding, errors="replace") as file:
        yield from file


def _cell(text: str) -> str:
    return text.strip().strip('"').strip()


@dataclass(frozen=True)
class Layout:
    """Where a line's number is: the whole line, or an area-code column and a number column of a CSV."""

    delimiter: str = ""
    area: int | None = None
    number: int = 0

    def describe(self) -> str:
        """How the file was read, for the summary."""
        if not self.delimiter:
            return "one number per line"
        shown = {"\t": "tab"}.get(self.delimiter, repr(self.delimiter))
        area = f"area code in column {self.area + 1}, " if self.area is not None else ""
        return f"CSV ({shown}), {area}number in column {self.number + 1}"


def _layout(first: str, line: int) -> tuple[Layout, bool]:
    """The layout of a file from its first line, and whether that line is a header."""
    header = not any(c.isdigit() for c in first)
    delimiter = next((d for d in DELIMITERS if d in first), "")
    if not delimiter:
        return Layout(), header
    cells = [_cell(c).lower() for c in first.split(delimiter)]
    if not header:
        return (Layout(delimiter, 0, 1) if len(cells) > 1 else Layout(delimiter, None, 0)), False
    number = next((i for i, c in enumerate(cells) if c in NUMBER_NAMES), None)
    if number is None:
        names = ", ".join(sorted(NUMBER_NAMES))
        raise RegisterFileError(
            f"line {line}: no number column in the header {first[:SHOWN]!r} (name it one of {names})"
        )
    area = next((i for i, c in enumerate(cells) if c in AREA_NAMES), None)
    return Layout(delimiter, area, number), True


def read_numbers(lines: Iterable[str], register: RegisterSpec, tally: Tally) -> Iterator[list[int]]:
    """The valid numbers of ``lines`` (national significant numbers), a chunk at a time; ``tally`` counts lines,
    numbers and bad lines as they are read. Call ``tally.judge()`` after the last chunk."""
    read = reader(register).many
    trunk = register.trunk_prefix
    layout: Layout | None = None
    raws: list[str] = []
    where: list[int] = []
    number = 0

    def chunk() -> list[int]:
        parsed = read(raws)
        good = [p for p in parsed if type(p) is int]
        if len(good) != len(parsed):
            for at, raw, found in zip(where, raws, parsed, strict=True):
                if type(found) is not int:
                    tally.bad_line(at, raw, getattr(found, "reason", "not a number"))
        tally.numbers += len(good)
        raws.clear()
        where.clear()
        return good

    for number, line in enumerate(lines, 1):
        text = line.strip()
        if not text:
            continue
        if len(text) > LONGEST_LINE:
            tally.bad_line(number, text, f"longer than {LONGEST_LINE} characters")
            continue
        if layout is None:
            layout, header = _layout(text, number)
            tally.layout = layout.describe()
            if header:
                continue
        if layout.delimiter:
            cells = text.split(layout.delimiter)
            if len(cells) <= layout.number or (layout.area is not None and len(cells) <= layout.area):
                tally.bad_line(number, text, f"no column {max(layout.number, layout.area or 0) + 1}")
                continue
            text = _cell(cells[layout.number])
            if layout.area is not None:
                area = _cell(cells[layout.area]).replace(" ", "").replace("-", "")
                if area and not area.startswith("+") and not area.startswith(trunk):
                    area = trunk + area
                text = area + text
        raws.append(text)
        where.append(number)
        if len(raws) >= CHUNK:
            tally.lines = number
            yield chunk()
    tally.lines = number
    if raws:
        yield chunk()

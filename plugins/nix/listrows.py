"""What a wash reads from a call list and hands back: rows in batches, the register's verdicts, the status a
row is given, where the added columns go, and the summary kept as proof.

The wash sends the phone cells of a batch (``Batch.to_check``: neither blank nor business rows) to the register
and gets one :class:`Verdict` for each; a writer then drops or marks the rows. Business rows (NIX-7: companies
and sole traders are not protected) are never sent: they pass through, counted apart.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Protocol

from kodeord.support.csvfile import header_label
from kodeord.support.errors import KodeordError

MAX_COLUMNS = 1000  # cells of one row; a list wider than this is not a call list
STATUS_COLUMN = "nix_status"  # added in mark mode: registered, clear, invalid or business
UNTIL_COLUMN = "nix_callable_until"  # added in mark mode: YYYY-MM-DD for a clear row, else empty


class Status(enum.StrEnum):
    """What a wash says of a row."""

    REGISTERED = "registered"  # in the register version used: not to be called
    CLEAR = "clear"  # not in it: may be called until the version's date plus the rule's months
    INVALID = "invalid"  # not a phone number the register could hold
    BUSINESS = "business"  # marked as a company's or a sole trader's: not protected, not checked


class Mode(enum.StrEnum):
    """What the outfile does with a registered row."""

    REMOVE = "remove"  # left out
    MARK = "mark"  # kept, with the status and date columns added


class Verdict(Protocol):
    """The register's answer for one number: ``status`` is ``registered``, ``clear`` or ``invalid``;
    ``until`` the last day a clear number may be called (None for the others): the register's result fits."""

    @property
    def status(self) -> str: ...

    @property
    def until(self) -> date | None: ...


def _writable(text: str) -> str:
    return text.encode("utf-8", "surrogatepass").decode("utf-8", "replace")


class ListFileError(KodeordError):
    """A call list that cannot be washed: ``name`` is the file's, ``line`` where the problem is (the line of a
    CSV file, the row of a sheet; None: the file as a whole) and ``message`` what it is. ``str()`` gives
    ``FILE:LINE: message`` as the command line prints it."""

    http_status = 422

    def __init__(self, name: str, message: str, line: int | None = None) -> None:
        # A byte that was not text in the list lives on in a header as a lone surrogate, which no page, JSON answer
        # or terminal can write: such characters become U+FFFD here, once, for every caller.
        name, message = _writable(name), _writable(message)
        super().__init__(f"{name}:{line}: {message}" if line is not None else f"{name}: {message}")
        self.name = name
        self.message = message
        self.line = line


@dataclass(frozen=True, slots=True)
class Row:
    """One row after the header: ``line`` (the CSV line it begins on, or the sheet's row number), the phone
    cell as given, whether its business cell says it is a company's, whether it is blank (passed through as it
    is), and either its exact text (CSV, line ending included) or its typed cells (XLSX)."""

    line: int
    phone_raw: str
    is_business: bool = False
    is_blank: bool = False
    text: str = ""
    values: list[Any] | None = None


class Batch:
    """Rows read together, kept by column (a batch of a million-row list holds a few lists, not a million
    objects): each row's ``lines``, ``phones`` (``""`` for a blank row), and its text (CSV) or ``values``
    (XLSX); the indexes of the ``business`` and ``blank`` rows, and for CSV of the ``odd`` rows (more or fewer
    cells than the header). A CSV row's text is in ``texts`` (line ending included), or, for a batch of rows
    that are one line each without a quote, in ``bodies`` (without the line ending, which is ``ending`` for every
    row). ``to_check`` holds the phone cells the register is asked about, in row order (not those of blank or
    business rows): a writer takes one verdict for each. :attr:`rows` gives the rows as :class:`Row` objects."""

    __slots__ = ("lines", "phones", "texts", "bodies", "ending", "values", "business", "blank", "odd")

    def __init__(self) -> None:
        self.lines: list[int] = []
        self.phones: list[str] = []
        self.texts: list[str] = []
        self.bodies: list[str] | None = None
        self.ending = ""
        self.values: list[list[Any]] = []
        self.business: set[int] = set()
        self.blank: set[int] = set()
        self.odd: set[int] = set()

    def __len__(self) -> int:
        return len(self.lines)

    @property
    def checked(self) -> int:
        """How many rows are checked (the length of :attr:`to_check`)."""
        return len(self.lines) - len(self.business) - len(self.blank)

    @property
    def to_check(self) -> list[str]:
        """The phone cells to check: every row's but the blank and business rows'."""
        if not (self.business or self.blank):
            return self.phones
        skip = self.business | self.blank
        return [phone for index, phone in enumerate(self.phones) if index not in skip]

    @property
    def row_texts(self) -> list[str]:
        """Each CSV row's text, line ending included."""
        if self.bodies is None:
            return self.texts
        ending = self.ending
        return [body + ending for body in self.bodies]

    @property
    def rows(self) -> list[Row]:
        """The batch's rows as objects."""
        texts = self.row_texts or [""] * len(self.lines)
        values: list[list[Any] | None] = list(self.values) if self.values else [None] * len(self.lines)
        return [
            Row(line, phone, index in self.business, index in self.blank, text, cells)
            for index, (line, phone, text, cells) in enumerate(zip(self.lines, self.phones, texts, values, strict=True))
        ]


@dataclass
class Summary:
    """What a wash proves, without one number of the list: the file's name, format, size and SHA-256 (of the
    bytes read, computed as they were read), the washed column, and the rows counted by what they were found
    to be; ``written`` is the rows in the outfile (registered ones removed in remove mode)."""

    name: str
    format: str
    column: str = ""
    size: int = 0
    sha256: str = ""
    rows: int = 0
    registered: int = 0
    clear: int = 0
    invalid: int = 0
    business: int = 0
    written: int = 0

    def counts(self) -> dict[str, int]:
        """The counts by status, as a history records them."""
        return {
            "rows": self.rows,
            "registered": self.registered,
            "clear": self.clear,
            "invalid": self.invalid,
            "business": self.business,
        }


@dataclass(frozen=True)
class Marks:
    """Where a writer puts a row's status and date: ``status`` and ``until`` are cell indexes (None: not
    written), ``added`` the header names appended after the header's ``width`` cells (mark mode, for the
    columns the header lacks). A list marked before has the columns already: they are refreshed in place."""

    width: int
    status: int | None
    until: int | None
    added: tuple[str, ...] = field(default=())

    @classmethod
    def of(cls, header: Sequence[str], mode: Mode) -> Marks:
        """The marks for a header row's texts in ``mode``."""
        labels = [header_label(cell) for cell in header]
        status = _find(labels, STATUS_COLUMN)
        until = _find(labels, UNTIL_COLUMN)
        width = len(header)
        added: list[str] = []
        if mode is Mode.MARK:
            if status is None:
                status = width + len(added)
                added.append(STATUS_COLUMN)
            if until is None:
                until = width + len(added)
                added.append(UNTIL_COLUMN)
        return cls(width, status, until, tuple(added))

    @property
    def appended_only(self) -> bool:
        """Both columns are added (none was there): a row that fits the header just gets two cells more."""
        return len(self.added) == 2

    @property
    def untouched(self) -> bool:
        """Rows are written as they are (remove mode on a list never marked)."""
        return self.status is None and self.until is None

    def place(self, cells: Sequence[Any], status: str, until: Any, filler: Any) -> list[Any]:
        """``cells`` with ``status`` and ``until`` in their columns: a short row padded with ``filler`` to the
        header's width, the added columns inserted after it (cells beyond the header's width move right)."""
        placed = list(cells)
        if len(placed) < self.width:
            placed.extend([filler] * (self.width - len(placed)))
        if self.added:
            placed[self.width : self.width] = [filler] * len(self.added)
        if self.status is not None:
            placed[self.status] = status
        if self.until is not None:
            placed[self.until] = until
        return placed


def _find(labels: list[str], name: str) -> int | None:
    label = header_label(name)
    return labels.index(label) if label in labels else None

"""Member files: the sheets an association keeps its members in, read for an import (the console's and
``kodeord lists import``).

- **CSV** as Swedish Excel saves it, read by :mod:`kodeord.support.csvfile`: comma or semicolon, UTF-8 with
  or without a byte-order mark, or Windows-1252 (Latin-1);
- **XLSX**, the first sheet, read with openpyxl in read-only mode (a row at a time); a number typed as a
  number (``701234567``, its leading zero gone) is read back as the digits.

The first non-blank row names the columns, in Swedish or English and any case (:data:`HEADERS`): a phone or
an email column is needed, a name (or first and last name) column is optional. :func:`check` then sorts every
row into the members to add and the rows refused, each with its line and why.
"""

from __future__ import annotations

import csv
import unicodedata
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from kodeord.support import csvfile

from .admin import ListAdmin, MemberError

MAX_ROWS = 100_000  # rows of one file from the console; a bigger register goes in parts, or with the CLI
MAX_COLUMNS = 100  # columns read of an XLSX row
BLANK_SLACK = 10_000  # blank rows a file with a row limit may have besides its rows (a sheet's gaps are rows)
XLSX_MAGIC = b"PK\x03\x04"  # a zip file
XLS_MAGIC = b"\xd0\xcf\x11\xe0"  # the Excel 97-2003 format (a compound file)

# Column -> the header names that mean it, as csvfile.header_label leaves a header (the phone's are shared).
HEADERS: dict[str, frozenset[str]] = {"phone": csvfile.PHONE_HEADERS} | {
    column: frozenset(names.split("|"))
    for column, names in {
        "email": "email|e-mail|mail|email address|e-mail address|e-post|epost|e-postadress|epostadress|mejl|"
        "mejladress|mailadress",
        "name": "name|full name|namn|fullständigt namn|för- och efternamn|kontakt",
        "first": "first name|firstname|given name|förnamn|tilltalsnamn",
        "last": "last name|lastname|surname|family name|efternamn",
    }.items()
}

# Why a row is refused (the console shows each in the user's language).
REASONS = ("phone", "not_mobile", "email", "name", "missing", "duplicate", "member", "unsubscribed")


class FileError(MemberError):
    """A file that cannot be read as a member file; ``problem`` is ``format`` (neither CSV nor XLSX, or
    damaged), ``xls`` (the old Excel format), ``header`` (no phone or email column), ``empty`` or ``rows``
    (more than ``MAX_ROWS``); ``line`` is where (0: the file as a whole)."""

    def __init__(self, message: str, problem: str, line: int = 0) -> None:
        super().__init__(message, problem)
        self.line = line


@dataclass(frozen=True)
class Entry:
    """One data row as given: its line (the row's number in the sheet) and the phone, email and name cells."""

    line: int
    phone: str
    email: str
    name: str


@dataclass(frozen=True)
class Columns:
    """Where the header row put each column (its index), None for a column the file lacks."""

    phone: int | None
    email: int | None
    name: int | None = None
    first: int | None = None
    last: int | None = None

    @classmethod
    def of(cls, header: list[str]) -> Columns | None:
        """The columns a header row names; None unless it names a phone or an email column."""
        found: dict[str, int] = {}
        for index, cell in enumerate(header):
            label = csvfile.header_label(cell)
            for column, names in HEADERS.items():
                if label in names:
                    found.setdefault(column, index)
        if "phone" not in found and "email" not in found:
            return None
        return cls(found.get("phone"), found.get("email"), found.get("name"), found.get("first"), found.get("last"))

    def entry(self, line: int, row: list[str]) -> Entry:
        """The row at ``line`` as an entry (a missing cell is empty)."""

        def cell(index: int | None) -> str:
            return clean(row[index]) if index is not None and index < len(row) else ""

        name = cell(self.name) or " ".join(part for part in (cell(self.first), cell(self.last)) if part)
        return Entry(line, cell(self.phone), cell(self.email), name)


def clean(value: str) -> str:
    """A cell's text without surrounding space or control characters (a tab or NUL pasted into a sheet)."""
    return "".join(ch for ch in value if not unicodedata.category(ch).startswith("C")).strip()


def read(path: Path, max_rows: int | None = None) -> Iterator[Entry]:
    """Every data row of the member file at ``path`` (XLSX or CSV, told apart by their first bytes), read as
    it goes; FileError (as soon as it is found) for a file that cannot be one, or has more than ``max_rows``."""
    with path.open("rb") as file:
        start = file.read(8)
    if start.startswith(XLS_MAGIC):
        raise FileError("the old Excel format (.xls) cannot be read: save the sheet as .xlsx or CSV", "xls")
    rows = _xlsx_rows(path) if start.startswith(XLSX_MAGIC) else _csv_rows(path)
    return _entries(rows, max_rows)


def _entries(rows: Iterator[tuple[int, list[str]]], max_rows: int | None) -> Iterator[Entry]:
    columns: Columns | None = None
    count = 0
    for line, row in rows:
        if max_rows is not None and line > max_rows + BLANK_SLACK:  # a sheet of empty rows is a big sheet too
            raise FileError(f"more than {max_rows} rows: import the file in parts", "rows", line)
        if not any(clean(cell) for cell in row):
            continue
        if columns is None:
            columns = Columns.of(row)
            if columns is None:
                raise FileError("the header row needs a phone or an email column", "header", line)
            continue
        count += 1
        if max_rows is not None and count > max_rows:
            raise FileError(f"more than {max_rows} rows: import the file in parts", "rows", line)
        yield columns.entry(line, row)
    if columns is None:
        raise FileError("the file has no rows", "empty")


def _csv_rows(path: Path) -> Iterator[tuple[int, list[str]]]:
    try:
        yield from csvfile.rows(path)
    except csv.Error as exc:  # a field over the csv module's limit: a binary file, most likely
        raise FileError(f"not a CSV file ({exc})", "format") from None


def _xlsx_rows(path: Path) -> Iterator[tuple[int, list[str]]]:
    from openpyxl import load_workbook  # only an XLSX import needs it

    try:
        with path.open("rb") as handle:  # a file, not a path: openpyxl would judge a path by its extension
            with warnings.catch_warnings():  # openpyxl warns of styles and extensions it does not read
                warnings.simplefilter("ignore")
                book = load_workbook(handle, read_only=True, data_only=True)
            try:
                sheet = book.worksheets[0]
                sheet.reset_dimensions()  # a sheet's stated size may be wrong: its rows are what it has
                rows = sheet.iter_rows(max_col=MAX_COLUMNS, values_only=True)
                line = 0
                while True:
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        values = next(rows, None)
                    if values is None:
                        break
                    line += 1
                    if values.count(None) == len(values):  # a gap between rows (cheap: a sheet may have many)
                        yield line, []
                        continue
                    cells = list(values)
                    while cells and cells[-1] is None:  # read-only rows are padded to the widest row
                        cells.pop()
                    yield line, [_text(value) for value in cells]
            finally:
                book.close()
    except Exception as exc:  # noqa: BLE001 - a damaged workbook fails in many ways deep inside openpyxl
        raise FileError(f"not a readable XLSX file ({type(exc).__name__})", "format") from None


def _text(value: Any) -> str:
    """A cell's value as the text it shows: a whole number without ``.0``, a date as ISO."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


@dataclass(frozen=True)
class Refused:
    """A row that will not be imported: its line, why (one of ``REASONS``), the address as given, and for a
    duplicate the line it repeats."""

    line: int
    reason: str
    given: str
    first: int = 0


@dataclass
class Checked:
    """A member file checked against a list: the members to add (as :meth:`ListAdmin.import_members` takes
    them, with the line of each) and the rows refused, in line order."""

    rows: list[tuple[str, str]] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)
    refused: list[Refused] = field(default_factory=list)


def check(admin: ListAdmin, list_id: str, entries: Iterable[Entry]) -> Checked:
    """Sort ``entries`` into members to add and rows refused: an invalid number or address, a row repeating an
    earlier one, someone already a member, or someone who unsubscribed (only they can join again)."""
    lk = admin.keys(list_id)
    found = Checked()
    seen: dict[str, int] = {}
    candidates: list[tuple[int, str, str, str]] = []  # line, member id, contact, as given
    for entry in entries:
        given = entry.phone or entry.email
        try:
            member, contact = admin.member_row(entry.phone, entry.email, entry.name)
        except MemberError as exc:
            found.refused.append(Refused(entry.line, exc.problem, given))
            continue
        if member in seen:
            found.refused.append(Refused(entry.line, "duplicate", given, seen[member]))
            continue
        seen[member] = entry.line
        candidates.append((entry.line, member, contact, given))
    for start in range(0, len(candidates), 1000):
        chunk = candidates[start : start + 1000]
        ids = [member for _, member, _, _ in chunk]
        pipe = admin.redis.pipeline(transaction=False)
        pipe.zmscore(lk.members, ids)
        pipe.zmscore(lk.unsubscribed, ids)
        on_list, gone = pipe.execute()
        for (line, member, contact, given), member_score, gone_score in zip(chunk, on_list, gone, strict=True):
            if gone_score is not None:
                found.refused.append(Refused(line, "unsubscribed", given))
            elif member_score is not None:
                found.refused.append(Refused(line, "member", given))
            else:
                found.rows.append((member, contact))
                found.lines.append(line)
    found.refused.sort(key=lambda r: r.line)
    return found

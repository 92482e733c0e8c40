"""Finding a call list's header row, its phone column and its business column.

The phone column is the one whose header is a phone column's name (Swedish or English, any case: the names
:data:`kodeord.support.csvfile.PHONE_HEADERS` shares with the address book), or the one the wash is given by
name or by 1-based number. The header row is the first non-blank row, or for a named or found column the first
of the first :data:`HEADER_SEARCH` non-blank rows that has it (a title line above the header is passed
through). Two phone columns are refused rather than one washed and the other not: the wash is told which.

The business column (NIX-7) is given by name or number only; a row whose business cell says yes (any of
:data:`BUSINESS_VALUES`, any case) is a company's or a sole trader's.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NoReturn

from kodeord.support.csvfile import PHONE_HEADERS, header_label

from .listrows import ListFileError

HEADER_SEARCH = 10  # non-blank rows looked through for the header row
BUSINESS_VALUES = frozenset(
    "ja|j|yes|y|x|1|true|sant|företag|foretag|company|business|firma|enskild firma|ef".split("|")
)
_LISTED = 12  # header cells named in a message
_LOOKS_LIKE_DATA = re.compile(r"^\+?[\d\s\-()/.]{6,}$")

ColumnSpec = str | int | None  # a header name, a 1-based number (or its digits), or None: find it


@dataclass(frozen=True)
class Columns:
    """The header row's ``line``, its cells' texts, and the indexes of the phone and business columns."""

    line: int
    header: list[str]
    phone: int
    business: int | None

    @property
    def phone_header(self) -> str:
        """The phone column's header as written."""
        return self.header[self.phone].strip()


class HeaderFinder:
    """Looks at a list's first non-blank rows, one at a time, for its header row."""

    def __init__(self, name: str, column: ColumnSpec = None, business: ColumnSpec = None) -> None:
        self.name = name
        self.column = _given(column)
        self.business = _given(business)
        self.looked: list[tuple[int, list[str]]] = []

    def match(self, line: int, cells: Sequence[str]) -> Columns | None:
        """The columns if the non-blank row at ``line`` (its cells' texts) is the header row, None to look at
        the next; ListFileError when it must be the header row and is not a usable one, or after the last row
        looked at."""
        header = list(cells)
        self.looked.append((line, header))
        labels = [header_label(cell) for cell in header]
        first = len(self.looked) == 1
        phone = self._phone(line, header, labels, definite=first)
        if phone is None:
            if len(self.looked) >= HEADER_SEARCH:
                self.missing()
            return None
        business = self._business(line, header, labels, phone)
        return Columns(line, header, phone, business)

    def missing(self) -> NoReturn:
        """Refuse the list: none of the rows looked at (or none at all) is a header row with the column."""
        if not self.looked:
            raise ListFileError(self.name, "no header row: every row of the file is blank")
        line, header = self.looked[0]
        hint = ""
        if any(_LOOKS_LIKE_DATA.match(cell.strip()) and sum(ch.isdigit() for ch in cell) >= 6 for cell in header):
            hint = "; the first row looks like data: add a header row that names the columns"
        if self.column is None:
            raise ListFileError(
                self.name,
                f"no phone column: the header row has {_listing(header)}; name it Telefon, Mobil or Phone "
                f"(or give the column to wash){hint}",
                line,
            )
        raise ListFileError(self.name, f"no column {_spec(self.column)}: the header row has {_listing(header)}", line)

    def _phone(self, line: int, header: list[str], labels: list[str], *, definite: bool) -> int | None:
        if self.column is None:
            found = [index for index, label in enumerate(labels) if label in PHONE_HEADERS]
            if len(found) > 1:
                named = " and ".join(f'"{header[i].strip()}" (column {i + 1})' for i in found[:4])
                raise ListFileError(self.name, f"more than one phone column, {named}: give the one to wash", line)
            return found[0] if found else None
        index = _index(self.column, header, labels)
        if index is None and definite and _number(self.column) is not None:
            raise ListFileError(self.name, f"no column {self.column}: the header row has {len(header)} columns", line)
        return index

    def _business(self, line: int, header: list[str], labels: list[str], phone: int) -> int | None:
        if self.business is None:
            return None
        index = _index(self.business, header, labels)
        if index is None:
            raise ListFileError(
                self.name, f"no business column {_spec(self.business)}: the header row has {_listing(header)}", line
            )
        if index == phone:
            raise ListFileError(self.name, "the business column is the phone column", line)
        return index


def is_business(value: str) -> bool:
    """Whether a business cell says the row is a company's or a sole trader's."""
    return value.strip().lower() in BUSINESS_VALUES


def _index(spec: str | int, header: list[str], labels: list[str]) -> int | None:
    """The index ``spec`` names in a header: its header (first), else its 1-based number."""
    if isinstance(spec, str) and (label := header_label(spec)) and label in labels:
        return labels.index(label)
    number = _number(spec)
    if number is not None and 1 <= number <= len(header):
        return number - 1
    return None


def _given(spec: ColumnSpec) -> ColumnSpec:
    """A column as given, None for an empty name (an option left empty)."""
    return None if isinstance(spec, str) and not spec.strip() else spec


def _number(spec: str | int) -> int | None:
    if isinstance(spec, int):
        return spec
    text = spec.strip()
    return int(text) if text.isascii() and text.isdigit() and len(text) < 8 else None


def _spec(spec: str | int) -> str:
    return str(spec) if _number(spec) is not None else f'"{spec}"'


def _listing(header: Sequence[str]) -> str:
    """A header row's non-empty cells for a message: quoted, shortened, at most a dozen."""
    cells = [cell.strip() for cell in header if cell.strip()]
    if not cells:
        return "no names (an empty header row)"
    shown = ", ".join('"' + (cell if len(cell) <= 30 else cell[:29] + "…") + '"' for cell in cells[:_LISTED])
    more = f" and {len(cells) - _LISTED} more" if len(cells) > _LISTED else ""
    return shown + more

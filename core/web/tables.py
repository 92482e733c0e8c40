"""Tables to download: one set of typed columns and rows, written as xlsx, as CSV for Swedish Excel, or as JSON.

- **xlsx** with XlsxWriter in constant-memory mode (a row is written and forgotten, so a million rows take
  the memory of one): numbers as numbers, times as Excel dates in the tenant's time, text always as text
  (never a formula; control characters, which XML cannot hold, left out, and line breaks as Excel's ``\n``),
  widths set per column, the header frozen and filtered.
- **CSV** as Swedish Excel opens it with a double click: UTF-8 with a byte-order mark, semicolons, decimal
  commas, ``YYYY-MM-DD HH:MM:SS`` times. A text cell that a spreadsheet would run as a formula (it begins with
  ``=``, ``+``, ``-``, ``@``, a tab or a carriage return) is given a leading apostrophe; a phone number in a
  phone column is left as it is.
- **JSON**: an array of objects keyed by the columns' keys; times in ISO 8601 with their offset, decimals as
  strings.

Rows are sequences of values in the columns' order; ``None`` is an empty cell.
"""

from __future__ import annotations

import csv
import dataclasses
import enum
import io
import json
import re
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import IO, Any
from zoneinfo import ZoneInfo

import xlsxwriter

FORMATS = ("xlsx", "csv", "json")
MEDIA_TYPES = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "csv": "text/csv; charset=utf-8",
    "json": "application/json",
}
_FORMULA = re.compile(r"^[=+\-@\t\r]")
_PHONE = re.compile(r"^\+?[0-9 ]{3,20}$")
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")  # not allowed in XML: left out of xlsx cells
_CHUNK = 64 * 1024


class Kind(enum.StrEnum):
    """What a column holds, which decides how each format writes it."""

    TEXT = "text"
    PHONE = "phone"  # an E.164 number or a short code, written as text
    INTEGER = "integer"
    DECIMAL = "decimal"  # money: two decimals
    DATETIME = "datetime"  # an aware datetime, shown in the table's time zone
    DATE = "date"


_WIDTHS = {Kind.PHONE: 16, Kind.INTEGER: 10, Kind.DECIMAL: 12, Kind.DATETIME: 20, Kind.DATE: 12}


@dataclass(frozen=True)
class Column:
    """A column: ``key`` (JSON's name for it), ``title`` (the header), ``kind``, ``width`` in characters
    (0: a width that fits the kind and the title)."""

    key: str
    title: str
    kind: Kind = Kind.TEXT
    width: int = 0

    def chars(self) -> int:
        """The column's width in xlsx."""
        return self.width or max(_WIDTHS.get(self.kind, 24), len(self.title) + 2)


@dataclass(frozen=True)
class Table:
    """Columns, rows (an iterable read once) and the time zone that times are shown in."""

    columns: Sequence[Column]
    rows: Iterable[Sequence[Any]]
    zone: str = "Europe/Stockholm"
    name: str = "Rapport"  # the xlsx sheet's name

    def worded(self, words: Callable[[str], str]) -> Table:
        """The table with its name and column titles put through ``words`` (a translation)."""
        columns = [dataclasses.replace(c, title=words(c.title)) for c in self.columns]
        return dataclasses.replace(self, columns=columns, name=words(self.name))

    def local(self, value: datetime) -> datetime:
        """``value`` in the table's time zone, without the zone (as a spreadsheet keeps times)."""
        return value.astimezone(ZoneInfo(self.zone)).replace(tzinfo=None)


def write_xlsx(table: Table, out: IO[bytes]) -> int:
    """Write ``table`` as an xlsx workbook to ``out``; return the rows written (besides the header)."""
    book = xlsxwriter.Workbook(out, {"constant_memory": True, "in_memory": False, "tmpdir": tempfile.gettempdir()})
    sheet = book.add_worksheet(_sheet_name(table.name))
    bold = book.add_format({"bold": True, "bottom": 1})
    formats = {
        Kind.INTEGER: book.add_format({"num_format": "#,##0"}),
        Kind.DECIMAL: book.add_format({"num_format": "#,##0.00"}),
        Kind.DATETIME: book.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"}),
        Kind.DATE: book.add_format({"num_format": "yyyy-mm-dd"}),
    }
    for n, column in enumerate(table.columns):
        sheet.set_column(n, n, column.chars(), formats.get(column.kind))
        sheet.write_string(0, n, column.title, bold)
    sheet.freeze_panes(1, 0)
    count = 0
    for count, row in enumerate(table.rows, start=1):  # noqa: B007 - the count is the answer
        for n, (column, value) in enumerate(zip(table.columns, row, strict=True)):
            _cell(sheet, count, n, column.kind, value, formats, table)
    if table.columns:
        sheet.autofilter(0, 0, count, len(table.columns) - 1)
    book.close()
    return count


def _cell(sheet: Any, row: int, col: int, kind: Kind, value: Any, formats: dict[Kind, Any], table: Table) -> None:
    if value is None or value == "":
        return
    if kind in (Kind.INTEGER, Kind.DECIMAL) and isinstance(value, int | float | Decimal):
        sheet.write_number(row, col, float(value), formats[kind])
    elif kind is Kind.DATETIME and isinstance(value, datetime):
        sheet.write_datetime(row, col, table.local(value), formats[kind])
    elif kind is Kind.DATE and isinstance(value, date):
        sheet.write_datetime(row, col, datetime(value.year, value.month, value.day), formats[kind])
    else:
        text = _CONTROL.sub("", str(value).replace("\r\n", "\n").replace("\r", "\n"))
        sheet.write_string(row, col, text[:32767])  # Excel's longest cell


def _sheet_name(name: str) -> str:
    cleaned = re.sub(r"[\[\]:*?/\\]", " ", name).strip("'") or "Rapport"
    return cleaned[:31]


def xlsx_file(table: Table) -> tuple[IO[bytes], int]:
    """``table`` as an xlsx workbook in a temporary file (removed when closed), rewound; and its rows."""
    out = tempfile.TemporaryFile()
    rows = write_xlsx(table, out)
    out.seek(0)
    return out, rows


def read_chunks(file: IO[bytes]) -> Iterator[bytes]:
    """``file``'s bytes in chunks, then close it."""
    try:
        while chunk := file.read(_CHUNK):
            yield chunk
    finally:
        file.close()


def csv_text(kind: Kind, value: Any, table: Table) -> str:
    """One CSV cell as Swedish Excel reads it."""
    if value is None:
        return ""
    if kind in (Kind.INTEGER, Kind.DECIMAL) and isinstance(value, int | float | Decimal):
        text = f"{value:.2f}" if kind is Kind.DECIMAL else str(value)
        return text.replace(".", ",")
    if kind is Kind.DATETIME and isinstance(value, datetime):
        return table.local(value).strftime("%Y-%m-%d %H:%M:%S")
    if kind is Kind.DATE and isinstance(value, date):
        return value.isoformat()
    text = str(value)
    if kind is Kind.PHONE and _PHONE.match(text):
        return text
    return "'" + text if _FORMULA.match(text) else text


def csv_chunks(table: Table) -> Iterator[bytes]:
    """``table`` as CSV for Swedish Excel, in chunks of about 64 KiB (the first starts with the BOM)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    buffer.write("\ufeff")
    writer.writerow([c.title for c in table.columns])
    for row in table.rows:
        writer.writerow([csv_text(c.kind, v, table) for c, v in zip(table.columns, row, strict=True)])
        if buffer.tell() >= _CHUNK:
            yield buffer.getvalue().encode("utf-8")
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode("utf-8")


def json_value(kind: Kind, value: Any) -> Any:
    """One cell as JSON: times in ISO 8601, decimals as strings."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def json_chunks(table: Table) -> Iterator[bytes]:
    """``table`` as a JSON array of objects, in chunks."""
    keys = [c.key for c in table.columns]
    parts: list[str] = ["["]
    size, first = 1, True
    for row in table.rows:
        item = {k: json_value(c.kind, v) for k, c, v in zip(keys, table.columns, row, strict=True)}
        text = ("" if first else ",") + json.dumps(item, ensure_ascii=False)
        first = False
        parts.append(text)
        size += len(text)
        if size >= _CHUNK:
            yield "".join(parts).encode("utf-8")
            parts, size = [], 0
    parts.append("]")
    yield "".join(parts).encode("utf-8")

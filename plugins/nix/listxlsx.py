"""Call lists in XLSX: the first sheet read with openpyxl in read-only mode, a row at a time, and the outfile a
new workbook written by XlsxWriter in constant-memory mode.

Cells keep their types: a number stays a number (a phone number typed as one, ``701234567``, is handed to the
register as those digits, without ``.0``; a lost leading zero is the register's business), a date or time
stays one (shown ``yyyy-mm-dd``, ``yyyy-mm-dd hh:mm:ss`` or ``hh:mm:ss``), a truth value stays one, text stays
text (never turned into a formula). What a new workbook does not keep: formatting (fonts, colours, widths,
number formats other than those), formulas (their last computed values are written, as Excel shows them),
error cells (written as their text, ``#N/A``), comments, merged cells, and every sheet but the first. In mark
mode ``nix_callable_until`` is a date cell.

Refused: a zip archive that is damaged or not a workbook (an OpenDocument sheet is named as one), a part that
openpyxl would have to hold whole (shared strings, styles) over :data:`LARGEST_PART` bytes, a row past Excel's
last, and a cell longer than Excel allows.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import tempfile
import warnings
import zipfile
from collections.abc import Iterator, Sequence
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import xlsxwriter

from .listcolumns import HeaderFinder, is_business
from .listfile import BATCH, FileWriter, ListFile, ListWriter
from .listrows import MAX_COLUMNS, Batch, ListFileError, Mode, Status, Verdict

EXCEL_ROWS = 1_048_576  # the last row of a sheet
EXCEL_CELL = 32_767  # characters in a cell
LARGEST_PART = 256 << 20  # bytes of a workbook part besides the sheets (read whole by openpyxl)
_PIECE = 1 << 20
_EMPTY: list[Any] = []


def cell_text(value: Any) -> str:
    """A cell's value as the text a person typed: a whole number without ``.0``, a date in ISO form."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    return str(value)


def _blank(cells: list[Any]) -> bool:
    return all(value is None or (type(value) is str and not value.strip()) for value in cells)


class XlsxListFile(ListFile):
    """A call list in the first sheet of an XLSX workbook."""

    format = "xlsx"

    def __init__(self, path: Path, name: str, finder: HeaderFinder) -> None:
        super().__init__(path, name)
        self.summary.size, self.summary.sha256 = _digest(path)  # a zip is read out of order: hashed first
        self._handle = path.open("rb")
        self._book: Any = None
        try:
            self._open(finder)
        except BaseException:
            self.close()
            raise

    def _open(self, finder: HeaderFinder) -> None:
        self._check_archive()
        self._handle.seek(0)
        from openpyxl import load_workbook

        try:
            with warnings.catch_warnings():  # openpyxl warns of the styles and extensions it does not read
                warnings.simplefilter("ignore")
                self._book = load_workbook(self._handle, read_only=True, data_only=True)
        except Exception as exc:  # noqa: BLE001 - a damaged workbook fails in many ways deep inside openpyxl
            raise ListFileError(self.name, f"not a readable .xlsx workbook ({_why(exc)})") from None
        if not self._book.worksheets:
            raise ListFileError(self.name, "the workbook has no worksheet")
        sheet = self._book.worksheets[0]
        self.sheet_title: str = sheet.title
        self._declared_rows: int | None = sheet.max_row if (sheet.max_row or 0) > 1 else None
        sheet.reset_dimensions()  # a sheet's stated size may be wrong: its rows are what it has
        self._values = sheet.iter_rows(values_only=True)
        self._line = 0
        self.preamble: list[list[Any]] = []  # the rows before the header row: blank and title rows
        for line, cells in self._read():
            if _blank(cells):
                self.preamble.append(cells or _EMPTY)  # a sheet may have a million empty rows: one list for all
                continue
            columns = finder.match(line, [cell_text(value) for value in cells])
            if columns is not None:
                self.columns = columns
                self.header_cells = cells
                return
            self.preamble.append(cells)
        finder.missing()

    def _check_archive(self) -> None:
        try:
            with zipfile.ZipFile(self._handle) as archive:
                parts = archive.infolist()
                names = {part.filename for part in parts}
                kind = b""
                if "mimetype" in names:
                    with archive.open("mimetype") as opened:
                        kind = opened.read(80)
        except Exception as exc:  # noqa: BLE001 - a damaged zip: BadZipFile, zlib.error, EOFError, encrypted...
            raise ListFileError(self.name, f"a damaged .xlsx file: not a readable zip archive ({_why(exc)})") from None
        if kind.startswith(b"application/vnd.oasis.opendocument"):
            raise ListFileError(self.name, "an OpenDocument file (.ods): save it as an .xlsx workbook or as CSV")
        if "[Content_Types].xml" not in names:
            raise ListFileError(self.name, "a zip archive, not an .xlsx workbook (it has no [Content_Types].xml)")
        for part in parts:
            if part.file_size > LARGEST_PART and not part.filename.startswith("xl/worksheets/"):
                raise ListFileError(
                    self.name, f"the workbook's {part.filename} is {part.file_size} bytes; at most {LARGEST_PART}"
                )

    def _read(self) -> Iterator[tuple[int, list[Any]]]:
        values = self._values
        while True:
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    found = next(values, None)
            except Exception as exc:  # noqa: BLE001 - as opening: openpyxl's failures are many
                raise ListFileError(
                    self.name, f"the sheet cannot be read from here on ({_why(exc)})", self._line + 1
                ) from None
            if found is None:
                return
            self._line += 1
            line = self._line
            if line > EXCEL_ROWS:
                raise ListFileError(self.name, f"a row past a sheet's last ({EXCEL_ROWS})", line)
            width = len(found)
            while width and found[width - 1] is None:  # rows are padded to the widest row
                width -= 1
            if width > MAX_COLUMNS:
                raise ListFileError(self.name, f"a row of {width} columns; at most {MAX_COLUMNS}", line)
            cells = list(found[:width])
            for index, value in enumerate(cells):
                if type(value) is str and len(value) > EXCEL_CELL:
                    raise ListFileError(
                        self.name, f"column {index + 1} has {len(value)} characters; at most {EXCEL_CELL}", line
                    )
            yield line, cells

    @property
    def progress(self) -> float | None:
        """How much of the sheet is read, if the sheet says how many rows it has."""
        return min(1.0, self._line / self._declared_rows) if self._declared_rows else None

    def batches(self, size: int = BATCH) -> Iterator[Batch]:
        """The rows after the header, ``size`` at a time."""
        phone = self.columns.phone
        business = self.columns.business
        batch = Batch()
        for line, cells in self._read():
            index = len(batch.lines)
            batch.lines.append(line)
            batch.values.append(cells)
            count = len(cells)
            if _blank(cells):
                batch.phones.append("")
                batch.blank.add(index)
            else:
                batch.phones.append(cell_text(cells[phone]) if phone < count else "")
                if business is not None and business < count and is_business(cell_text(cells[business])):
                    batch.business.add(index)
            if index + 1 >= size:
                self.given += len(batch)
                yield batch
                batch = Batch()
        self.finished = True
        if batch.lines:
            self.given += len(batch)
            yield batch

    def _writer(self, out: Path, mode: Mode) -> ListWriter:
        return XlsxWriter(self, out, mode)

    def close(self) -> None:
        """Close the workbook and the file."""
        if self._book is not None:
            self._book.close()
            self._book = None
        self._handle.close()


def _digest(path: Path) -> tuple[int, str]:
    sha256 = hashlib.sha256()
    size = 0
    with path.open("rb") as file:
        while piece := file.read(_PIECE):
            sha256.update(piece)
            size += len(piece)
    return size, sha256.hexdigest()


def _why(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text[:120]}" if text else type(exc).__name__


class XlsxWriter(FileWriter):
    """The outfile of an XLSX list: a new workbook of one sheet, named as the list's, cells of the same types."""

    source: XlsxListFile

    def __init__(self, source: XlsxListFile, out: Path, mode: Mode) -> None:
        super().__init__(source, out, mode)
        self.book = xlsxwriter.Workbook(
            self.file, {"constant_memory": True, "in_memory": False, "tmpdir": tempfile.gettempdir()}
        )
        try:
            try:
                self.sheet = self.book.add_worksheet(source.sheet_title)
            except Exception:  # noqa: BLE001 - a name Excel would not take (openpyxl reads any): the default
                self.sheet = self.book.add_worksheet()
            self._formats = {
                "date": self.book.add_format({"num_format": "yyyy-mm-dd"}),
                "datetime": self.book.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"}),
                "time": self.book.add_format({"num_format": "hh:mm:ss"}),
                "duration": self.book.add_format({"num_format": "[h]:mm:ss"}),
            }
            self._row = 0
            for cells in source.preamble:
                self._cells(cells)
            self._cells([*source.header_cells, *self.marks.added])
        except BaseException:
            self.discard()
            raise

    def _write(self, batch: Batch, verdicts: Sequence[Verdict | None]) -> None:
        marks = self.marks
        remove = self.mode is Mode.REMOVE
        for cells, verdict in zip(batch.values, verdicts, strict=True):
            if verdict is None:
                self._cells(cells)
                continue
            status = verdict.status
            if remove and status == Status.REGISTERED:
                continue
            if not marks.untouched:
                until = verdict.until if status == Status.CLEAR else None
                cells = marks.place(cells, str(status), until, None)
            self._cells(cells)

    def _cells(self, cells: list[Any]) -> None:
        sheet = self.sheet
        row = self._row
        for col, value in enumerate(cells):
            kind = type(value)
            if value is None:
                continue
            if kind is str:
                sheet.write_string(row, col, value)
            elif kind is bool:
                sheet.write_boolean(row, col, value)
            elif kind is int or (kind is float and math.isfinite(value)):
                sheet.write_number(row, col, value)
            elif kind is datetime:
                midnight = value.time() == time(0)
                sheet.write_datetime(row, col, value, self._formats["date" if midnight else "datetime"])
            elif kind is date:
                sheet.write_datetime(row, col, datetime(value.year, value.month, value.day), self._formats["date"])
            elif kind is time:
                sheet.write_datetime(row, col, value, self._formats["time"])
            elif kind is timedelta:
                sheet.write_datetime(row, col, value, self._formats["duration"])
            else:
                sheet.write_string(row, col, cell_text(value))
        self._row = row + 1

    def _finish(self) -> None:
        self.book.close()

    def discard(self) -> None:
        """Close the workbook (which removes its temporary files) and remove the unfinished file."""
        with contextlib.suppress(Exception):
            self.book.close()
        super().discard()

"""Call lists in CSV: read as Swedish Excel and programs write them, written back the same way.

The encoding (UTF-8 with or without a byte-order mark, Windows-1252, or UTF-16 with a mark) and the delimiter
(comma, semicolon or tab) are found as :mod:`kodeord.support.csvfile` finds them. A file with a NUL byte is
binary and refused. The file's bytes are hashed as they are read for the summary's SHA-256 (one more read
before, which finds the encoding, is all it costs besides).

The outfile keeps every row's text as it was read, byte for byte (quoting, spaces, line endings, encoding,
byte-order mark): remove mode writes the rows it keeps unchanged; mark mode adds the delimiter and the two cells
to the end of each row's text (quoted when the header's cells all are). Only a row that cannot simply have cells
added is written again by the csv module, with the same delimiter and the same values: a row shorter than the
header (padded), one longer (the added cells go after the header's last column), one with an unbalanced quote,
and every row of a list marked before (its status and date columns are refreshed in place).
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Iterator, Sequence
from datetime import date
from pathlib import Path
from typing import BinaryIO

from kodeord.support import csvfile
from kodeord.support.csvrows import Lines, RawRows, Row

from .listcolumns import HEADER_SEARCH, HeaderFinder, is_business
from .listfile import BATCH, FileWriter, ListFile, ListWriter
from .listrows import MAX_COLUMNS, Batch, ListFileError, Mode, Status, Verdict

_READ_BUFFER = 1 << 20


class _Hashing(io.RawIOBase):
    """A file read through, its bytes hashed and counted on the way."""

    def __init__(self, raw: BinaryIO) -> None:
        self.raw = raw
        self.sha256 = hashlib.sha256()
        self.size = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        count = self.raw.readinto(buffer)  # type: ignore[attr-defined]
        if count:
            self.sha256.update(buffer[:count])
            self.size += count
        return count or 0

    def close(self) -> None:
        self.raw.close()
        super().close()


class CsvListFile(ListFile):
    """A call list in CSV text."""

    format = "csv"

    def __init__(self, path: Path, name: str, finder: HeaderFinder) -> None:
        super().__init__(path, name)
        self.encoding = csvfile.text_encoding(path)
        if self.encoding.nul_line is not None:
            raise ListFileError(
                name,
                "a binary file, neither CSV text nor an .xlsx workbook (it has a NUL byte)",
                self.encoding.nul_line,
            )
        self.total = path.stat().st_size
        self._hashing = _Hashing(path.open("rb", buffering=0))
        self._text = io.TextIOWrapper(
            io.BufferedReader(self._hashing, _READ_BUFFER),
            encoding=self.encoding.codec,
            errors="surrogateescape",  # the bytes Windows-1252 leaves undefined are written back as they were
            newline="",
        )
        try:
            self._open(finder)
        except BaseException:
            self.close()
            raise

    def _open(self, finder: HeaderFinder) -> None:
        try:
            head = csvfile.head_lines(self._text, HEADER_SEARCH)
        except csvfile.CsvError as exc:
            raise ListFileError(self.name, exc.message, exc.line) from None
        if not any(line.strip() for line in head):
            finder.missing()
        # the first non-blank line's delimiter; if it has none (a title line above the header), the first lines'
        first = next(line for line in head if line.strip())
        self.delimiter = csvfile.delimiter(first if any(d in first for d in csvfile.DELIMITERS) else "".join(head))
        self._blank = self.delimiter + ' \t\r\n"'  # what a row of empty cells is made of
        self._records = RawRows(self._text, self.delimiter, head)
        before = io.StringIO()  # the text before the header row (blank and title lines), held as text
        try:
            for line, fields, text in self._records:
                if len(fields) > MAX_COLUMNS:
                    raise ListFileError(self.name, f"a row of {len(fields)} columns; at most {MAX_COLUMNS}", line)
                if text.strip(self._blank):
                    columns = finder.match(line, fields)
                    if columns is not None:
                        self.columns = columns
                        self.header_text = text
                        self.preamble = before.getvalue()
                        return
                before.write(text)
        except csvfile.CsvError as exc:
            raise ListFileError(self.name, exc.message, exc.line) from None
        finder.missing()

    @property
    def progress(self) -> float:
        """How much of the file is read."""
        return min(1.0, self._hashing.size / self.total) if self.total else 1.0

    def batches(self, size: int = BATCH) -> Iterator[Batch]:
        """The rows after the header, ``size`` at a time (or fewer, where the file turns from rows of one line
        without quotes to others, or back)."""
        batch = Batch()
        try:
            for block in self._records.blocks():
                if isinstance(block, Lines):
                    if batch:
                        yield self._given(batch)
                        batch = Batch()
                    for start in range(0, len(block), size):
                        yield self._given(self._line_batch(block, start, size))
                    continue
                for row in block:
                    self._add(batch, row)
                    if len(batch) >= size:
                        yield self._given(batch)
                        batch = Batch()
        except csvfile.CsvError as exc:
            raise ListFileError(self.name, exc.message, exc.line) from None
        self.summary.size = self._hashing.size
        self.summary.sha256 = self._hashing.sha256.hexdigest()
        self.finished = True
        if batch:
            yield self._given(batch)

    def _given(self, batch: Batch) -> Batch:
        self.given += len(batch)
        return batch

    def _add(self, batch: Batch, row: Row) -> None:
        """One row, as the csv module read it, added to ``batch``."""
        line, fields, text = row
        count = len(fields)
        if count > MAX_COLUMNS:
            raise ListFileError(self.name, f"a row of {count} columns; at most {MAX_COLUMNS}", line)
        index = len(batch)
        batch.lines.append(line)
        batch.texts.append(text)
        if not text.strip(self._blank):
            batch.phones.append("")
            batch.blank.add(index)
            return
        phone, business = self.columns.phone, self.columns.business
        batch.phones.append(fields[phone] if phone < count else "")
        if business is not None and business < count and fields[business] and is_business(fields[business]):
            batch.business.add(index)
        if count != len(self.columns.header):
            batch.odd.add(index)

    def _line_batch(self, block: Lines, start: int, size: int) -> Batch:
        """The rows ``start`` to ``start + size`` of ``block`` as a batch, their cells split a column at a time."""
        bodies = block.bodies[start : start + size]
        first = block.first + start
        delimiter, blank = self.delimiter, self._blank
        width = len(self.columns.header)
        batch = Batch()
        batch.lines = list(range(first, first + len(bodies)))
        batch.bodies, batch.ending = bodies, block.ending
        counts = [body.count(delimiter) for body in bodies]  # a row of one line has one cell more than these
        if max(counts) >= MAX_COLUMNS:
            at = next(index for index, count in enumerate(counts) if count >= MAX_COLUMNS)
            raise ListFileError(self.name, f"a row of {counts[at] + 1} columns; at most {MAX_COLUMNS}", first + at)
        phones = batch.phones = _cells(bodies, delimiter, self.columns.phone, min(counts))
        for index in [index for index, phone in enumerate(phones) if not phone.strip(blank)]:
            if not bodies[index].strip(blank):
                batch.blank.add(index)
                phones[index] = ""
        if min(counts) != width - 1 or max(counts) != width - 1:
            batch.odd = {index for index, count in enumerate(counts) if count != width - 1} - batch.blank
        business = self.columns.business
        if business is not None:
            cells = _cells(bodies, delimiter, business, min(counts))
            batch.business = {index for index, cell in enumerate(cells) if cell and is_business(cell)} - batch.blank
        return batch

    def _writer(self, out: Path, mode: Mode) -> ListWriter:
        return CsvWriter(self, out, mode)

    def close(self) -> None:
        """Close the file."""
        self._text.close()


def _cells(bodies: list[str], delimiter: str, column: int, fewest: int) -> list[str]:
    """The cells of ``column`` of rows of one line without quotes (``""`` where a row is shorter), whose
    ``fewest`` delimiters are the fewest any of them has."""
    after = column + 1
    if fewest >= column:
        return [body.split(delimiter, after)[column] for body in bodies]
    return [cells[column] if len(cells) > column else "" for cells in (body.split(delimiter, after) for body in bodies)]


def _registered(verdict: Verdict | None) -> bool:
    return verdict is not None and verdict.status == Status.REGISTERED


def _until(verdict: Verdict) -> date | None:
    """The date written for a verdict: a clear number's last day to call, else none."""
    return verdict.until if verdict.status == Status.CLEAR else None


class CsvWriter(FileWriter):
    """The outfile of a CSV list: its encoding, byte-order mark, delimiter and rows' text kept."""

    def __init__(self, source: CsvListFile, out: Path, mode: Mode) -> None:
        super().__init__(source, out, mode)
        self.delimiter = source.delimiter
        self._encoding = source.encoding.name
        header = source.header_text
        body = header.rstrip("\r\n")
        # cells added to a file whose header cells are all quoted are quoted too
        quote_all = body.startswith('"') and body.endswith('"') and body.count('"') >= 2 * len(source.header)
        self._quote = '"' if quote_all else ""
        self._buffer = io.StringIO()
        self._csv = csv.writer(
            self._buffer,
            delimiter=self.delimiter,
            quoting=csv.QUOTE_ALL if quote_all else csv.QUOTE_MINIMAL,
            lineterminator="\r\n",  # a cell holding a line break is quoted only if the terminator has its kind
        )
        self._suffixes: dict[tuple[str, date | None], str] = {}
        try:
            self._parts: list[str] = [source.preamble, self._header(source.header, header)]
            self.file.write(source.encoding.bom)
        except BaseException:
            self.discard()
            raise

    def _header(self, cells: list[str], text: str) -> str:
        marks = self.marks
        if not marks.added:
            return text
        body = text.rstrip("\r\n")
        ending = text[len(body) :]
        if marks.appended_only and body.count('"') % 2 == 0:
            return body + "".join(self.delimiter + self._quote + name + self._quote for name in marks.added) + ending
        return self._rewrite([*cells, *marks.added], ending)

    def _write(self, batch: Batch, verdicts: Sequence[Verdict | None]) -> None:
        if batch.bodies is not None and (self.marks.untouched or self.marks.appended_only):
            text = self._lines(batch, batch.bodies, verdicts)
        else:
            text = "".join(self._rows(batch, verdicts))
        if self._parts:  # the text before the first row: the header and what is above it
            text = "".join(self._parts) + text
            self._parts.clear()
        self.file.write(text.encode(self._encoding, "surrogateescape"))

    def _lines(self, batch: Batch, bodies: list[str], verdicts: Sequence[Verdict | None]) -> str:
        """The text of a batch of rows of one line without quotes, a list's column at a time."""
        ending = batch.ending
        ids = list(map(id, verdicts))  # a batch's verdicts are a few objects, each given to many rows
        if self.marks.untouched:  # remove mode on a list never marked: the rows kept are written as they are
            gone = {key for key, verdict in zip(ids, verdicts, strict=True) if _registered(verdict)}
            kept = [body for body, key in zip(bodies, ids, strict=True) if key not in gone] if gone else bodies
        else:  # mark mode: two cells added to the end of each row that has a verdict
            suffixes = {key: self._suffix_of(verdict) for key, verdict in dict(zip(ids, verdicts, strict=True)).items()}
            kept = [body + suffixes[key] for body, key in zip(bodies, ids, strict=True)]
            for index in batch.odd:  # more or fewer cells than the header: written again by the csv module
                verdict = verdicts[index]
                if verdict is not None:
                    kept[index] = self._rewritten(bodies[index], verdict.status, _until(verdict))
        return ending.join(kept) + ending if kept else ""

    def _rows(self, batch: Batch, verdicts: Sequence[Verdict | None]) -> list[str]:
        """The text of a batch's rows, a row at a time."""
        parts: list[str] = []
        add = parts.append
        texts = batch.row_texts
        if self.marks.untouched:
            parts.extend([text for text, verdict in zip(texts, verdicts, strict=True) if not _registered(verdict)])
        elif self.marks.appended_only:  # mark mode: two cells added to the end of each row's text
            odd = batch.odd
            for index, (text, verdict) in enumerate(zip(texts, verdicts, strict=True)):
                if verdict is None:
                    add(text)
                    continue
                body = text.rstrip("\r\n")
                if index in odd or body.count('"') % 2:
                    add(self._rewritten(text, verdict.status, _until(verdict)))
                else:
                    add(body + self._suffix_of(verdict) + text[len(body) :])
        else:  # a list marked before: its columns refreshed in every row
            remove = self.mode is Mode.REMOVE
            for text, verdict in zip(texts, verdicts, strict=True):
                if verdict is None:
                    add(text)
                elif not (remove and verdict.status == Status.REGISTERED):
                    add(self._rewritten(text, verdict.status, _until(verdict)))
        return parts

    def _suffix_of(self, verdict: Verdict | None) -> str:
        """The cells added to a row with ``verdict`` (none to a blank row)."""
        if verdict is None:
            return ""
        status, until = verdict.status, _until(verdict)
        suffix = self._suffixes.get((status, until))
        if suffix is None:
            suffix = self._suffixes[(status, until)] = self._suffix(status, until)
        return suffix

    def _suffix(self, status: str, until: date | None) -> str:
        q = self._quote
        return f"{self.delimiter}{q}{status}{q}{self.delimiter}{q}{until.isoformat() if until else ''}{q}"

    def _rewritten(self, text: str, status: str, until: date | None) -> str:
        """A row written again by the csv module, with its status and date in their columns."""
        body = text.rstrip("\r\n")
        cells = next(csv.reader(io.StringIO(text, newline=""), delimiter=self.delimiter), [])
        placed = self.marks.place(cells, str(status), until.isoformat() if until else "", "")
        return self._rewrite(placed, text[len(body) :])

    def _rewrite(self, cells: list[str], ending: str) -> str:
        """Cells written by the csv module, and ``ending``."""
        self._buffer.seek(0)
        self._buffer.truncate()
        self._csv.writerow(cells)
        return self._buffer.getvalue()[:-2] + ending

    def _finish(self) -> None:
        if self._parts:  # the header of a list without rows
            self.file.write("".join(self._parts).encode(self._encoding, "surrogateescape"))
            self._parts.clear()

"""Call lists washed against the register (NIX-3): a CSV or XLSX file read in batches, and the outfile written
in the same format with the registered rows removed or every row marked.

A wash goes::

    with ListFile.open(path, column=None, business="Företag") as source:
        with source.writer(out, Mode.MARK) as writer:
            for batch in source.batches(10_000):
                writer.write(batch, register_check(batch.to_check))
        summary = source.summary

(:func:`wash` is that loop.) Opening finds the format by the file's first bytes (a zip is XLSX, anything else
CSV text) and the header row and phone column (:mod:`.listcolumns`), so a list that cannot be washed is refused
before anything is written, with a :class:`~.listrows.ListFileError` that says what and where. The file is read
as it goes, a batch at a time: a list of any length takes the memory of a batch. The outfile is written beside
its final name and moved there when the whole list is written, so a wash that fails leaves no half outfile; with
no outfile (``out=None``) a wash only counts. CSV: :mod:`.listcsv`; XLSX: :mod:`.listxlsx`.
"""

from __future__ import annotations

import abc
import os
import secrets
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from types import TracebackType
from typing import ClassVar

from .listcolumns import Columns, ColumnSpec, HeaderFinder
from .listrows import Batch, ListFileError, Marks, Mode, Status, Summary, Verdict

XLSX_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")  # a zip archive (an empty one too)
XLS_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # a compound file: Excel 97-2003, or a workbook with a password
XLSX_SUFFIXES = (".xlsx", ".xlsm", ".xltx", ".xltm")
BATCH = 10_000

Check = Callable[[list[str]], Sequence[Verdict]]  # the register: phone cells -> a verdict for each, in order


class ListFile(abc.ABC):
    """A call list opened for a wash: its ``name``, ``format`` (``csv`` or ``xlsx``), header row and columns
    (``columns``), and the ``summary`` its writer fills in; rows come from :meth:`batches`."""

    format: ClassVar[str]
    columns: Columns

    def __init__(self, path: Path, name: str) -> None:
        self.path = path
        self.name = name
        self.summary = Summary(name, self.format)
        self.finished = False  # read to the end (the summary's size and SHA-256 are then the whole file's)
        self.given = 0  # rows handed out in batches

    @classmethod
    def open(
        cls, path: Path, *, column: ColumnSpec = None, business: ColumnSpec = None, name: str | None = None
    ) -> ListFile:
        """The call list at ``path`` opened, its header row found; ``column`` is the phone column's header or
        1-based number (None: the column headed with a phone column's name), ``business`` the business column's
        (None: none), ``name`` the file's name in messages and the summary (default: the path's).

        Raises :class:`ListFileError` for a file that cannot be washed."""
        shown = name or path.name
        try:
            with path.open("rb") as file:
                start = file.read(len(XLS_MAGIC))
        except OSError as exc:
            raise ListFileError(shown, f"cannot be read ({exc.strerror or exc})") from None
        if not start:
            raise ListFileError(shown, "the file is empty")
        if start.startswith(XLS_MAGIC):
            raise ListFileError(
                shown,
                "an old Excel workbook (.xls) or one with a password: save it in Excel as an .xlsx workbook "
                "(or as CSV), without a password",
            )
        finder = HeaderFinder(shown, column, business)
        if start.startswith(XLSX_MAGIC):
            from .listxlsx import XlsxListFile  # openpyxl is loaded for a workbook only

            return XlsxListFile(path, shown, finder)
        if Path(shown).suffix.lower() in XLSX_SUFFIXES:
            raise ListFileError(shown, "not an .xlsx workbook: the file is not a zip archive, as every .xlsx is")
        from .listcsv import CsvListFile

        return CsvListFile(path, shown, finder)

    @property
    def header(self) -> list[str]:
        """The header row's cells, as text."""
        return self.columns.header

    @property
    @abc.abstractmethod
    def progress(self) -> float | None:
        """How much of the file is read, from 0 to 1 (None: not known)."""

    @abc.abstractmethod
    def batches(self, size: int = BATCH) -> Iterator[Batch]:
        """The rows after the header, ``size`` at a time, read as they are asked for; ListFileError at a row
        that cannot be read."""

    def writer(self, out: Path | None, mode: Mode | str) -> ListWriter:
        """A writer of the outfile at ``out`` in ``mode`` (``remove`` or ``mark``), in this list's format;
        ``out=None``: a writer that only counts."""
        if out is None:
            return CountingWriter(self, Mode(mode))
        return self._writer(out, Mode(mode))

    @abc.abstractmethod
    def _writer(self, out: Path, mode: Mode) -> ListWriter: ...

    @abc.abstractmethod
    def close(self) -> None:
        """Close the file."""

    def __enter__(self) -> ListFile:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()


@dataclass(frozen=True)
class _Business:
    """The verdict a business row gets without asking the register."""

    status: str = Status.BUSINESS
    until: date | None = None


_BUSINESS = _Business()
_ANSWERS = frozenset({Status.REGISTERED, Status.CLEAR, Status.INVALID})


class ListWriter:
    """Writes the rows of a list's batches with their verdicts, and counts them in the list's summary; used as a
    context manager, the outfile is kept only when the block ends without an exception and the whole list was
    read."""

    def __init__(self, source: ListFile, mode: Mode) -> None:
        self.source = source
        self.mode = mode
        self.marks = Marks.of(source.header, mode)
        self.summary = source.summary
        self.summary.column = source.columns.phone_header
        self.taken = 0  # rows of the batches written

    def write(self, batch: Batch, verdicts: Sequence[Verdict]) -> None:
        """Write ``batch``'s rows: ``verdicts`` has one verdict for each of ``batch.to_check``, in order."""
        if len(verdicts) != batch.checked:
            raise ValueError(f"{len(verdicts)} verdicts for {batch.checked} numbers")
        counted = Counter(verdict.status for verdict in verdicts)
        unknown = sorted(set(counted) - _ANSWERS)
        if unknown:
            raise ValueError(f"a verdict's status is {unknown[0]!r}, not registered, clear or invalid")
        per_row: Sequence[Verdict | None] = verdicts
        if batch.business or batch.blank:
            answers = iter(verdicts)
            blank, business = batch.blank, batch.business
            per_row = [
                None if index in blank else _BUSINESS if index in business else next(answers)
                for index in range(len(batch))
            ]
        self._write(batch, per_row)
        self.taken += len(batch)
        summary = self.summary
        registered = counted[Status.REGISTERED]
        summary.registered += registered
        summary.clear += counted[Status.CLEAR]
        summary.invalid += counted[Status.INVALID]
        summary.business += len(batch.business)
        rows = batch.checked + len(batch.business)
        summary.rows += rows
        summary.written += rows - registered if self.mode is Mode.REMOVE else rows

    def _write(self, batch: Batch, verdicts: Sequence[Verdict | None]) -> None:
        """Write ``batch`` with a verdict for each of its rows (None for a blank row)."""

    def close(self) -> None:
        """Finish the outfile."""

    def discard(self) -> None:
        """Leave no outfile."""

    def __enter__(self) -> ListWriter:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, trace: TracebackType | None
    ) -> None:
        if kind is None:
            if not self.source.finished or self.taken != self.source.given:
                self.discard()
                raise RuntimeError("the list was not read and written to the end: no outfile is written")
            self.close()
        else:
            self.discard()


class CountingWriter(ListWriter):
    """A wash without an outfile: rows are counted, nothing is written."""


class FileWriter(ListWriter):
    """A writer of an outfile: written to a new file beside ``out`` and moved to ``out`` when complete."""

    def __init__(self, source: ListFile, out: Path, mode: Mode) -> None:
        super().__init__(source, mode)
        if out.exists() and out.samefile(source.path):
            raise ListFileError(source.name, "the outfile would replace the list itself: give it another name")
        self.out = out
        self.part = out.with_name(f".{out.name}.{secrets.token_hex(4)}.part")
        # os.open rather than a temporary file: the outfile gets the permissions any new file gets
        self.file = os.fdopen(os.open(self.part, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666), "wb")

    def close(self) -> None:
        """Finish the file and move it to its name."""
        try:
            self._finish()
        except BaseException:
            self.discard()
            raise
        if not self.file.closed:
            self.file.close()
        os.replace(self.part, self.out)

    def discard(self) -> None:
        """Remove the unfinished file."""
        if not self.file.closed:
            self.file.close()
        self.part.unlink(missing_ok=True)

    def _finish(self) -> None:
        """Write the end of the file."""


def wash(
    source: ListFile,
    out: Path | None,
    mode: Mode | str,
    check: Check,
    *,
    batch: int = BATCH,
    progress: Callable[[ListFile], None] | None = None,
) -> Summary:
    """Wash ``source`` with ``check`` (the register) into ``out`` (None: count only), calling ``progress`` after
    each batch; the summary."""
    with source.writer(out, mode) as writer:
        for rows in source.batches(batch):
            numbers = rows.to_check
            writer.write(rows, check(numbers) if numbers else [])
            if progress is not None:
                progress(source)
    return source.summary

"""Reading the CSV files customers make: what Swedish Excel writes as well as what a program writes.

Swedish and Norwegian Excel save "CSV" with semicolons between fields (the comma is the decimal sign there),
as UTF-8 with a byte-order mark ("CSV UTF-8") or in the Windows code page ("CSV"), which is Windows-1252, a
superset of Latin-1. A file is read as UTF-8 (with or without the mark) when it is valid UTF-8, else as
Windows-1252; its delimiter is the one of semicolon, comma and tab that its first non-blank line holds most of.

A program that writes a changed copy of a file reads it with :func:`text_encoding` and :mod:`.csvrows`: the
encoding comes with its byte-order mark, and every row with the exact text it was read from, so what the copy
does not change it writes back byte for byte. Excel's "Unicode text" (UTF-16 with a byte-order mark) is read
that way too.

The names people give a phone column, in Swedish and English, are here as well (:data:`PHONE_HEADERS`, compared
after :func:`header_label`), so every reader of customers' sheets finds the phone column alike.
"""

from __future__ import annotations

import codecs
import csv
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, TextIO

DELIMITERS = (",", ";", "\t")
LONGEST_LINE = 1 << 20  # characters in one line that head_lines and csvrows read; a longer one is no row of a list
_PIECE = 1 << 20
_UTF16 = ((codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be"))

# What people head a phone column with, as header_label leaves it: Swedish and English, written out and short.
PHONE_HEADERS = frozenset(
    "phone|phone number|phone no|telephone|telephone number|mobile|mobile number|mobile no|mobile phone|"
    "mobile phone number|cell|cell phone|cellphone|msisdn|number|telefon|telefonnummer|telefonnr|tel|tel nr|"
    "telnr|tfn|tfnnr|mobil|mobilnummer|mobilnr|mobil nr|mobiltelefon|mobiltelefonnummer|nummer|sms".split("|")
)


def header_label(cell: str) -> str:
    """A header cell as names are compared: lower case, ``_`` as a space, single spaces, without a byte-order
    mark or a trailing ``:``, ``*`` or ``.`` (``"Mobil_Nr.:"`` is ``"mobil nr"``)."""
    return re.sub(r"\s+", " ", cell.replace("_", " ").replace("\ufeff", "")).strip().rstrip(":*.").strip().lower()


@dataclass(frozen=True)
class TextEncoding:
    """How a text file is encoded, found by reading it whole: ``name`` (``utf-8``, ``cp1252``, ``utf-16-le``
    or ``utf-16-be``), the byte-order mark it begins with (``b""``: none), and the line of its first NUL
    character (None: it has none; a file with one is binary rather than text)."""

    name: str
    bom: bytes
    nul_line: int | None

    @property
    def codec(self) -> str:
        """The codec that reads the file from its first byte, a UTF-8 or UTF-16 byte-order mark consumed."""
        return {"utf-8": "utf-8-sig", "utf-16-le": "utf-16", "utf-16-be": "utf-16"}.get(self.name, self.name)


def text_encoding(path: Path) -> TextEncoding:
    """The encoding of the file at ``path``: UTF-16 if it begins with a UTF-16 byte-order mark and is valid
    UTF-16, else UTF-8 (with or without its byte-order mark) if it is valid UTF-8, else Windows-1252; read in
    pieces."""
    with path.open("rb") as file:
        start = file.read(3)
        for bom, name in _UTF16:
            if start.startswith(bom):
                file.seek(len(bom))
                valid, nul = _scan(file, name)
                if valid:
                    return TextEncoding(name, bom, nul)
        file.seek(0)
        valid, nul = _scan(file, "utf-8")
        if valid:
            return TextEncoding("utf-8", codecs.BOM_UTF8 if start == codecs.BOM_UTF8 else b"", nul)
        file.seek(0)
        return TextEncoding("cp1252", b"", _scan(file, "cp1252")[1])


def _scan(file: BinaryIO, name: str) -> tuple[bool, int | None]:
    """Whether the rest of ``file`` is valid in the encoding ``name`` (Windows-1252 takes any bytes), and the
    line of its first NUL character."""
    decoder = codecs.getincrementaldecoder("latin-1" if name == "cp1252" else name)()
    lines = 0
    nul: int | None = None
    try:
        while piece := file.read(_PIECE):
            text = decoder.decode(piece)
            if nul is None:
                at = text.find("\0")
                if at >= 0:
                    nul = lines + text.count("\n", 0, at) + 1
                else:
                    lines += text.count("\n")
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False, None
    return True, nul


def encoding(path: Path) -> str:
    """``utf-8-sig`` if the file is UTF-8 (with or without a byte-order mark), else ``cp1252``; read in pieces."""
    return "utf-8-sig" if text_encoding(path).name == "utf-8" else "cp1252"


def delimiter(line: str) -> str:
    """The delimiter of a file whose first non-blank line is ``line``: the most frequent of comma, semicolon
    and tab (comma if none)."""
    return max(DELIMITERS, key=lambda d: (line.count(d), d == ","))


def rows(path: Path) -> Iterator[tuple[int, list[str]]]:
    """``(line number, fields)`` for each row of the CSV file at ``path``, read as it goes (a file of any size)."""
    # errors="replace": the five bytes Windows-1252 leaves undefined become U+FFFD rather than an exception
    with path.open(encoding=encoding(path), errors="replace", newline="") as file:
        first = next((line for line in file if line.strip()), "")
        file.seek(0)
        reader = csv.reader(file, delimiter=delimiter(first))
        for row in reader:
            yield reader.line_num, row


def records(path: Path) -> tuple[list[str], Iterator[tuple[int, dict[str, str]]]]:
    """The header row's names (lower-cased, stripped) and ``(line number, {name: value})`` for every other row."""
    found = rows(path)
    header: list[str] = []
    for _, row in found:
        if any(cell.strip() for cell in row):
            header = [cell.strip().lower() for cell in row]
            break

    def each() -> Iterator[tuple[int, dict[str, str]]]:
        for line, row in found:
            if any(cell.strip() for cell in row):
                yield line, dict(zip(header, (cell.strip() for cell in row), strict=False))

    return header, each()


class CsvError(ValueError):
    """A row :mod:`.csvrows` cannot read: ``line`` is where it begins, ``message`` says what is wrong."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(f"line {line}: {message}")
        self.line = line
        self.message = message


def head_lines(text: TextIO, nonblank: int = 1, longest: int = LONGEST_LINE) -> list[str]:
    """The lines of ``text`` (opened with ``newline=""``) up to and including its ``nonblank``-th non-blank one,
    read off it (to find the delimiter in, and pass to :class:`.csvrows.RawRows` as ``head``); all if fewer."""
    lines: list[str] = []
    while nonblank > 0 and (line := text.readline(longest + 1)):
        lines.append(bounded_line(line, len(lines) + 1, longest))
        nonblank -= bool(line.strip())
    return lines


def bounded_line(line: str, number: int, longest: int) -> str:
    """``line`` (line ``number``), or :class:`CsvError` if it is longer than ``longest`` characters."""
    if len(line) > longest:
        raise CsvError(number, f"a line of more than {longest} characters")
    return line

"""Reading the CSV files customers make: what Swedish Excel writes as well as what a program writes.

Swedish and Norwegian Excel save "CSV" with semicolons between fields (the comma is the decimal sign there),
as UTF-8 with a byte-order mark ("CSV UTF-8") or in the Windows code page ("CSV"), which is Windows-1252, a
superset of Latin-1. A file is read as UTF-8 (with or without the mark) when it is valid UTF-8, else as
Windows-1252; its delimiter is the one of semicolon, comma and tab that its first non-blank line holds most of.
"""

from __future__ import annotations

import codecs
import csv
from collections.abc import Iterator
from pathlib import Path

DELIMITERS = (",", ";", "\t")


def encoding(path: Path) -> str:
    """``utf-8-sig`` if the file is UTF-8 (with or without a byte-order mark), else ``cp1252``; read in pieces."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    with path.open("rb") as file:
        try:
            while piece := file.read(1 << 20):
                decoder.decode(piece)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return "cp1252"
    return "utf-8-sig"


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

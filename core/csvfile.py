"""Reading the CSV files customers make: what Swedish Excel writes as well as what a program writes.

Swedish and Norwegian Excel save "CSV" with semicolons between fields (the comma is the decimal sign there),
as UTF-8 with a byte-order mark ("CSV UTF-8") or in the Windows code page ("CSV"), which is Windows-1252, a
superset of Latin-1. A file is read as UTF-8 (with or without the mark) when it is valid UTF-8, else as
Windows-1252; its delimiter is the one of semicolon, comma and tab that its first non-blank line holds most of.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path

DELIMITERS = (",", ";", "\t")


def decode(raw: bytes) -> str:
    """The text of a CSV file's bytes: UTF-8 (a byte-order mark dropped) if it is that, else Windows-1252."""
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("cp1252", errors="replace")  # the five bytes cp1252 leaves undefined become U+FFFD


def delimiter(text: str) -> str:
    """The delimiter of the first non-blank line: the most frequent of comma, semicolon and tab (comma if none)."""
    first = next((line for line in text.splitlines() if line.strip()), "")
    return max(DELIMITERS, key=lambda d: (first.count(d), d == ","))


def rows(path: Path) -> Iterator[tuple[int, list[str]]]:
    """``(line number, fields)`` for each row of the CSV file at ``path``."""
    text = decode(path.read_bytes())
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter(text))
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

"""Call lists washed against the register (NIX-3, NIX-7): CSV in every encoding and delimiter Swedish Excel
and programs write, and XLSX, read in batches and written back in the same format, every other column kept;
remove and mark modes, the business column, and every bad file refused with what and where."""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import tempfile
import tracemalloc
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path
from unittest.mock import patch

import openpyxl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kodeord.plugins.addressbook.memberfile import Columns as MemberColumns
from kodeord.plugins.nix.listcolumns import HEADER_SEARCH
from kodeord.plugins.nix.listfile import ListFile, wash
from kodeord.plugins.nix.listrows import ListFileError, Mode, Summary
from kodeord.plugins.nix.result import Result, Status
from kodeord.support import csvfile, csvrows

UNTIL = date(2026, 3, 1)


@dataclass(frozen=True)
class Verdict:
    status: str
    until: date | None = None


class Register:
    """A stand-in for the register: a number ending in 7 is registered, one without digits invalid, the rest
    clear until UNTIL; it keeps every number it was asked about."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    def __call__(self, phones: list[str]) -> Sequence[Verdict]:
        self.asked.extend(phones)
        return [verdict(phone) for phone in phones]


def verdict(phone: str) -> Verdict:
    digits = [ch for ch in phone if ch.isdigit()]
    if not digits:
        return Verdict("invalid")
    if digits[-1] == "7":
        return Verdict("registered")
    return Verdict("clear", UNTIL)


def washed(path: Path, out: Path | None, mode: str, **options: str | int) -> tuple[Summary, Register]:
    register = Register()
    with ListFile.open(path, **options) as source:  # type: ignore[arg-type]
        summary = wash(source, out, mode, register)
    return summary, register


def refusal(path: Path, **options: str | int) -> str:
    """The message a list is refused with, opened and washed to the end."""
    with pytest.raises(ListFileError) as caught:
        washed(path, None, "mark", **options)
    return str(caught.value)


# -- CSV: every encoding and delimiter, kept byte for byte ----------------------------------------------------

# Rows as Excel writes them: CRLF, a quoted cell holding the delimiter, a quote and a line break, Swedish letters,
# an empty cell, a registered (…7), a clear and an invalid number.
ROWS = [
    ["Namn", "Telefon", "Ort", "Anteckning"],
    ["Åsa Öberg", "070-123 45 67", "Malmö", "ringer efter 17"],
    ["Bo Ek", "0701234568", "Umeå", 'sa "hej"; kom igen'],
    ["Cecilia", "saknas", "Lund", "två\r\nrader, här"],
    ["Dan", "+46 8 123 456 78", "", ""],
]


def excel(rows: list[list[str]], delimiter: str, ending: str = "\r\n") -> str:
    def cell(value: str) -> str:
        if any(ch in value for ch in (delimiter, '"', "\r", "\n")):
            return '"' + value.replace('"', '""') + '"'
        return value

    return "".join(delimiter.join(cell(value) for value in row) + ending for row in rows)


FLAVOURS = [
    ("utf-8", b""),
    ("utf-8", codecs.BOM_UTF8),
    ("cp1252", b""),
    ("latin-1", b""),
    ("utf-16-le", codecs.BOM_UTF16_LE),
]


@pytest.mark.parametrize(("encoding", "bom"), FLAVOURS)
@pytest.mark.parametrize("delimiter", [",", ";", "\t"])
def test_mark_mode_adds_two_cells_to_each_row_and_keeps_every_byte_of_the_rest(
    tmp_path: Path, encoding: str, bom: bytes, delimiter: str
) -> None:
    lines = [excel([row], delimiter) for row in ROWS]
    path = tmp_path / "lista.csv"
    path.write_bytes(bom + "".join(lines).encode(encoding))
    out = tmp_path / "tvättad.csv"

    summary, register = washed(path, out, "mark")

    d = delimiter
    added = [
        f"{d}nix_status{d}nix_callable_until",
        f"{d}registered{d}",
        f"{d}clear{d}2026-03-01",
        f"{d}invalid{d}",
        f"{d}clear{d}2026-03-01",
    ]
    expected = "".join(line[:-2] + extra + "\r\n" for line, extra in zip(lines, added, strict=True))
    assert out.read_bytes() == bom + expected.encode(encoding)
    assert register.asked == ["070-123 45 67", "0701234568", "saknas", "+46 8 123 456 78"]
    assert (summary.rows, summary.registered, summary.clear, summary.invalid, summary.written) == (4, 1, 2, 1, 4)
    # read back, the outfile is the same kind of file with the same cells and two more
    with ListFile.open(out) as again:
        assert again.header == [*ROWS[0], "nix_status", "nix_callable_until"]
        assert [row.phone_raw for batch in again.batches() for row in batch.rows] == [r[1] for r in ROWS[1:]]
        assert again.delimiter == delimiter  # type: ignore[attr-defined]


@pytest.mark.parametrize(("encoding", "bom"), FLAVOURS)
@pytest.mark.parametrize("delimiter", [",", ";", "\t"])
def test_remove_mode_leaves_out_the_registered_rows_and_nothing_else_changes(
    tmp_path: Path, encoding: str, bom: bytes, delimiter: str
) -> None:
    lines = [excel([row], delimiter) for row in ROWS]
    path = tmp_path / "lista.csv"
    path.write_bytes(bom + "".join(lines).encode(encoding))
    out = tmp_path / "tvättad.csv"

    summary, _ = washed(path, out, "remove")

    assert out.read_bytes() == bom + "".join(lines[:1] + lines[2:]).encode(encoding)
    assert (summary.rows, summary.registered, summary.written) == (4, 1, 3)


def test_windows_1252_bytes_latin_1_leaves_undefined_come_back_as_they_were(tmp_path: Path) -> None:
    # 0x80 is the euro sign in Windows-1252; 0x81 is defined in neither: it is written back all the same
    raw = b"Namn;Telefon;Pris\r\nK\xf6p \x81;0701234568;99 \x80\r\nS\xe4lj;0701234567;5 \x80\r\n"
    path = tmp_path / "lista.csv"
    path.write_bytes(raw)
    washed(path, tmp_path / "mark.csv", "mark")
    washed(path, tmp_path / "remove.csv", "remove")
    assert (tmp_path / "mark.csv").read_bytes() == (
        b"Namn;Telefon;Pris;nix_status;nix_callable_until\r\n"
        b"K\xf6p \x81;0701234568;99 \x80;clear;2026-03-01\r\n"
        b"S\xe4lj;0701234567;5 \x80;registered;\r\n"
    )
    assert (tmp_path / "remove.csv").read_bytes() == b"Namn;Telefon;Pris\r\nK\xf6p \x81;0701234568;99 \x80\r\n"


def test_line_endings_spaces_and_a_missing_last_newline_are_kept(tmp_path: Path) -> None:
    raw = b"namn,mobil\n  Anna , 0701234568 \r\nBo,0701234560"
    path = tmp_path / "lista.csv"
    path.write_bytes(raw)
    washed(path, tmp_path / "out.csv", "mark")
    assert (tmp_path / "out.csv").read_bytes() == (
        b"namn,mobil,nix_status,nix_callable_until\n"
        b"  Anna , 0701234568 ,clear,2026-03-01\r\n"
        b"Bo,0701234560,clear,2026-03-01"
    )


def test_a_quoted_file_gets_quoted_cells_and_odd_rows_are_written_by_the_csv_module(tmp_path: Path) -> None:
    raw = (
        '"Namn";"Telefon";"Ort"\r\n'
        '"Anna";"0701234568";"Malmö"\r\n'
        '"Bo";"0701234560"\r\n'  # a cell short: padded
        '"Cia";"0701234561";"Lund";"extra"\r\n'  # a cell more: the added cells go after the header's last
        '"Dan";"0701234562";"Ys"tad\r\n'  # an unbalanced quote
    )
    path = tmp_path / "lista.csv"
    path.write_text(raw, encoding="utf-8", newline="")
    washed(path, tmp_path / "out.csv", "mark")
    text = (tmp_path / "out.csv").read_text(encoding="utf-8")
    assert text.splitlines()[:2] == [
        '"Namn";"Telefon";"Ort";"nix_status";"nix_callable_until"',
        '"Anna";"0701234568";"Malmö";"clear";"2026-03-01"',
    ]
    assert cells(tmp_path / "out.csv")[2:] == [
        ["Bo", "0701234560", "", "clear", "2026-03-01"],
        ["Cia", "0701234561", "Lund", "clear", "2026-03-01", "extra"],
        ["Dan", "0701234562", "Ystad", "clear", "2026-03-01"],  # the value the csv module reads
    ]


def cells(path: Path, delimiter: str = ";") -> list[list[str]]:
    """The cells of a UTF-8 CSV file's rows."""
    return list(csv.reader(io.StringIO(path.read_bytes().decode("utf-8-sig"), newline=""), delimiter=delimiter))


def test_a_list_marked_before_has_its_marks_refreshed_not_added_again(tmp_path: Path) -> None:
    path = tmp_path / "lista.csv"
    path.write_bytes(excel(ROWS, ";").encode("utf-8-sig"))
    first = tmp_path / "mars.csv"
    washed(path, first, "mark")
    second = tmp_path / "april.csv"
    register = Register()
    with ListFile.open(first) as source:
        wash(source, second, Mode.MARK, lambda phones: [Verdict("registered") for _ in register(phones)])
    rows = cells(second)
    assert rows[0] == [*ROWS[0], "nix_status", "nix_callable_until"]
    assert [row[1:] for row in rows[1:]] == [[*row[1:], "registered", ""] for row in ROWS[1:]]
    # remove mode on a marked list drops the registered rows and refreshes the marks of the rest
    third = tmp_path / "maj.csv"
    washed(first, third, "remove")
    rows = cells(third)
    assert [row[-2:] for row in rows] == [
        ["nix_status", "nix_callable_until"],
        ["clear", "2026-03-01"],
        ["invalid", ""],
        ["clear", "2026-03-01"],
    ]


def test_the_summary_counts_and_hashes_the_bytes_read(tmp_path: Path) -> None:
    raw = excel(ROWS, ";").encode("utf-8-sig")
    path = tmp_path / "lista.csv"
    path.write_bytes(raw)
    summary, _ = washed(path, None, "remove")  # no outfile: counted only
    assert summary == Summary(
        name="lista.csv",
        format="csv",
        column="Telefon",
        size=len(raw),
        sha256=hashlib.sha256(raw).hexdigest(),
        rows=4,
        registered=1,
        clear=2,
        invalid=1,
        business=0,
        written=3,
    )
    assert summary.counts() == {"rows": 4, "registered": 1, "clear": 2, "invalid": 1, "business": 0}


def test_blank_lines_and_a_title_above_the_header_pass_through_uncounted(tmp_path: Path) -> None:
    raw = b"Ringlista vecka 12\r\n\r\nNamn;Mobilnummer\r\nAnna;0701234568\r\n;\r\n\r\nBo;0701234567\r\n"
    path = tmp_path / "lista.csv"
    path.write_bytes(raw)
    summary, register = washed(path, tmp_path / "out.csv", "remove")
    assert register.asked == ["0701234568", "0701234567"]
    assert summary.rows == 2
    assert (tmp_path / "out.csv").read_bytes() == (
        b"Ringlista vecka 12\r\n\r\nNamn;Mobilnummer\r\nAnna;0701234568\r\n;\r\n\r\n"
    )


def test_a_header_only_file_is_a_list_of_no_rows(tmp_path: Path) -> None:
    path = tmp_path / "lista.csv"
    path.write_bytes(b"Namn;Telefon\r\n")
    summary, _ = washed(path, tmp_path / "out.csv", "mark")
    assert summary.rows == 0 and summary.sha256 == hashlib.sha256(b"Namn;Telefon\r\n").hexdigest()
    assert (tmp_path / "out.csv").read_bytes() == b"Namn;Telefon;nix_status;nix_callable_until\r\n"


# -- finding the columns ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "header", ["Telefon", "telefonnummer", "TEL.", "Mobil_nr:", "Mobilnummer", "Phone number", "MSISDN", "mobile"]
)
def test_the_phone_column_is_found_by_its_swedish_or_english_name(tmp_path: Path, header: str) -> None:
    path = tmp_path / "lista.csv"
    path.write_text(f"Namn,{header},Ort\nAnna,0701234568,Lund\n", encoding="utf-8")
    with ListFile.open(path) as source:
        assert source.columns.phone == 1 and source.columns.phone_header == header


def test_the_address_book_and_the_wash_know_the_same_phone_column_names() -> None:
    for name in sorted(csvfile.PHONE_HEADERS):
        assert MemberColumns.of(["Ort", name.upper()]) == MemberColumns(phone=1, email=None)


def test_a_column_is_given_by_name_or_by_number(tmp_path: Path) -> None:
    path = tmp_path / "lista.csv"
    path.write_text("Namn;Hem;Jobb\nAnna;0701234567;0701234568\n", encoding="utf-8")
    assert washed(path, None, "mark", column="jobb")[1].asked == ["0701234568"]
    assert washed(path, None, "mark", column=2)[1].asked == ["0701234567"]
    assert washed(path, None, "mark", column="3")[1].asked == ["0701234568"]


def test_business_rows_pass_through_unasked_and_are_counted_apart(tmp_path: Path) -> None:
    values = ["ja", "JA", "x", "1", "true", "SANT", "Företag", "company", "yes", "", "nej", "privat", "0"]
    rows = [["Namn", "Telefon", "Företag"]] + [[f"N{i}", f"070123456{i % 10}7", v] for i, v in enumerate(values)]
    path = tmp_path / "lista.csv"
    path.write_text(excel(rows, ";"), encoding="utf-8")

    summary, register = washed(path, tmp_path / "remove.csv", "remove", business="företag")

    assert len(register.asked) == 4  # the four consumer rows
    assert (summary.rows, summary.business, summary.registered, summary.written) == (13, 9, 4, 9)
    kept = cells(tmp_path / "remove.csv")
    assert [row[2] for row in kept[1:]] == values[:9]  # every business row kept, though its number ends in 7
    washed(path, tmp_path / "mark.csv", "mark", business=3)
    marked = cells(tmp_path / "mark.csv")
    assert [row[3] for row in marked[1:]] == ["business"] * 9 + ["registered"] * 4


# -- XLSX -----------------------------------------------------------------------------------------------------


def workbook(path: Path) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Ringlista"
    sheet.append(["Namn", "Mobil", "Född", "Senast", "Tid", "Aktiv", "Belopp", "Företag"])
    sheet.append(["Åsa", 701234567, date(1980, 5, 17), datetime(2025, 1, 2, 13, 45), time(8, 30), True, 3.5])
    sheet.append(["Bo", "070-123 45 67", None, None, None, False, 2, "ja"])
    sheet.append([])
    sheet.append(["Cia", 46701234560.0, None, None, None, None, None, None])
    sheet.append(["=1+1", "okänt", "Malmö\nLund"])
    sheet["A6"].data_type = "s"  # text that looks like a formula
    book.save(path)


def test_a_number_typed_as_a_number_is_read_as_its_digits(tmp_path: Path) -> None:
    workbook(tmp_path / "lista.xlsx")
    with ListFile.open(tmp_path / "lista.xlsx", business="Företag") as source:
        rows = [row for batch in source.batches() for row in batch.rows]
    assert [(r.line, r.phone_raw, r.is_business, r.is_blank) for r in rows] == [
        (2, "701234567", False, False),
        (3, "070-123 45 67", True, False),
        (4, "", False, True),
        (5, "46701234560", False, False),
        (6, "okänt", False, False),
    ]


def test_xlsx_mark_mode_writes_a_workbook_with_every_cell_of_the_same_type(tmp_path: Path) -> None:
    workbook(tmp_path / "lista.xlsx")
    summary, register = washed(tmp_path / "lista.xlsx", tmp_path / "ut.xlsx", "mark", business="Företag")
    assert register.asked == ["701234567", "46701234560", "okänt"]
    assert (summary.format, summary.rows, summary.registered, summary.clear, summary.invalid, summary.business) == (
        "xlsx",
        4,
        1,
        1,
        1,
        1,
    )
    assert summary.sha256 == hashlib.sha256((tmp_path / "lista.xlsx").read_bytes()).hexdigest()
    book = openpyxl.load_workbook(tmp_path / "ut.xlsx")
    sheet = book.worksheets[0]
    assert sheet.title == "Ringlista"
    assert list(sheet.iter_rows(values_only=True)) == [
        ("Namn", "Mobil", "Född", "Senast", "Tid", "Aktiv", "Belopp", "Företag", "nix_status", "nix_callable_until"),
        ("Åsa", 701234567, datetime(1980, 5, 17), datetime(2025, 1, 2, 13, 45), time(8, 30), True, 3.5)
        + (None, "registered", None),
        ("Bo", "070-123 45 67", None, None, None, False, 2, "ja", "business", None),
        (None,) * 10,
        ("Cia", 46701234560, None, None, None, None, None, None, "clear", datetime(2026, 3, 1)),
        ("=1+1", "okänt", "Malmö\nLund", None, None, None, None, None, "invalid", None),
    ]
    assert sheet["A6"].data_type == "s"  # text that looks like a formula stays text
    assert sheet["C2"].is_date and sheet["J5"].is_date and sheet["J5"].number_format == "yyyy-mm-dd"


def test_xlsx_remove_mode_leaves_out_the_registered_rows(tmp_path: Path) -> None:
    workbook(tmp_path / "lista.xlsx")
    summary, _ = washed(tmp_path / "lista.xlsx", tmp_path / "ut.xlsx", "remove")
    rows = list(openpyxl.load_workbook(tmp_path / "ut.xlsx").worksheets[0].iter_rows(values_only=True))
    assert [row[0] for row in rows] == ["Namn", None, "Cia", "=1+1"]  # Åsa's and Bo's numbers end in 7
    assert rows[0] == ("Namn", "Mobil", "Född", "Senast", "Tid", "Aktiv", "Belopp", "Företag")
    assert (summary.rows, summary.registered, summary.written) == (4, 2, 2)


# -- bad files: what and where --------------------------------------------------------------------------------


def write(path: Path, raw: bytes) -> Path:
    path.write_bytes(raw)
    return path


def test_no_phone_column_lists_the_headers_found(tmp_path: Path) -> None:
    path = write(tmp_path / "lista.csv", b"Namn;Adress;Ort\r\nAnna;Gatan 1;Lund\r\n")
    assert refusal(path) == (
        'lista.csv:1: no phone column: the header row has "Namn", "Adress", "Ort"; name it Telefon, Mobil or Phone '
        "(or give the column to wash)"
    )
    headerless = write(tmp_path / "nummer.csv", b"0701234567\r\n0701234568\r\n")
    assert refusal(headerless).endswith("; the first row looks like data: add a header row that names the columns")


def test_two_phone_columns_are_refused_until_one_is_named(tmp_path: Path) -> None:
    path = write(tmp_path / "lista.csv", b"Namn;Telefon;Mobil\r\nAnna;08123456;0701234568\r\n")
    assert refusal(path) == (
        'lista.csv:1: more than one phone column, "Telefon" (column 2) and "Mobil" (column 3): give the one to wash'
    )
    assert washed(path, None, "mark", column="Mobil")[1].asked == ["0701234568"]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"column": "Fax"}, 'lista.csv:1: no column "Fax": the header row has "Namn", "Telefon"'),
        ({"column": 7}, "lista.csv:1: no column 7: the header row has 2 columns"),
        ({"business": "Typ"}, 'lista.csv:1: no business column "Typ": the header row has "Namn", "Telefon"'),
        ({"business": "Telefon"}, "lista.csv:1: the business column is the phone column"),
    ],
)
def test_a_column_that_is_not_there_is_refused(tmp_path: Path, options: dict[str, str | int], message: str) -> None:
    path = write(tmp_path / "lista.csv", b"Namn;Telefon\r\nAnna;0701234568\r\n")
    assert refusal(path, **options) == message


@pytest.mark.parametrize(
    ("name", "raw", "message"),
    [
        ("lista.csv", b"", "lista.csv: the file is empty"),
        ("lista.csv", b"\r\n  \r\n;;\r\n", "lista.csv: no header row: every row of the file is blank"),
        (
            "bild.csv",
            b"Namn;Telefon\r\n\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
            "bild.csv:4: a binary file, neither CSV text nor an .xlsx workbook (it has a NUL byte)",
        ),
        (
            "gammal.xls",
            b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(500),
            "gammal.xls: an old Excel workbook (.xls) or one with a password: save it in Excel as an .xlsx workbook "
            "(or as CSV), without a password",
        ),
        (
            "trasig.xlsx",
            b"PK\x03\x04\x14\x00\x00\x00" + bytes(100),
            "trasig.xlsx: a damaged .xlsx file: not a readable zip archive (BadZipFile: File is not a zip file)",
        ),
        (
            "lista.xlsx",
            b"Namn;Telefon\r\n",
            "lista.xlsx: not an .xlsx workbook: the file is not a zip archive, as every .xlsx is",
        ),
        (
            "bred.csv",
            b"Namn;Telefon\r\nAnna;0701234568\r\n" + b";" * 4999 + b"\r\n",
            "bred.csv:3: a row of 5000 columns; at most 1000",
        ),
        (
            "fält.csv",
            b'Namn;Telefon\r\n"' + b"x" * 200_000 + b'";0701234568\r\n',
            "fält.csv:2: a field of more than 131072 characters",
        ),
        (
            "rad.csv",
            b"Namn;Telefon\r\nAnna;0701234568\r\n\r\n" + b"x" * (2 << 20),
            "rad.csv:4: a line of more than 1048576 characters",
        ),
    ],
)
def test_a_bad_file_is_refused_with_what_and_where(tmp_path: Path, name: str, raw: bytes, message: str) -> None:
    assert refusal(write(tmp_path / name, raw)) == message


def zipped(path: Path, parts: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in parts.items():
            archive.writestr(name, data)
    return path


def test_a_zip_that_is_no_workbook_is_named_for_what_it_is(tmp_path: Path) -> None:
    ods = zipped(tmp_path / "lista.ods", {"mimetype": b"application/vnd.oasis.opendocument.spreadsheet"})
    assert refusal(ods) == "lista.ods: an OpenDocument file (.ods): save it as an .xlsx workbook or as CSV"
    other = zipped(tmp_path / "arkiv.zip", {"lista.csv": b"Namn;Telefon\r\n"})
    assert refusal(other) == "arkiv.zip: a zip archive, not an .xlsx workbook (it has no [Content_Types].xml)"
    parts = {name: b"<broken" for name in ("[Content_Types].xml", "_rels/.rels", "xl/workbook.xml")}
    assert refusal(zipped(tmp_path / "trasig.xlsx", parts)).startswith("trasig.xlsx: not a readable .xlsx workbook (")


def test_a_sheet_too_wide_or_empty_is_refused_at_its_row(tmp_path: Path) -> None:
    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet("Lista")
    sheet.append(["Namn", "Telefon"])
    sheet.append(["Anna", "0701234568"])
    sheet.append(["x"] * 5000)
    book.save(tmp_path / "bred.xlsx")
    assert refusal(tmp_path / "bred.xlsx") == "bred.xlsx:3: a row of 5000 columns; at most 1000"
    empty = openpyxl.Workbook()
    empty.save(tmp_path / "tom.xlsx")
    assert refusal(tmp_path / "tom.xlsx") == "tom.xlsx: no header row: every row of the file is blank"


# -- the writer -----------------------------------------------------------------------------------------------


def test_a_wash_that_fails_leaves_no_outfile_and_the_list_is_never_its_own_outfile(tmp_path: Path) -> None:
    path = write(tmp_path / "lista.csv", b"Namn;Telefon\r\nAnna;0701234568\r\n" + b";" * 4999 + b"\r\n")
    with pytest.raises(ListFileError):
        washed(path, tmp_path / "out.csv", "mark")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lista.csv"]
    with ListFile.open(path) as source, pytest.raises(ListFileError) as caught:
        source.writer(path, "mark")
    assert str(caught.value) == "lista.csv: the outfile would replace the list itself: give it another name"
    with ListFile.open(path) as source, pytest.raises(RuntimeError, match="not read and written to the end"):
        with source.writer(tmp_path / "out.csv", "mark"):
            pass
    good = write(tmp_path / "bra.csv", b"Namn;Telefon\r\nAnna;0701234568\r\n")
    with ListFile.open(good) as source, pytest.raises(RuntimeError, match="not read and written to the end"):
        with source.writer(tmp_path / "out.csv", "mark"):
            list(source.batches())  # read to the end, but a batch not written
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bra.csv", "lista.csv"]


def test_a_writer_takes_one_known_verdict_for_each_number(tmp_path: Path) -> None:
    path = write(tmp_path / "lista.csv", b"Namn;Telefon\r\nAnna;0701234568\r\n")
    with ListFile.open(path) as source, source.writer(None, "mark") as writer:
        batch = next(source.batches())
        with pytest.raises(ValueError, match="0 verdicts for 1 numbers"):
            writer.write(batch, [])
        with pytest.raises(ValueError, match="registered, clear or invalid"):
            writer.write(batch, [Verdict("maybe")])
        writer.write(batch, [Verdict("clear", UNTIL)])
        assert source.progress == 1.0


def test_the_registers_own_results_are_the_verdicts_a_writer_takes(tmp_path: Path) -> None:
    path = write(tmp_path / "lista.csv", b"Namn;Telefon\r\nAnna;0701234568\r\nBo;0701234567\r\nCia;x\r\n")
    version = date(2026, 1, 1)
    answers = {
        "0701234568": Result(Status.CLEAR, version, UNTIL),
        "0701234567": Result(Status.REGISTERED, version),
        "x": Result(Status.INVALID, version, reason="not a number"),
    }
    with ListFile.open(path) as source:
        summary = wash(source, tmp_path / "ut.csv", Mode.MARK, lambda phones: [answers[p] for p in phones])
    assert (summary.clear, summary.registered, summary.invalid) == (1, 1, 1)
    assert cells(tmp_path / "ut.csv")[1:] == [
        ["Anna", "0701234568", "clear", "2026-03-01"],
        ["Bo", "0701234567", "registered", ""],
        ["Cia", "x", "invalid", ""],
    ]


# -- anything a customer may upload ---------------------------------------------------------------------------


def any_file_is_washed_or_refused(raw: bytes, name: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / name
        path.write_bytes(raw)
        try:
            summary, _ = washed(path, Path(folder) / ("out" + path.suffix), "mark")
        except ListFileError as exc:
            assert exc.message and str(exc).startswith(name)
            assert sorted(p.name for p in Path(folder).iterdir()) == [name]
        else:
            assert summary.size == len(raw) and summary.sha256 == hashlib.sha256(raw).hexdigest()


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=400), st.sampled_from(["lista.csv", "lista.xlsx", "lista.txt"]))
def test_any_bytes_are_washed_or_refused(raw: bytes, name: str) -> None:
    any_file_is_washed_or_refused(raw, name)


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(st.text(alphabet=st.sampled_from('Telfon;,\t"\r\n 07123\x00åÅ'), max_size=200))
def test_any_csv_like_text_is_washed_or_refused(text: str) -> None:
    any_file_is_washed_or_refused(("Telefon;Namn\r\n" + text).encode("utf-8"), "lista.csv")


_WORKBOOK = io.BytesIO()
workbook_book = openpyxl.Workbook()
workbook_sheet = workbook_book.active
assert workbook_sheet is not None
workbook_sheet.append(["Namn", "Telefon"])
workbook_sheet.append(["Anna", 701234568])
workbook_book.save(_WORKBOOK)
VALID_XLSX = _WORKBOOK.getvalue()


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.integers(0, len(VALID_XLSX) - 1), st.integers(0, 255)), min_size=1, max_size=8))
def test_a_damaged_workbook_is_washed_or_refused(changes: list[tuple[int, int]]) -> None:
    raw = bytearray(VALID_XLSX)
    for at, value in changes:
        raw[at] = value
    any_file_is_washed_or_refused(bytes(raw), "lista.xlsx")


# -- streaming ------------------------------------------------------------------------------------------------


def test_a_long_list_streams_through_in_the_memory_of_a_batch(tmp_path: Path) -> None:
    path = tmp_path / "lång.csv"
    with path.open("w", encoding="utf-8-sig", newline="") as file:
        file.write("Kundnr;Namn;Telefon;Adress;Ort\r\n")
        for n in range(200_000):
            file.write(f"{n};Namn Namnsson {n};070{n:07d};Storgatan {n % 90 + 1}, lägenhet {n % 9 + 1}101;Malmö\r\n")
    size = path.stat().st_size
    tracemalloc.start()
    try:
        with ListFile.open(path) as source:
            summary = wash(source, tmp_path / "ut.csv", "mark", lambda phones: [verdict(p) for p in phones])
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert summary.rows == 200_000 and summary.registered == 20_000
    assert peak < 12_000_000 < size  # a batch of 10,000 rows, the read buffer, and the batch being written
    assert (tmp_path / "ut.csv").stat().st_size == size + len(";nix_status;nix_callable_until") + 180_000 * len(
        ";clear;2026-03-01"
    ) + 20_000 * len(";registered;")


# -- the csv module's part ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "name", "bom", "nul"),
    [
        (b"a;b\n", "utf-8", b"", None),
        (codecs.BOM_UTF8 + "å;b\n".encode(), "utf-8", codecs.BOM_UTF8, None),
        ("å;b\n".encode("cp1252"), "cp1252", b"", None),
        (codecs.BOM_UTF16_LE + "å\tb\r\n".encode("utf-16-le"), "utf-16-le", codecs.BOM_UTF16_LE, None),
        (codecs.BOM_UTF16_BE + "å\tb\r\n".encode("utf-16-be"), "utf-16-be", codecs.BOM_UTF16_BE, None),
        (b"a\nb\nc\x00", "utf-8", b"", 3),
        (b"\xff\xfe\x00", "cp1252", b"", 1),  # a UTF-16 mark but not UTF-16
    ],
)
def test_a_files_encoding_is_found_with_its_mark(tmp_path: Path, raw: bytes, name: str, bom: bytes, nul: int) -> None:
    path = write(tmp_path / "f.csv", raw)
    assert csvfile.text_encoding(path) == csvfile.TextEncoding(name, bom, nul)
    assert csvfile.encoding(path) == ("utf-8-sig" if name == "utf-8" else "cp1252")  # as its callers knew it


# -- rows of one line without quotes, read a piece at a time ----------------------------------------------------

_CELL = st.sampled_from(["", " ", "Åsa", "070-123 45 67", "0701234568", "saknas", "ja", "nej", "x", "\t", "1"])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rows=st.lists(st.lists(_CELL, min_size=0, max_size=5), max_size=40),
    delimiter=st.sampled_from([";", ",", "\t"]),
    ending=st.sampled_from(["\n", "\r\n"]),
    mode=st.sampled_from(["mark", "remove"]),
    business=st.sampled_from([None, "Företag"]),
    batch=st.integers(1, 12),
)
def test_rows_read_a_piece_at_a_time_are_washed_as_rows_read_one_by_one(
    rows: list[list[str]], delimiter: str, ending: str, mode: str, business: str | None, batch: int
) -> None:
    """Blank rows, short and long rows, business rows and every line ending come out of the fast reading (whole
    pieces split at the delimiter) exactly as out of the csv module's, in both modes."""
    header = delimiter.join(["Namn", "Telefon", "Företag"]) + ending
    above = (
        delimiter.join(["Bo", "0701234560", "nej"]) + ending
    ) * HEADER_SEARCH  # the lines the header's search reads
    text = header + above + "".join(delimiter.join(row) + ending for row in rows)

    def washed_text(pieces: bool) -> tuple[bytes, Summary, list[tuple[int, str, bool, bool, str]]]:
        blocks = 0
        with tempfile.TemporaryDirectory() as folder:
            path, out = Path(folder) / "lista.csv", Path(folder) / "ut.csv"
            path.write_text(text, encoding="utf-8", newline="")
            with patch.object(csvrows, "_lines", csvrows._lines if pieces else lambda text, longest: None):
                with ListFile.open(path, business=business) as source:
                    read = []
                    for rows_read in source.batches(batch):
                        blocks += rows_read.bodies is not None
                        read += [(r.line, r.phone_raw, r.is_business, r.is_blank, r.text) for r in rows_read.rows]
                with ListFile.open(path, business=business) as source:
                    summary = wash(source, out, mode, Register(), batch=batch)
            assert bool(blocks) == pieces, "the reading the test means to compare was not used"
            return out.read_bytes(), summary, read

    assert washed_text(pieces=True) == washed_text(pieces=False)

"""Tables to download: xlsx read back with openpyxl, CSV as Swedish Excel reads it, JSON; any text safe."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, date, datetime
from decimal import Decimal

import openpyxl
from hypothesis import example, given, settings
from hypothesis import strategies as st

from kodeord.web import tables
from kodeord.web.tables import Column, Kind, Table

COLUMNS = (
    Column("time", "Tid", Kind.DATETIME),
    Column("day", "Dag", Kind.DATE),
    Column("to", "Till", Kind.PHONE),
    Column("votes", "Röster", Kind.INTEGER),
    Column("amount", "Belopp", Kind.DECIMAL),
    Column("text", "Text", Kind.TEXT),
)
ROW = (
    datetime(2026, 12, 1, 18, 5, 3, tzinfo=UTC),
    date(2026, 12, 1),
    "+46701234567",
    1234567,
    Decimal("4.90"),
    "Hej då",
)


def csv_rows(table: Table) -> list[list[str]]:
    raw = b"".join(tables.csv_chunks(table))
    assert raw.startswith("\ufeff".encode())  # the BOM that makes Excel read UTF-8
    return list(csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline=""), delimiter=";"))


def test_xlsx_cells_have_their_types_local_times_and_widths() -> None:
    file, rows = tables.xlsx_file(Table(COLUMNS, [ROW, (None, None, "72500", 0, Decimal("0"), "=1+1")]))
    assert rows == 2
    with file:
        sheet = openpyxl.load_workbook(file).active
    assert [c.value for c in sheet[1]] == ["Tid", "Dag", "Till", "Röster", "Belopp", "Text"]
    first = [c.value for c in sheet[2]]
    assert first == [datetime(2026, 12, 1, 19, 5, 3), datetime(2026, 12, 1), "+46701234567", 1234567, 4.9, "Hej då"]
    assert sheet["A2"].number_format == "yyyy-mm-dd hh:mm:ss" and sheet["E2"].number_format == "#,##0.00"
    assert sheet["F3"].value == "=1+1" and sheet["F3"].data_type == "s"  # text, never a formula
    assert sheet["A3"].value is None
    assert sheet.column_dimensions["A"].width >= 20 and sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref == "A1:F3"


def test_csv_is_semicolons_decimal_commas_local_times_and_a_bom() -> None:
    header, row = csv_rows(Table(COLUMNS, [ROW]))
    assert header == ["Tid", "Dag", "Till", "Röster", "Belopp", "Text"]
    assert row == ["2026-12-01 19:05:03", "2026-12-01", "+46701234567", "1234567", "4,90", "Hej då"]


def test_json_is_objects_by_key_with_iso_times_and_decimal_strings() -> None:
    [item] = json.loads(b"".join(tables.json_chunks(Table(COLUMNS, [ROW]))))
    assert item == {
        "time": "2026-12-01T18:05:03+00:00",
        "day": "2026-12-01",
        "to": "+46701234567",
        "votes": 1234567,
        "amount": "4.90",
        "text": "Hej då",
    }


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(), min_size=1, max_size=5))
def test_any_text_is_one_csv_cell_and_never_starts_as_a_formula(texts: list[str]) -> None:
    columns = [Column(f"c{n}", f"C{n}") for n in range(len(texts))]
    [header, row] = csv_rows(Table(columns, [texts]))
    assert header == [c.title for c in columns]
    # Semicolons, quotes and line breaks stay inside their cell; a formula's first sign gets an apostrophe.
    assert row == [("'" + t if t[:1] in ("=", "+", "-", "@", "\t", "\r") else t) for t in texts]


@settings(max_examples=50, deadline=None)
@given(st.lists(st.text(alphabet=st.characters(blacklist_categories=("Cs",))), min_size=1, max_size=4))
@example(["a\rb", "c\r\nd", "\x00\x1fe"])
def test_any_text_is_text_in_xlsx(texts: list[str]) -> None:
    columns = [Column(f"c{n}", f"C{n}") for n in range(len(texts))]
    file, _ = tables.xlsx_file(Table(columns, [texts]))
    with file:
        sheet = openpyxl.load_workbook(file).active
    for cell, text in zip(sheet[2], texts, strict=True):
        assert cell.data_type in ("s", "n")  # text (or an empty cell), never a formula
        line_breaks = text.replace("\r\n", "\n").replace("\r", "\n")
        assert (cell.value or "") == re.sub("[\x00-\x08\x0b\x0c\x0e-\x1f]", "", line_breaks)

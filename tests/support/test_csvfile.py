"""CSV files as Swedish Excel writes them (semicolons, UTF-8 with a BOM, Windows-1252) and as programs do."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
import redis
from hypothesis import given
from hypothesis import strategies as st

from kodeord.outbound.operators import import_portability
from kodeord.support import csvfile

ROWS = [["phone", "email", "name"], ["0701000002", "", "Åsa Öberg"], ["", "cecilia@example.se", "Cecilia; Ek"]]


def excel(rows: list[list[str]], delimiter: str) -> str:
    return "\r\n".join(delimiter.join(f'"{c}"' if delimiter in c else c for c in row) for row in rows) + "\r\n"


@pytest.mark.parametrize(
    ("encoding", "delimiter"),
    [("utf-8", ","), ("utf-8-sig", ";"), ("cp1252", ";"), ("latin-1", ","), ("utf-8", "\t"), ("utf-8-sig", ",")],
)
def test_every_flavour_reads_the_same(tmp_path: Path, encoding: str, delimiter: str) -> None:
    path = tmp_path / "members.csv"
    path.write_bytes(excel(ROWS, delimiter).encode(encoding))
    header, records = csvfile.records(path)
    assert header == ["phone", "email", "name"]
    assert [(line, row) for line, row in records] == [
        (2, {"phone": "0701000002", "email": "", "name": "Åsa Öberg"}),
        (3, {"phone": "", "email": "cecilia@example.se", "name": "Cecilia; Ek"}),
    ]


@given(st.binary(max_size=300))
def test_any_bytes_are_read_as_rows(raw: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "any.csv"
        path.write_bytes(raw)
        for line, row in csvfile.rows(path):
            assert line >= 1 and all(isinstance(cell, str) for cell in row)


def test_a_portability_file_saved_by_swedish_excel_imports(tmp_path: Path, kodeord_redis: redis.Redis) -> None:
    path = tmp_path / "ported.csv"
    path.write_bytes("number;operator\r\n070-123 45 67;Tele2\r\n+46731234567;Telia Sverige AB\r\n".encode("utf-8-sig"))
    assert import_portability(kodeord_redis, path) == 2

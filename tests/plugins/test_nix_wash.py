"""Washing a tenant's call list on a real Redis (NIX-3, NIX-5, NIX-7, NIX-8): CSV in every encoding and
delimiter Swedish Excel writes and XLSX, in both modes, with the business column; the history entry that proves
it (its SHA-256 that of the file) and not one number of the list kept; usage counted and priced; the command over
real processes, the API over real HTTP with a key, the reports; bad files refused with FILE:LINE and nothing
recorded for them."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import socket
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import openpyxl
import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kodeord.platform import Platform
from kodeord.plugins.nix import history
from kodeord.plugins.nix.history import Entry, entries, history_key
from kodeord.plugins.nix.listrows import ListFileError
from kodeord.plugins.nix.register import RegisterError, open_register
from kodeord.plugins.nix.result import add_months
from kodeord.plugins.nix.usage import Month, monthly, usage
from kodeord.plugins.nix.wash import wash_list, washed_name
from kodeord.web import apikeys
from kodeord.web.app import create_app
from kodeord.web.reports import Period

from ..conftest import on_terminal

KODEORD = [sys.executable, "-c", "from kodeord.cli import main; main()"]
RULES = """\
tenant: {id: salj, name: Sälj AB, timezone: Europe/Stockholm}
numbers: [{number: "72900"}]
services:
  - id: info
    number: "72900"
    keyword: INFO
    rules: [{name: info, reply: "Hej"}]
"""
OTHER_RULES = RULES.replace("salj, name: Sälj AB", "annan, name: Annan AB").replace("72900", "72901")
REGISTERED = ["08-123 456 78", "070-111 22 33", "031-12 34 56"]
VERSION = date.today() - timedelta(days=3)
HEADER = ["Namn", "Telefon", "Företag"]
ROWS = [
    ["Åsa Öberg", "08-123 456 78", ""],  # registered
    ["Bo Ek", "070-999 88 77", "nej"],  # clear
    ["Cecilia", "hej", ""],  # invalid
    ["Firma AB", "070-111 22 33", "ja"],  # business: passes unchecked, though registered
    ["Dag", "0701112233", ""],  # registered
    ["Eva", "+46 31 12 34 57", ""],  # clear
]
# What of the list must never be stored: its numbers (as written and as digits) and its names.
SECRETS = ["9998877", "99 88 77", "123457", "12 34 57", "Åsa", "Cecilia", "Firma AB"]


def until() -> date:
    return add_months(VERSION, 2)


@pytest.fixture
def platform(make_platform: Callable[..., Platform], tmp_path: Path) -> Platform:
    found = make_platform(RULES)
    imported(found, tmp_path)
    return found


def imported(platform: Platform, tmp_path: Path) -> None:
    source = tmp_path / "nix.txt"
    source.write_text("".join(n + "\n" for n in REGISTERED), encoding="utf-8")
    open_register(platform).import_version(source, VERSION, by="test")


def csv_list(path: Path, encoding: str, delimiter: str, newline: str = "\r\n") -> Path:
    text = io.StringIO()
    writer = csv.writer(text, delimiter=delimiter, lineterminator=newline)
    writer.writerows([HEADER, *ROWS])
    path.write_bytes(text.getvalue().encode(encoding))
    return path


def xlsx_list(path: Path) -> Path:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Ringlista"
    for row in [HEADER, *ROWS]:
        sheet.append(row)
    book.save(path)
    return path


def read_csv(path: Path, encoding: str, delimiter: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(path.read_bytes().decode(encoding)), delimiter=delimiter))


def stored_text(client: redis.Redis) -> str:
    """Every key and value in Redis, as text (bytes decoded leniently), to search for what must not be there."""
    redis_: Any = client  # the reply types depend on the client's options; these are bytes
    parts: list[str] = []
    for key in redis_.scan_iter():
        parts.append(key.decode("utf-8", "replace"))
        kind = redis_.type(key).decode()
        values: list[Any] = []
        if kind == "string":
            values = [redis_.get(key) or b""]
        elif kind == "hash":
            values = [v for pair in redis_.hgetall(key).items() for v in pair]
        elif kind == "list":
            values = list(redis_.lrange(key, 0, -1))
        elif kind == "set":
            values = list(redis_.smembers(key))
        elif kind == "zset":
            values = list(redis_.zrange(key, 0, -1))
        elif kind == "stream":
            values = [v for _, fields in redis_.xrange(key) for pair in fields.items() for v in pair]
        parts.extend(v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v) for v in values)
    return "\n".join(parts)


def assert_nothing_of_the_list_stored(client: redis.Redis) -> None:
    stored = stored_text(client)
    for secret in SECRETS:
        assert secret not in stored, f"{secret!r} is stored in Redis"


@pytest.mark.parametrize("mode", ["remove", "mark"])
@pytest.mark.parametrize(
    ("encoding", "delimiter"), [("utf-8", ";"), ("utf-8-sig", ";"), ("cp1252", ";"), ("utf-8", ","), ("cp1252", ",")]
)
def test_a_csv_list_is_washed_recorded_and_counted_without_one_number_kept(
    platform: Platform, tmp_path: Path, encoding: str, delimiter: str, mode: str
) -> None:
    infile = csv_list(tmp_path / "ringlista.csv", encoding, delimiter)
    out = tmp_path / washed_name(infile.name)
    assert out.name == "ringlista-tvättad.csv"
    washed = wash_list(platform, "salj", infile, out, by="anna@example.se", mode=mode, business="Företag")
    summary, entry = washed.summary, washed.entry
    assert (summary.rows, summary.registered, summary.clear, summary.invalid, summary.business) == (6, 2, 2, 1, 1)
    assert washed.checked == 5  # the business row is not checked
    rows = read_csv(out, encoding, delimiter)
    if mode == "remove":
        assert rows == [HEADER, ROWS[1], ROWS[2], ROWS[3], ROWS[5]]
        assert summary.written == 4
        assert out.read_bytes().startswith(infile.read_bytes()[:20])  # the encoding and BOM as they were
    else:
        day = until().isoformat()
        assert rows == [
            [*HEADER, "nix_status", "nix_callable_until"],
            [*ROWS[0], "registered", ""],
            [*ROWS[1], "clear", day],
            [*ROWS[2], "invalid", ""],
            [*ROWS[3], "business", ""],
            [*ROWS[4], "registered", ""],
            [*ROWS[5], "clear", day],
        ]
        assert summary.written == 6
    data = infile.read_bytes()
    assert entry == Entry(
        tenant="salj",
        by="anna@example.se",
        at=entry.at,
        kind="wash",
        register="se",
        version=VERSION,
        file="ringlista.csv",
        sha256=hashlib.sha256(data).hexdigest(),
        size=len(data),
        rows=6,
        registered=2,
        clear=2,
        invalid=1,
        business=1,
        mode=mode,
        column="Telefon",
    )
    assert abs(entry.at - datetime.now(UTC)) < timedelta(minutes=1)
    assert list(entries(platform, "salj")) == [entry]
    assert usage(platform, "salj") == {datetime.now(UTC).astimezone().strftime("%Y-%m"): 5}
    assert_nothing_of_the_list_stored(platform.redis)


@pytest.mark.parametrize("mode", ["remove", "mark"])
def test_an_xlsx_list_is_washed_into_an_xlsx(platform: Platform, tmp_path: Path, mode: str) -> None:
    infile = xlsx_list(tmp_path / "ringlista.xlsx")
    out = tmp_path / "tvättad.xlsx"
    washed = wash_list(platform, "salj", infile, out, by="cli", mode=mode, column="2", business=3)
    assert washed.summary.counts() == {"rows": 6, "registered": 2, "clear": 2, "invalid": 1, "business": 1}
    assert washed.summary.format == "xlsx" and washed.entry.sha256 == hashlib.sha256(infile.read_bytes()).hexdigest()
    sheet = openpyxl.load_workbook(out).active
    assert sheet is not None and sheet.title == "Ringlista"
    got = [[c if c is not None else "" for c in row] for row in sheet.iter_rows(values_only=True)]
    if mode == "remove":
        assert got == [HEADER, ROWS[1], ROWS[2], ROWS[3], ROWS[5]]
    else:
        day = datetime.combine(until(), datetime.min.time())
        assert [row[3:] for row in got] == [
            ["nix_status", "nix_callable_until"],
            ["registered", ""],
            ["clear", day],
            ["invalid", ""],
            ["business", ""],
            ["registered", ""],
            ["clear", day],
        ]
    assert_nothing_of_the_list_stored(platform.redis)


def test_without_the_business_column_every_row_is_checked_and_counted(platform: Platform, tmp_path: Path) -> None:
    infile = csv_list(tmp_path / "lista.csv", "utf-8", ";")
    washed = wash_list(platform, "salj", infile, None, by="cli")
    assert (washed.summary.registered, washed.summary.business, washed.checked) == (3, 0, 6)
    assert usage(platform, "salj") == {datetime.now().astimezone().strftime("%Y-%m"): 6}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"Namn;Adress\r\nAnna;Storgatan 1\r\n", 'lista.csv:1: no phone column: the header row has "Namn", "Adress"'),
        (b"Telefon\r\n0701234567\r\n\x00\x01\x02\x03binary", "lista.csv:3: a binary file"),
        (b"Telefon\r\n0701234567\r\n" + b";" * 4999 + b"\r\n", "lista.csv:3: a row of 5000 columns; at most 1000"),
    ],
)
def test_a_bad_list_is_refused_with_file_and_line_and_nothing_is_recorded(
    platform: Platform, tmp_path: Path, content: bytes, message: str
) -> None:
    infile = tmp_path / "lista.csv"
    infile.write_bytes(content)
    out = tmp_path / "ut.csv"
    with pytest.raises(ListFileError) as caught:
        wash_list(platform, "salj", infile, out, by="cli")
    assert str(caught.value).startswith(message)
    assert not out.exists() and list(tmp_path.glob(".ut.csv*")) == []
    assert list(entries(platform, "salj")) == [] and usage(platform, "salj") == {}


def test_before_the_first_import_nothing_is_washed(make_platform: Callable[..., Platform], tmp_path: Path) -> None:
    platform = make_platform(RULES)
    infile = csv_list(tmp_path / "lista.csv", "utf-8", ";")
    with pytest.raises(RegisterError, match="no version of NIX-Telefon has been imported"):
        wash_list(platform, "salj", infile, tmp_path / "ut.csv", by="cli")
    assert not (tmp_path / "ut.csv").exists() and list(entries(platform, "salj")) == []


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.binary(max_size=400), header=st.sampled_from([b"Telefon;Namn\r\n", b"", b"Mobil,Typ\n"]))
def test_any_uploaded_bytes_are_washed_or_refused_and_only_a_wash_is_recorded(
    platform: Platform, tmp_path: Path, body: bytes, header: bytes
) -> None:
    infile = tmp_path / "fuzz.csv"
    infile.write_bytes(header + body)
    before = list(entries(platform, "salj"))
    try:
        washed = wash_list(platform, "salj", infile, tmp_path / "fuzz-ut.csv", by="cli", mode="mark")
    except ListFileError as exc:
        assert str(exc).startswith("fuzz.csv")
        assert list(entries(platform, "salj")) == before
        return
    summary = washed.summary
    assert summary.rows == summary.registered + summary.clear + summary.invalid + summary.business
    assert list(entries(platform, "salj")) == [*before, washed.entry]
    assert washed.entry.sha256 == hashlib.sha256(infile.read_bytes()).hexdigest()


def test_history_is_per_tenant_read_by_period_and_usage_priced(
    make_platform: Callable[..., Platform], tmp_path: Path
) -> None:
    (tmp_path / "salj.yaml").write_text(RULES, encoding="utf-8")
    (tmp_path / "annan.yaml").write_text(OTHER_RULES, encoding="utf-8")
    platform = make_platform([tmp_path / "salj.yaml", tmp_path / "annan.yaml"], environ={"KODEORD_NIX_PRICE_ORE": "13"})
    imported(platform, tmp_path)
    now = datetime.now(UTC)
    old = Entry("salj", "cli", now - timedelta(days=40), "check", "se", VERSION, rows=1, clear=1)
    # As it was recorded 40 days ago: the stream's id is the moment Redis added it.
    platform.redis.xadd(history_key("salj"), old.encode(), id=f"{int(old.at.timestamp() * 1000)}-0")
    wash_list(platform, "salj", csv_list(tmp_path / "a.csv", "utf-8", ";"), None, by="cli")
    assert [e.kind for e in entries(platform, "salj")] == ["check", "wash"]
    assert [e.kind for e in entries(platform, "salj", since=now - timedelta(days=1))] == ["wash"]
    assert [e.kind for e in entries(platform, "salj", until=now - timedelta(days=1))] == ["check"]
    assert list(entries(platform, "annan")) == []
    assert history_key("salj") == "kodeord:{t:salj}:nix:history"
    month = now.astimezone().strftime("%Y-%m")
    [found] = monthly(platform, "salj")
    assert found == Month(month, 6, 13) and found.cost == Decimal("0.78")
    assert Month("2026-01", 1_000_000, 15).cost == Decimal("150000.00")
    assert monthly(platform, "annan") == []
    report = platform.reports["nix.usage"]
    today = now.astimezone().date()
    assert list(report.rows(platform, "salj", Period(today, today))) == [(month, 6, 13, Decimal("0.78"))]
    rows = list(platform.reports["nix.history"].rows(platform, "salj", Period(today - timedelta(days=1), today)))
    assert len(rows) == 1 and rows[0][1:4] == ("wash", "cli", "a.csv") and rows[0][6:11] == (6, 3, 2, 1, 0)
    assert history.MAX_ENTRIES >= 100_000


def test_the_price_setting_is_checked(make_platform: Callable[..., Platform]) -> None:
    from kodeord.config.settings import SettingsError

    with pytest.raises(SettingsError, match="KODEORD_NIX_PRICE_ORE"):
        make_platform(RULES, environ={"KODEORD_NIX_PRICE_ORE": "-1"})
    assert make_platform(RULES).settings.nix_price_ore == 15


# The command


@pytest.fixture
def cli_env(platform: Platform, tmp_path: Path, kodeord_redis_url: str) -> dict[str, str]:
    (tmp_path / "salj.yaml").write_text(RULES, encoding="utf-8")
    return {
        **os.environ,
        "KODEORD_REDIS_URL": kodeord_redis_url,
        "KODEORD_RULES": str(tmp_path / "salj.yaml"),
        "KODEORD_LOG_LEVEL": "WARNING",
        "KODEORD_DATA_DIR": str(tmp_path / "var"),
        "KODEORD_NIX_PRICE_ORE": "17",
    }


def nix_command(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*KODEORD, "nix", *args], env=env, capture_output=True, text=True, timeout=60)


def test_the_commands_wash_show_the_history_and_the_usage(
    platform: Platform, cli_env: dict[str, str], tmp_path: Path
) -> None:
    infile = csv_list(tmp_path / "ringlista.csv", "cp1252", ";")
    done = nix_command(cli_env, "wash", str(infile), "--business", "Företag", "--mode", "mark")
    assert done.returncode == 0, done.stderr
    out = tmp_path / "ringlista-tvättad.csv"
    assert [row[-2] for row in read_csv(out, "cp1252", ";")[1:]] == [
        "registered",
        "clear",
        "invalid",
        "business",
        "registered",
        "clear",
    ]
    sha = hashlib.sha256(infile.read_bytes()).hexdigest()
    assert done.stdout.splitlines() == [
        "ringlista.csv: 6 rows, 2 registered, 2 clear, 1 invalid, 1 business (passed, not checked)",
        f"checked against se version {VERSION}, column 'Telefon'",
        f"written: {out} (6 rows, every row marked)",
        f"recorded for salj: 5 numbers checked; SHA-256 {sha}, {infile.stat().st_size} bytes",
    ]
    other = tmp_path / "kvar.csv"
    removed = nix_command(cli_env, "wash", str(infile), "--out", str(other), "--column", "Telefon", "--tenant", "salj")
    assert removed.returncode == 0, removed.stderr
    assert len(read_csv(other, "cp1252", ";")) == 1 + 3  # no business column: the firm's registered row goes too

    as_json = json.loads(nix_command(cli_env, "history", "--format", "json").stdout)
    assert [(e["kind"], e["by"], e["file"], e["sha256"], e["checked"]) for e in as_json] == [
        ("wash", "cli", "ringlista.csv", sha, 5),
        ("wash", "cli", "ringlista.csv", sha, 6),
    ]
    table = nix_command(cli_env, "history").stdout.splitlines()
    assert table[0].split() == [
        "time", "kind", "by", "file", "rows", "registered", "clear", "invalid", "business", "version"
    ]  # fmt: skip
    assert table[1].split()[2:] == ["wash", "cli", "ringlista.csv", "6", "2", "2", "1", "1", "se", str(VERSION)]
    saved = tmp_path / "historik.csv"
    assert nix_command(cli_env, "history", "--format", "csv", "--out", str(saved)).returncode == 0
    exported = list(csv.reader(io.StringIO(saved.read_text(encoding="utf-8-sig")), delimiter=";"))
    assert exported[0][:4] == ["Tid", "Slag", "Av", "Fil"] and exported[1][5] == sha
    book = tmp_path / "historik.xlsx"
    assert nix_command(cli_env, "history", "--format", "xlsx", "--out", str(book)).returncode == 0
    sheet = openpyxl.load_workbook(book).active
    assert sheet is not None and sheet.max_row == 3 and sheet.cell(2, 6).value == sha

    month = datetime.now().astimezone().strftime("%Y-%m")
    used = nix_command(cli_env, "usage")
    assert [line.split() for line in used.stdout.splitlines()] == [
        ["month", "checked", "price", "(öre)", "cost", "(SEK)"],
        [month, "11", "17", "1.87"],
    ]
    assert json.loads(nix_command(cli_env, "usage", "--json").stdout) == [
        {"month": month, "checked": 11, "price_ore": 17, "cost_sek": "1.87"}
    ]


def test_the_command_refuses_a_bad_list_with_file_and_line(
    platform: Platform, cli_env: dict[str, str], tmp_path: Path
) -> None:
    bad = tmp_path / "lista.csv"
    bad.write_text("Namn;Adress\nAnna;Storgatan 1\n", encoding="utf-8")
    refused = nix_command(cli_env, "wash", str(bad))
    assert refused.returncode == 1 and refused.stdout == ""
    assert refused.stderr.startswith('lista.csv:1: no phone column: the header row has "Namn", "Adress"')
    assert not (tmp_path / "lista-tvättad.csv").exists()
    assert nix_command(cli_env, "wash", str(bad), "--tenant", "nobody").returncode == 2
    assert nix_command(cli_env, "history", "--format", "json").stdout.strip() == "[]"
    assert "no numbers checked by salj" in nix_command(cli_env, "usage").stdout


def test_the_command_asks_for_the_tenant_when_there_are_two(
    make_platform: Callable[..., Platform], tmp_path: Path, kodeord_redis_url: str
) -> None:
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "salj.yaml").write_text(RULES, encoding="utf-8")
    (tmp_path / "rules" / "annan.yaml").write_text(OTHER_RULES, encoding="utf-8")
    platform = make_platform(tmp_path / "rules")
    imported(platform, tmp_path)
    env = {
        **os.environ,
        "KODEORD_REDIS_URL": kodeord_redis_url,
        "KODEORD_RULES": str(tmp_path / "rules"),
        "KODEORD_LOG_LEVEL": "WARNING",
        "KODEORD_DATA_DIR": str(tmp_path / "var"),
    }
    infile = csv_list(tmp_path / "lista.csv", "utf-8", ";")
    asked = nix_command(env, "wash", str(infile))
    assert asked.returncode == 2 and "give the tenant with --tenant, one of: annan, salj" in asked.stderr
    assert nix_command(env, "wash", str(infile), "--tenant", "annan").returncode == 0
    assert [e.tenant for e in entries(platform, "annan")] == ["annan"] and list(entries(platform, "salj")) == []


def test_a_wash_on_a_terminal_shows_its_progress(platform: Platform, cli_env: dict[str, str], tmp_path: Path) -> None:
    infile = tmp_path / "stor.csv"
    infile.write_text("Telefon\n" + "".join(f"070-{n:07d}\n" for n in range(50_000)), encoding="utf-8")
    code, out, shown = on_terminal([*KODEORD, "nix", "wash", str(infile)], cli_env)
    assert code == 0 and out.startswith("stor.csv: 50000 rows, 0 registered, 50000 clear")
    assert b"washing stor.csv" in shown and b"1000/1000" in shown


# The API


@pytest.fixture
def two_tenants(
    make_platform: Callable[..., Platform], tmp_path: Path, serve: Callable[..., str]
) -> tuple[Platform, str]:
    (tmp_path / "salj.yaml").write_text(RULES, encoding="utf-8")
    (tmp_path / "annan.yaml").write_text(OTHER_RULES, encoding="utf-8")
    platform = make_platform([tmp_path / "salj.yaml", tmp_path / "annan.yaml"])
    imported(platform, tmp_path)
    return platform, serve(create_app(platform))


def test_the_api_washes_a_list_and_shows_its_history_and_usage_to_its_tenant_only(
    two_tenants: tuple[Platform, str], tmp_path: Path
) -> None:
    platform, url = two_tenants
    key = apikeys.create(platform.redis, "salj", "ringsystem")
    other = apikeys.create(platform.redis, "annan")
    mine, theirs = {"Authorization": f"Bearer {key}"}, {"Authorization": f"Bearer {other}"}
    infile = csv_list(tmp_path / "ringlista.csv", "utf-8-sig", ";")
    files = {"file": ("ringlista.csv", infile.read_bytes(), "text/csv")}
    with httpx.Client(base_url=url, timeout=30) as http:
        assert http.post("/api/nix/wash", files=files).status_code == 401
        assert http.get("/api/nix/history").status_code == 401
        assert http.get("/api/nix/usage").status_code == 401
        answer = http.post("/api/nix/wash", files=files, data={"mode": "mark", "business": "Företag"}, headers=mine)
        assert answer.status_code == 200, answer.text
        expected = tmp_path / "lokal.csv"
        wash_list(platform, "annan", infile, expected, by="cli", mode="mark", business="Företag")
        assert answer.content == expected.read_bytes()
        assert answer.headers["content-type"].startswith("text/csv")
        assert "ringlista-tv%C3%A4ttad.csv" in answer.headers["content-disposition"]
        assert [answer.headers[f"x-nix-{n}"] for n in ("rows", "registered", "clear", "invalid", "business")] == [
            "6", "2", "2", "1", "1"
        ]  # fmt: skip
        assert answer.headers["x-nix-version"] == VERSION.isoformat()
        sha = hashlib.sha256(infile.read_bytes()).hexdigest()
        assert answer.headers["x-nix-sha256"] == sha

        book = xlsx_list(tmp_path / "lista.xlsx")
        xlsx = http.post(
            "/api/nix/wash",
            files={"file": ("lista.xlsx", book.read_bytes())},
            params={"column": "Telefon"},
            headers=mine,
        )
        assert xlsx.status_code == 200 and xlsx.headers["x-nix-registered"] == "3"
        sheet = openpyxl.load_workbook(io.BytesIO(xlsx.content)).active
        assert sheet is not None and sheet.max_row == 1 + 3

        bad = http.post("/api/nix/wash", files={"file": ("bild.csv", b"Telefon\n\x00\x01\x02")}, headers=mine)
        assert bad.status_code == 422 and bad.json()["error"].startswith("bild.csv:2: a binary file")
        none = http.post("/api/nix/wash", data={"mode": "mark"}, headers=mine)
        assert none.status_code in (400, 415)
        wrong_mode = http.post("/api/nix/wash", files=files, data={"mode": "x"}, headers=mine)
        assert wrong_mode.status_code == 400

        checked = http.get("/api/nix/check", params=[("number", "08-123 456 78"), ("number", "hej")], headers=mine)
        assert checked.status_code == 200

        found = http.get("/api/nix/history", headers=mine).json()
        assert found["tenant"] == "salj"
        assert [(e["kind"], e["by"], e["file"], e["rows"], e["checked"]) for e in found["entries"]] == [
            ("wash", "key:ringsystem", "ringlista.csv", 6, 5),
            ("wash", "key:ringsystem", "lista.xlsx", 6, 6),
            ("check", "key:ringsystem", "", 2, 2),
        ]
        assert found["entries"][0]["sha256"] == sha and found["entries"][0]["version"] == VERSION.isoformat()
        assert found["entries"][2]["registered"] == 1 and found["entries"][2]["invalid"] == 1
        exported = http.get("/api/nix/history", params={"format": "csv"}, headers=mine)
        assert exported.status_code == 200 and exported.text.count("\r\n") == 4 and sha in exported.text
        as_xlsx = http.get("/api/nix/history", params={"format": "xlsx"}, headers=mine)
        assert openpyxl.load_workbook(io.BytesIO(as_xlsx.content)).active.max_row == 4  # type: ignore[union-attr]
        assert http.get("/api/nix/history", params={"format": "pdf"}, headers=mine).status_code == 400

        month = datetime.now().astimezone().strftime("%Y-%m")
        assert http.get("/api/nix/usage", headers=mine).json() == {
            "tenant": "salj",
            "price_ore": 15,
            "months": [{"month": month, "checked": 13, "price_ore": 15, "cost_sek": "1.95"}],
        }
        report = http.get("/api/reports/nix.usage", params={"format": "json"}, headers=mine).json()
        assert report == [{"month": month, "checked": 13, "price_ore": 15, "cost_sek": "1.95"}]

        # The other tenant sees only its own (the wash made above for comparison, by the command's name).
        assert [e["file"] for e in http.get("/api/nix/history", headers=theirs).json()["entries"]] == ["ringlista.csv"]
        assert [e["by"] for e in http.get("/api/nix/history", headers=theirs).json()["entries"]] == ["cli"]
        their_report = http.get("/api/reports/nix.history", params={"format": "json"}, headers=theirs).json()
        assert [row["by"] for row in their_report] == ["cli"]
    assert_nothing_of_the_list_stored(platform.redis)


def test_the_api_refuses_a_list_too_large_from_its_length_before_reading_it(
    two_tenants: tuple[Platform, str],
) -> None:
    platform, url = two_tenants
    key = apikeys.create(platform.redis, "salj")
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        sock.sendall(
            b"POST /api/nix/wash HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + key.encode() + b"\r\n"
            b"Content-Type: multipart/form-data; boundary=b\r\nContent-Length: 60000000\r\n\r\n--b\r\n"
        )
        answer = sock.recv(65536).decode("latin-1")
    assert answer.startswith("HTTP/1.1 413") and "larger than 50 MB" in answer
    assert list(entries(platform, "salj")) == []


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(content=st.binary(max_size=300))
def test_any_bytes_posted_to_the_api_get_a_washed_file_or_a_422_never_a_500(
    two_tenants: tuple[Platform, str], content: bytes
) -> None:
    platform, url = two_tenants
    key = platform.redis.get("test:key")
    if key is None:
        key = apikeys.create(platform.redis, "salj").encode()
        platform.redis.set("test:key", key)
    answer = httpx.post(
        f"{url}/api/nix/wash",
        files={"file": ("lista.csv", b"Telefon;\xe5\x81\r\n" + content)},
        headers={"Authorization": f"Bearer {key.decode()}"},
        timeout=30,
    )
    assert answer.status_code in (200, 422), answer.text
    if answer.status_code == 422:
        assert answer.json()["error"].startswith("lista.csv")

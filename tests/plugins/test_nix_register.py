"""The do-not-call register on a real Redis: versions imported whole and switched to atomically, exact checks,
the two-month rule at its edges, pruning, areas, the stale-register alert, and the command and the API over
real processes and HTTP."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from pathlib import Path

import httpx
import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from kodeord.config.settings import SettingsError
from kodeord.inbound import signing
from kodeord.platform import Platform
from kodeord.plugins.nix import freshness
from kodeord.plugins.nix.numbers import parse
from kodeord.plugins.nix.register import Register, RegisterError, RegisterKeys, open_register
from kodeord.plugins.nix.registerfile import RegisterFileError
from kodeord.plugins.nix.result import Result, Status, add_months, may_call
from kodeord.plugins.nix.spec import SWEDEN
from kodeord.plugins.nix.usage import count_usage, usage
from kodeord.web import apikeys
from kodeord.web.app import create_app

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
REGISTERED = ["08-123 456 78", "070-111 22 33", "031-12 34 56", "0910-123 45", "08-765 43 21"]
CLEAR = "070-999 88 77"
JAN = date(2024, 1, 31)
FEB = date(2024, 2, 7)
NORWAY = (
    '{"no": {"name": "Reservasjonsregisteret", "country": "Norway", "country_code": 47, "trunk_prefix": "",'
    ' "months": 1}}'
)


@pytest.fixture
def platform(make_platform: Callable[..., Platform]) -> Platform:
    return make_platform(RULES)


def register_of(platform: Platform, code: str | None = None) -> Register:
    return open_register(platform, code)


def register_keys(client: redis.Redis, code: str = "se") -> set[str]:
    return {k.decode() for k in client.scan_iter(match=f"kodeord:{{nix:{code}}}:*")}


def written(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def test_an_imported_version_answers_registered_clear_and_invalid_with_the_version_and_until(
    platform: Platform, tmp_path: Path
) -> None:
    register = register_of(platform)
    imported = register.import_version(written(tmp_path / "nix.txt", REGISTERED), JAN, by="test")
    assert (imported.version.numbers, imported.tally.bad, imported.version.source) == (5, 0, "nix.txt")
    assert register.check("+46 8 123 456 78") == Result(Status.REGISTERED, JAN)
    assert register.check("0046701112233").status is Status.REGISTERED
    assert register.check(CLEAR) == Result(Status.CLEAR, JAN, date(2024, 3, 31))
    assert register.check("08-12") == Result(Status.INVALID, JAN, None, "too short")
    assert register.check("+47 22 12 34 56") == Result(Status.INVALID, JAN, None, "a foreign number (+47)")
    found = register.check_many(["031-123456", CLEAR, "hej", "0910-12345", "08-123 456 79"])
    assert [r.status.value for r in found] == ["registered", "clear", "invalid", "registered", "clear"]
    assert found[2].reason == "not a phone number"
    [version] = register.versions()
    assert version == register.current() and version.version == JAN and version.by == "test"


def test_a_csv_with_area_codes_and_bad_lines_counted_by_line(platform: Platform, tmp_path: Path) -> None:
    lines = ["Riktnummer;Nummer", "08;123 456 78", "8;7654321", '"031";"12 34 56"', "", "070;12", "0910;"]
    lines += ["070;1112233", "070;1112233", "hej;hopp"]
    imported = register_of(platform).import_version(written(tmp_path / "nix.csv", lines), JAN)
    tally = imported.tally
    assert tally.layout == "CSV (';'), area code in column 1, number in column 2"
    assert (imported.version.numbers, imported.version.duplicates, tally.bad, tally.lines) == (4, 1, 3, 10)
    assert [(b.line, b.reason) for b in tally.first_bad] == [
        (6, "too short"),
        (7, "too short"),
        (10, "not a phone number"),
    ]
    register = register_of(platform)
    assert [register.check(n).status.value for n in ("08-1234 5678", "08-765 43 21", "031-123456", "0701112233")] == [
        "registered"
    ] * 4


def test_a_headerless_csv_takes_area_then_number(platform: Platform, tmp_path: Path) -> None:
    register = register_of(platform)
    register.import_version(written(tmp_path / "nix.csv", ["08,12345678", "70,1112233"]), JAN)
    assert register.check("08-123 456 78").status is Status.REGISTERED
    assert register.check("070-111 22 33").status is Status.REGISTERED


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        ([], "no numbers in 0 lines"),
        (["telefonnummer"], "no numbers in 1 lines"),
        (
            ["070-1112233", "hej", "då", "x", "y"],
            "4 of 5 lines are not numbers (first line 2: not a phone number ('hej'))",
        ),
        (["namn;adress", "a;b"], "line 1: no number column in the header 'namn;adress'"),
    ],
)
def test_what_is_not_a_register_is_refused_and_the_old_version_stays(
    platform: Platform, tmp_path: Path, lines: list[str], message: str
) -> None:
    register = register_of(platform)
    register.import_version(written(tmp_path / "old.txt", REGISTERED), JAN)
    before = register_keys(platform.redis)
    with pytest.raises(RegisterFileError) as refused:
        register.import_version(written(tmp_path / "new.txt", lines), FEB)
    assert message in str(refused.value)
    assert register.current().version == JAN and register_keys(platform.redis) == before  # type: ignore[union-attr]


def test_checks_during_an_import_see_the_old_version_until_the_new_one_is_whole(
    platform: Platform, tmp_path: Path
) -> None:
    register = register_of(platform)
    register.import_version(written(tmp_path / "old.txt", REGISTERED), JAN)
    seen: list[tuple[str, Result]] = []

    def during(stage: str, done: int) -> None:
        # Another process's check, while the new version is read and while it is written.
        seen.append((stage, register_of(platform).check("08-123 456 78")))
        seen.append((stage, register_of(platform).check(CLEAR)))

    register.import_version(written(tmp_path / "new.txt", [CLEAR]), FEB, progress=during, allow_shrink=True)
    assert {stage for stage, _ in seen} == {"read", "write"}
    assert all(result.version == JAN for _, result in seen)
    assert [r.status for _, r in seen[:2]] == [Status.REGISTERED, Status.CLEAR]
    assert register.check("08-123 456 78") == Result(Status.CLEAR, FEB, date(2024, 4, 7))
    assert register.check(CLEAR).status is Status.REGISTERED


def test_checks_racing_imports_that_delete_old_versions_always_answer_from_one_whole_version(
    make_platform: Callable[..., Platform],
) -> None:
    platform = make_platform(RULES, environ={"KODEORD_NIX_KEEP_VERSIONS": "1"})
    odd, even = "070-111 11 11", "070-222 22 22"
    register_of(platform).import_version(iter([odd, *REGISTERED]), date(2024, 1, 1))
    answers: list[list[Result]] = []
    done = threading.Event()

    def check_meanwhile() -> None:
        checker = register_of(platform)
        while not done.is_set():
            answers.append(checker.check_many([odd, even]))

    with ThreadPoolExecutor(1) as pool:
        checking = pool.submit(check_meanwhile)
        try:
            for n in range(2, 30):  # each import deletes the version before it
                held = odd if n % 2 else even
                register_of(platform).import_version(iter([held, *REGISTERED]), date(2024, 1, n))
        finally:
            done.set()
        checking.result(30)  # raises what a check raised
    assert len(answers) > 10
    for first, second in answers:
        assert first.version == second.version
        registered = odd if first.version.day % 2 else even
        assert (first.status, second.status) == (
            (Status.REGISTERED, Status.CLEAR) if registered == odd else (Status.CLEAR, Status.REGISTERED)
        )


class Broken(Exception):
    pass


def failing_lines(good: int) -> Iterator[str]:
    for n in range(good):
        yield f"070-{n:07d}"
    raise Broken(f"the file ended after {good} lines")


def test_an_import_that_fails_half_way_leaves_the_old_version_and_no_partial_keys(
    platform: Platform, tmp_path: Path
) -> None:
    register = register_of(platform)
    register.import_version(written(tmp_path / "old.txt", REGISTERED), JAN)
    before = register_keys(platform.redis)
    with pytest.raises(Broken):
        register.import_version(failing_lines(70_000), FEB)  # past the first chunk read
    assert register.current().version == JAN and register_keys(platform.redis) == before  # type: ignore[union-attr]

    def interrupted(stage: str, done: int) -> None:
        if stage == "write":  # the new version's numbers are in Redis, not yet current: Ctrl-C now
            assert len(register_keys(platform.redis) - before) == 1
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        register.import_version((f"070-{n:07d}" for n in range(1000)), FEB, progress=interrupted)
    assert register.current().version == JAN  # type: ignore[union-attr]
    assert register_keys(platform.redis) - before == set()  # the sequence counter changed, no other key
    assert register.check("08-123 456 78").status is Status.REGISTERED
    assert register.check("070-000 00 01").status is Status.CLEAR


def test_a_version_being_built_expires_if_its_import_dies(platform: Platform, tmp_path: Path) -> None:
    register = register_of(platform)
    ttls: list[int] = []

    def watch(stage: str, done: int) -> None:
        if stage == "write":
            [building] = [k for k in register_keys(platform.redis) if ":v:" in k]
            ttls.append(int(platform.redis.ttl(building)))

    imported = register.import_version(written(tmp_path / "nix.txt", REGISTERED), JAN, progress=watch)
    assert ttls and 0 < ttls[0] <= 3600
    assert platform.redis.ttl(RegisterKeys("se").numbers(imported.version.id)) == -1  # kept once current


def test_the_last_versions_are_kept_and_older_ones_deleted(
    make_platform: Callable[..., Platform], tmp_path: Path
) -> None:
    platform = make_platform(RULES, environ={"KODEORD_NIX_KEEP_VERSIONS": "2"})
    register = register_of(platform)
    ids = []
    for n, day in enumerate((date(2024, 1, 1), date(2024, 1, 8), date(2024, 1, 15))):
        ids.append(register.import_version(written(tmp_path / f"{n}.txt", REGISTERED[: 3 + n]), day).version.id)
    assert [v.id for v in register.versions()] == [ids[2], ids[1]]
    assert not platform.redis.exists(RegisterKeys("se").numbers(ids[0]))
    assert platform.redis.exists(RegisterKeys("se").numbers(ids[1]))
    assert register.current().id == ids[2]  # type: ignore[union-attr]
    assert register.check("08-765 43 21").version == date(2024, 1, 15)


def test_older_future_and_much_smaller_versions_are_refused(platform: Platform, tmp_path: Path) -> None:
    register = register_of(platform)
    big = written(tmp_path / "big.txt", REGISTERED)
    register.import_version(big, FEB)
    with pytest.raises(RegisterError, match="version 2024-01-31 is older than the current version 2024-02-07"):
        register.import_version(big, JAN)
    with pytest.raises(RegisterError, match="version 2024-02-09 is in the future"):
        register.import_version(big, date(2024, 2, 9), today=date(2024, 2, 8))
    small = written(tmp_path / "small.txt", REGISTERED[:2])
    with pytest.raises(RegisterError, match="2 numbers, fewer than half of the current version 2024-02-07's 5"):
        register.import_version(small, date(2024, 2, 14))
    assert register.current().version == FEB  # type: ignore[union-attr]
    assert register.import_version(small, date(2024, 2, 14), allow_shrink=True).version.numbers == 2
    again = register.import_version(big, date(2024, 2, 14))  # the same date again replaces it (a corrected file)
    assert register.current() == again.version and register.check("08-765 43 21").status is Status.REGISTERED


def test_a_wrong_version_can_be_dropped(platform: Platform, tmp_path: Path) -> None:
    register = register_of(platform)
    first = register.import_version(written(tmp_path / "a.txt", REGISTERED), JAN).version
    wrong = register.import_version(written(tmp_path / "b.txt", REGISTERED), FEB).version
    assert register.drop(wrong.id) == wrong
    assert register.current() == first and register.check(CLEAR).version == JAN
    with pytest.raises(RegisterError, match="has no version"):
        register.drop(wrong.id)
    register.drop(first.id)
    assert register.current() is None and register_keys(platform.redis) == {RegisterKeys("se").imports}


def test_without_a_version_checks_fail_rather_than_answer_clear(platform: Platform) -> None:
    with pytest.raises(RegisterError, match="no version of NIX-Telefon has been imported") as refused:
        register_of(platform).check(CLEAR)
    assert refused.value.http_status == 503


@pytest.mark.parametrize(
    ("version", "months", "until"),
    [
        (date(2024, 1, 31), 2, date(2024, 3, 31)),
        (date(2024, 12, 31), 2, date(2025, 2, 28)),
        (date(2024, 1, 31), 1, date(2024, 2, 29)),
        (date(2023, 1, 31), 1, date(2023, 2, 28)),
        (date(2024, 8, 31), 2, date(2024, 10, 31)),
        (date(2024, 7, 31), 2, date(2024, 9, 30)),
        (date(2024, 11, 15), 2, date(2025, 1, 15)),
    ],
)
def test_until_is_the_version_date_plus_calendar_months_clamped(version: date, months: int, until: date) -> None:
    assert add_months(version, months) == until


def test_the_two_month_rule_at_its_edges(platform: Platform, tmp_path: Path) -> None:
    register = register_of(platform)
    register.import_version(written(tmp_path / "nix.txt", REGISTERED), date(2024, 12, 31))
    clear = register.check(CLEAR)
    assert clear.until == date(2025, 2, 28)
    assert may_call(clear, date(2025, 2, 27))  # the day before
    assert may_call(clear, date(2025, 2, 28))  # the last day
    assert not may_call(clear, date(2025, 3, 1))  # the day after
    assert not may_call(register.check("08-123 456 78"), date(2025, 1, 1))
    assert not may_call(register.check("hej"), date(2025, 1, 1))


def test_extract_lists_an_area_in_the_registers_written_form(platform: Platform, tmp_path: Path) -> None:
    edges = [f"08-{n}" for n in ("1000000", "9999999", "10000000", "99999999", "65536 00", "1310 7199")]
    others = ["090-123 45", "0910-123 45", "070-111 22 33", "031-12 34 56"]
    register = register_of(platform)
    register.import_version(written(tmp_path / "nix.txt", REGISTERED + edges + others), JAN)
    expected = ["08-1000000", "08-6553600", "08-7654321", "08-9999999"]  # the shorter numbers first
    expected += ["08-10000000", "08-12345678", "08-13107199", "08-99999999"]
    assert list(register.extract("08")) == expected
    assert list(register.extract("8")) == expected
    assert list(register.extract("0910")) == ["0910-12345"]
    assert list(register.extract("090")) == ["090-12345"]
    assert list(register.extract("046")) == []
    for wrong in ("hej", "0", "+46", ""):
        with pytest.raises(RegisterError, match="is not an area code"):
            list(register.extract(wrong))


def test_checks_are_exact_for_a_register_of_many_numbers(platform: Platform) -> None:
    rng = random.Random(16)
    numbers = {rng.choice((70, 72, 73, 76)) * 10**7 + rng.randrange(10**7) for _ in range(60_000)}
    numbers |= {8 * 10**7 + rng.randrange(10**7) for _ in range(20_000)}
    registered = sorted(numbers)[::2]
    register = register_of(platform)
    register.import_version((f"0{n}" for n in registered), JAN)
    asked = sorted(numbers)
    found = register.check_many(f"+46{n}" for n in asked)
    held = set(registered)
    assert [r.status is Status.REGISTERED for r in found] == [n in held for n in asked]
    used = sum(int(platform.redis.memory_usage(k, samples=0) or 0) for k in register_keys(platform.redis))
    assert used / len(registered) < 10, f"{used / len(registered):.1f} bytes a number"


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.lists(st.integers(10**8, 10**9 - 1).filter(lambda n: isinstance(parse(f"0{n}", SWEDEN), int)), max_size=30),
    st.lists(st.integers(10**6, 10**10), max_size=30),
)
def test_a_number_is_registered_exactly_when_the_version_holds_it(
    platform: Platform, held: list[int], others: list[int]
) -> None:
    platform.redis.flushdb()
    register = register_of(platform)
    try:
        register.import_version((f"0{n}" for n in held), JAN)
    except RegisterFileError:
        assert not held
        return
    for n, result in zip(held + others, register.check_many([f"0{n}" for n in held + others]), strict=True):
        parsed = parse(f"0{n}", SWEDEN)
        if not isinstance(parsed, int):
            assert result.status is Status.INVALID
        else:
            assert result.status is (Status.REGISTERED if n in held else Status.CLEAR), n


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.binary(max_size=2000)
    | st.lists(
        st.sampled_from(["08-123 45 67", "070;1234567", "riktnummer;nummer", "hej", ";;", '"', "\x00", "\ufeff"])
        | st.text(max_size=40),
        max_size=40,
    ).map(lambda lines: "\n".join(lines).encode("utf-8", "surrogatepass"))
)
def test_any_register_file_is_imported_or_refused_with_a_reason(
    platform: Platform, tmp_path: Path, data: bytes
) -> None:
    platform.redis.flushdb()
    register = register_of(platform)
    register.import_version(iter(REGISTERED), JAN)
    path = tmp_path / "any.txt"
    path.write_bytes(data)
    try:
        imported = register.import_version(path, FEB, allow_shrink=True)
    except (RegisterFileError, RegisterError) as refused:
        assert str(refused)
        assert register.current().version == JAN  # type: ignore[union-attr]
        assert {k for k in register_keys(platform.redis) if ":v:" in k} == {
            RegisterKeys("se").numbers(register.current().id)  # type: ignore[union-attr]
        }
    else:
        assert imported.version.numbers > 0 and register.current() == imported.version


def test_a_stale_register_raises_an_alert_that_reaches_the_operators(
    make_platform: Callable[..., Platform], tmp_path: Path, serve: Callable[..., str]
) -> None:
    received: list[dict[str, object]] = []

    async def hook(request: Request) -> Response:
        body = await request.body()
        signing.verify(
            "hook-secret",
            body,
            request.headers.get(signing.TIMESTAMP_HEADER),
            request.headers.get(signing.SIGNATURE_HEADER),
        )
        received.append(json.loads(body))
        return Response(status_code=204)

    url = serve(Starlette(routes=[Route("/hook", hook, methods=["POST"])]))
    gateways = tmp_path / "gateways.yaml"
    gateways.write_text(f"alerts:\n  webhook: {{url: {url}/hook, secret: hook-secret}}\n", encoding="utf-8")
    platform = make_platform(RULES, environ={"KODEORD_NIX_STALE_DAYS": "7"}, gateways=gateways)
    assert freshness.check(platform, date(2024, 2, 1)) == []  # nothing imported: nothing to alert on
    register = register_of(platform)
    register.import_version(written(tmp_path / "nix.txt", REGISTERED), JAN)
    assert freshness.check(platform, JAN + timedelta(days=7)) == []  # 7 days old: not older than the limit
    assert freshness.check(platform, JAN + timedelta(days=8)) == ["nix-stale:se"]
    assert freshness.check(platform, JAN + timedelta(days=9)) == []  # once per alert interval
    assert platform.monitor is not None
    platform.monitor.check(0.0)
    [alert] = received
    assert alert["cause"] == "nix-stale:se" and (alert["value"], alert["threshold"]) == (8, 7)
    assert "NIX-Telefon (se): the newest version is of 2024-01-31, 8 days old" in str(alert["message"])
    platform.redis.delete("kodeord:alerts:sent:nix-stale:se")
    register.import_version(written(tmp_path / "nix.txt", REGISTERED), date.today())
    platform.housekeeping()  # what the sender workers do: the register is fresh now
    assert freshness.check(platform) == []


def test_norway_is_added_by_configuration(make_platform: Callable[..., Platform]) -> None:
    platform = make_platform(RULES, environ={"KODEORD_NIX_REGISTERS": NORWAY})
    norway = register_of(platform, "no")
    norway.import_version(iter(["22 12 34 56", "+47 912 34 567"]), JAN)
    assert norway.check("0047 22123456") == Result(Status.REGISTERED, JAN)
    assert norway.check("41234567") == Result(Status.CLEAR, JAN, date(2024, 2, 29))
    with pytest.raises(RegisterError, match="no version of NIX-Telefon"):
        register_of(platform).check("08-123 456 78")  # Sweden is still there, apart
    with pytest.raises(RegisterError, match=r"no register 'dk' \(configured: no, se\)"):
        register_of(platform, "dk")
    with pytest.raises(SettingsError, match="KODEORD_NIX_REGISTERS: register 'dk': missing field 'country'"):
        make_platform(RULES, environ={"KODEORD_NIX_REGISTERS": '{"dk": {"name": "Robinson"}}'})
    with pytest.raises(SettingsError, match="KODEORD_NIX_REGISTERS: register 'se': months must be between 1 and 24"):
        make_platform(RULES, environ={"KODEORD_NIX_REGISTERS": '{"se": {"months": 0}}'})


def test_usage_is_counted_per_tenant_and_month_in_the_tenants_zone(make_platform: Callable[..., Platform]) -> None:
    from datetime import UTC, datetime

    platform = make_platform(RULES)
    count_usage(platform, "salj", 1000, datetime(2024, 1, 31, 22, 59, tzinfo=UTC))  # 23:59 in Stockholm
    count_usage(platform, "salj", 3, datetime(2024, 1, 31, 23, 0, tzinfo=UTC))  # already February there
    count_usage(platform, "salj", 0)
    assert usage(platform, "salj") == {"2024-01": 1000, "2024-02": 3}
    assert usage(platform, "annan") == {}


def test_the_api_checks_numbers_and_counts_them_for_the_keys_tenant(
    make_platform: Callable[..., Platform], tmp_path: Path, serve: Callable[..., str]
) -> None:
    (tmp_path / "salj.yaml").write_text(RULES, encoding="utf-8")
    (tmp_path / "annan.yaml").write_text(OTHER_RULES, encoding="utf-8")
    platform = make_platform([tmp_path / "salj.yaml", tmp_path / "annan.yaml"])
    url = serve(create_app(platform)) + "/api/nix/check"
    key = apikeys.create(platform.redis, "salj")
    headers = {"Authorization": f"Bearer {key}"}
    with httpx.Client(timeout=30) as http:
        assert http.get(url, params={"number": CLEAR}).status_code == 401
        missing = http.get(url, params={"number": CLEAR}, headers=headers)
        assert missing.status_code == 503 and "no version of NIX-Telefon" in missing.json()["error"]
        register_of(platform).import_version(written(tmp_path / "nix.txt", REGISTERED), JAN)
        answer = http.get(
            url, params=[("number", "08-123 456 78"), ("number", CLEAR), ("number", "08-12")], headers=headers
        )
        assert answer.status_code == 200
        assert answer.json() == {
            "results": [
                {"number": "08-123 456 78", "register": "se", "status": "registered", "version": "2024-01-31",
                 "until": None, "reason": None},
                {"number": CLEAR, "register": "se", "status": "clear", "version": "2024-01-31",
                 "until": "2024-03-31", "reason": None},
                {"number": "08-12", "register": "se", "status": "invalid", "version": "2024-01-31",
                 "until": None, "reason": "too short"},
            ]
        }  # fmt: skip
        many: list[tuple[str, str | int | float | bool | None]] = [("number", f"070-{n:07d}") for n in range(1000)]
        assert len(http.get(url, params=many, headers=headers).json()["results"]) == 1000
        assert http.get(url, params=[*many, ("number", CLEAR)], headers=headers).status_code == 413
        assert http.get(url, headers=headers).status_code == 400
        assert http.get(url, params={"number": CLEAR, "register": "dk"}, headers=headers).status_code == 404
        other = apikeys.create(platform.redis, "annan")
        http.get(url, params={"number": CLEAR}, headers={"Authorization": f"Bearer {other}"}).raise_for_status()
    month = date.today().strftime("%Y-%m")
    assert usage(platform, "salj") == {month: 1003}
    assert usage(platform, "annan") == {month: 1}


@pytest.fixture
def cli_env(platform: Platform, tmp_path: Path, kodeord_redis_url: str) -> dict[str, str]:
    (tmp_path / "salj.yaml").write_text(RULES, encoding="utf-8")
    return {
        **os.environ,
        "KODEORD_REDIS_URL": kodeord_redis_url,
        "KODEORD_RULES": str(tmp_path / "salj.yaml"),
        "KODEORD_LOG_LEVEL": "WARNING",
        "KODEORD_DATA_DIR": str(tmp_path / "var"),
    }


def test_the_commands_import_check_list_extract_and_drop(cli_env: dict[str, str], tmp_path: Path) -> None:
    def nix(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*KODEORD, "nix", *args], env=cli_env, capture_output=True, text=True, timeout=60)

    source = written(tmp_path / "nix.csv", ["riktnummer;nummer", "08;123 456 78", "070;1112233", "08;1", "031;123456"])
    imported = nix("import", str(source), "--version", "2024-01-31")
    assert imported.returncode == 0, imported.stderr
    assert imported.stdout.startswith(
        "NIX-Telefon version 2024-01-31 (2024-01-31.1) is current: 3 numbers from 5 lines"
    )
    assert "line 4: too short ('081')" in imported.stdout
    checked = nix("check", "08-123 456 78", CLEAR, "hej")
    assert checked.returncode == 0, checked.stderr
    assert [line.split() for line in checked.stdout.splitlines()] == [
        ["08-123", "456", "78", "registered", "version", "2024-01-31", "not", "to", "be", "called"],
        ["070-999", "88", "77", "clear", "version", "2024-01-31", "callable", "until", "2024-03-31"],
        ["hej", "invalid", "version", "2024-01-31", "not", "a", "phone", "number"],
    ]
    as_json = [json.loads(line) for line in nix("check", "--json", CLEAR).stdout.splitlines()]
    assert as_json == [
        {
            "number": CLEAR,
            "register": "se",
            "status": "clear",
            "version": "2024-01-31",
            "until": "2024-03-31",
            "reason": None,
        }
    ]
    assert nix("import", str(source), "--version", "2024-1-31").returncode == 2
    listed = nix("versions").stdout.splitlines()
    assert listed[0].split() == ["version", "id", "numbers", "bad", "lines", "imported", "file"]
    assert listed[1].split()[:5] == ["*", "2024-01-31", "2024-01-31.1", "3", "1"] and listed[1].endswith("nix.csv")
    out = tmp_path / "08.txt"
    extracted = nix("extract", "--area", "08", "--out", str(out))
    assert extracted.returncode == 0 and out.read_text() == "08-12345678\n"
    assert "1 registered numbers of area 08 (NIX-Telefon version 2024-01-31)" in extracted.stderr
    assert nix("extract", "--area", "070").stdout == "070-1112233\n"
    refused = nix("import", str(written(tmp_path / "bad.txt", ["hej"])), "--version", "2024-02-07")
    assert refused.returncode == 1 and refused.stderr.startswith("error: no numbers in 1 lines")
    dropped = nix("drop", "2024-01-31.1")
    assert (
        dropped.stdout.strip()
        == "deleted version 2024-01-31 (2024-01-31.1); current: none: checks fail until an import"
    )
    failed = nix("check", CLEAR)
    assert failed.returncode == 1 and "no version of NIX-Telefon has been imported" in failed.stderr


def test_an_import_on_a_terminal_shows_its_progress(cli_env: dict[str, str], tmp_path: Path) -> None:
    source = written(tmp_path / "nix.txt", [f"070-{n:07d}" for n in range(120_000)])
    code, out, shown = on_terminal([*KODEORD, "nix", "import", str(source), "--version", "2024-01-31"], cli_env)
    assert code == 0 and "120000 numbers from 120000 lines" in out
    assert b"reading nix.txt" in shown and b"120000/120000" in shown


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "latin-1"])
def test_a_register_file_in_any_encoding_excel_writes_is_read_by_its_header(
    platform: Platform, tmp_path: Path, encoding: str
) -> None:
    path = tmp_path / "nix.csv"
    path.write_bytes("Områdesnummer;Telefonnummer\r\n8;123 456 78\r\n070;111 22 33\r\n".encode(encoding))
    imported = register_of(platform).import_version(path, JAN)
    assert imported.tally.layout == "CSV (';'), area code in column 1, number in column 2"
    assert (imported.version.numbers, imported.tally.bad) == (2, 0)
    assert register_of(platform).check("08-123 456 78").status is Status.REGISTERED

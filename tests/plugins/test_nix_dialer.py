"""The dialer's API and the telemarketing veto on a real Redis and over real HTTP: per-number answers in order,
the two-month rule at its edges, the refusals, usage and history, and messages of a telemarketing service
stopped at a registered number (when queued and when sent) while other services' messages pass."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest

from kodeord.commit.effects import Effects
from kodeord.commit.keys import Keys
from kodeord.inbound.messages import Inbound, Kind, Outbound
from kodeord.platform import Platform
from kodeord.plugins.nix import history
from kodeord.plugins.nix.register import open_register
from kodeord.plugins.nix.result import add_months
from kodeord.plugins.nix.spec import SWEDEN
from kodeord.plugins.nix.usage import usage
from kodeord.plugins.nix.veto import register_for
from kodeord.support.errors import RuleFileError
from kodeord.web import apikeys
from kodeord.web.app import create_app

RULES = """\
tenant: {id: salj, name: Sälj AB, timezone: Europe/Stockholm}
numbers: [{number: "72900"}]
services:
  - id: kampanj
    number: "72900"
    keyword: KAMPANJ
    telemarketing: true
    rules: [{name: svar, reply: "Tack"}]
  - id: info
    number: "72900"
    keyword: INFO
    rules: [{name: info, reply: "Hej"}]
"""
REGISTERED = ["08-123 456 78", "070-111 22 33"]
CLEAR = "070-999 88 77"
ZONE = ZoneInfo("Europe/Stockholm")


def today() -> date:
    return datetime.now(UTC).astimezone(ZONE).date()


def version_until(last_day: date) -> date:
    """A version date whose two months end on ``last_day`` (the latest one ending on or before it)."""
    day = last_day
    while add_months(day, 2) > last_day:
        day -= timedelta(days=1)
    return day


def import_register(platform: Platform, tmp_path: Path, version: date, numbers: list[str] = REGISTERED) -> None:
    path = tmp_path / f"nix-{version}.txt"
    path.write_text("".join(n + "\n" for n in numbers), encoding="utf-8")
    open_register(platform).import_version(path, version)


@pytest.fixture
def platform(make_platform: Callable[..., Platform]) -> Platform:
    return make_platform(RULES)


@pytest.fixture
def dial(platform: Platform, serve: Callable[..., str]) -> Callable[..., httpx.Response]:
    url = serve(create_app(platform)) + "/api/nix/dial"
    key = apikeys.create(platform.redis, "salj", "dialer")

    def post(body: object, key: str | None = key) -> httpx.Response:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        return httpx.post(url, json=body, headers=headers, timeout=30)

    return post


def test_the_dialer_answers_each_number_in_order_and_counts_and_records_the_batch(
    platform: Platform, dial: Callable[..., httpx.Response], tmp_path: Path
) -> None:
    version = today() - timedelta(days=3)
    import_register(platform, tmp_path, version)
    until = add_months(version, 2).isoformat()
    answer = dial({"numbers": ["070-111 22 33", CLEAR, "08-12", "+46 8 123 456 78"]})
    assert answer.status_code == 200, answer.text
    common = {"register": "se", "version": version.isoformat()}
    assert answer.json() == {
        "results": [
            {"number": "070-111 22 33", "may_call": False, "reason": "registered", "until": None, **common,
             "detail": f"in NIX-Telefon version {version}: not to be called"},
            {"number": CLEAR, "may_call": True, "reason": "clear", "until": until, **common,
             "detail": f"not in NIX-Telefon version {version}: may be called until {until}"},
            {"number": "08-12", "may_call": False, "reason": "invalid", "until": None, **common,
             "detail": "too short"},
            {"number": "+46 8 123 456 78", "may_call": False, "reason": "registered", "until": None, **common,
             "detail": f"in NIX-Telefon version {version}: not to be called"},
        ]
    }  # fmt: skip
    assert usage(platform, "salj") == {today().strftime("%Y-%m"): 4}
    [entry] = history.entries(platform, "salj")
    assert (entry.kind, entry.by, entry.register, entry.version) == ("dial", "key:dialer", "se", version)
    assert (entry.rows, entry.registered, entry.clear, entry.invalid) == (4, 2, 1, 1)


def test_a_version_whose_two_months_ended_yesterday_lets_nothing_be_called(
    platform: Platform, dial: Callable[..., httpx.Response], tmp_path: Path
) -> None:
    yesterday = today() - timedelta(days=1)
    version = version_until(yesterday)
    import_register(platform, tmp_path, version)
    until = add_months(version, 2)
    assert until <= yesterday
    answer = dial({"numbers": [CLEAR, "070-111 22 33"]}).json()["results"]
    assert answer[0] == {
        "number": CLEAR,
        "may_call": False,
        "reason": "register too old",
        "detail": f"the newest version of NIX-Telefon, {version}, held until {until}: import a newer version",
        "register": "se",
        "version": version.isoformat(),
        "until": until.isoformat(),
    }
    assert (answer[1]["may_call"], answer[1]["reason"]) == (False, "registered")


def test_a_version_whose_two_months_end_today_still_lets_clear_numbers_be_called(
    platform: Platform, dial: Callable[..., httpx.Response], tmp_path: Path
) -> None:
    version = version_until(today())
    if add_months(version, 2) != today():
        pytest.skip(f"no version's two months end exactly on {today()}")
    import_register(platform, tmp_path, version)
    [answer] = dial({"numbers": [CLEAR]}).json()["results"]
    assert (answer["may_call"], answer["reason"], answer["until"]) == (True, "clear", today().isoformat())


def test_the_dialer_refuses_without_a_version_a_key_or_a_sane_batch(
    platform: Platform, dial: Callable[..., httpx.Response], tmp_path: Path
) -> None:
    missing = dial({"numbers": [CLEAR]})
    assert missing.status_code == 503
    assert missing.json() == {"error": "no version of NIX-Telefon has been imported: checks cannot be made"}
    assert dial({"numbers": [CLEAR]}, key=None).status_code == 401
    assert dial({"numbers": [CLEAR]}, key="kod_" + "x" * 40).status_code == 401
    import_register(platform, tmp_path, today() - timedelta(days=1))
    assert len(dial({"numbers": [f"070-{n:07d}" for n in range(1000)]}).json()["results"]) == 1000
    too_many = dial({"numbers": [f"070-{n:07d}" for n in range(1001)]})
    assert too_many.status_code == 413
    assert too_many.json() == {"error": "1001 numbers: give at most 1000 at a time"}
    assert dial({"numbers": []}).status_code == 400
    assert dial({"number": CLEAR}).status_code == 400
    assert dial({"numbers": [CLEAR, 701234567]}).json() == {"error": "numbers[1] is not a string"}
    assert dial({"numbers": ["0" * 101]}).status_code == 400
    assert dial({"numbers": [CLEAR], "register": "dk"}).status_code == 404
    assert dial(["070-1234567"]).status_code == 400
    assert usage(platform, "salj") == {today().strftime("%Y-%m"): 1000}  # only the answered batch counts


def message(to: str, service: str, kind: Kind = Kind.BROADCAST) -> Outbound:
    return Outbound(to=to, sender="72900", text="Erbjudande", service=service, kind=kind)


def queue(platform: Platform, service: str, recipients: list[str], kind: Kind = Kind.BROADCAST) -> list[dict[str, str]]:
    """Queue a message of ``service`` to each recipient (not a reply: a broadcast, which the register's veto
    covers as it covers marketing; the erb plugin's checks of marketing are its own tests'); the vetoes at
    queueing."""
    effects = Effects(replies=[message(to, service, kind) for to in recipients])
    outcome = platform.apply(Keys.for_service(service), effects, f"test:{service}:{len(recipients)}", "test")
    return outcome.vetoed


def test_a_telemarketing_service_reaches_only_numbers_the_register_clears(
    platform: Platform, tmp_path: Path, deliver: Callable[[Platform], list[Outbound]]
) -> None:
    import_register(platform, tmp_path, today() - timedelta(days=3))
    vetoed = queue(platform, "salj/kampanj", ["+46701112233", "+46709998877", "+4722123456"])
    assert vetoed == [
        {"to": "+46701112233", "plugin": "nix",
         "reason": f"telemarketing: registered (in NIX-Telefon version {today() - timedelta(days=3)}: "
                   "not to be called)"},
        {"to": "+4722123456", "plugin": "nix",
         "reason": "telemarketing: no do-not-call register is configured for this country"},
    ]  # fmt: skip
    assert queue(platform, "salj/info", ["+46701112233", "+46709998877"]) == []
    sent = deliver(platform)
    assert sorted((m.service, m.to) for m in sent) == [
        ("salj/info", "+46701112233"),
        ("salj/info", "+46709998877"),
        ("salj/kampanj", "+46709998877"),
    ]


def test_a_reply_to_a_registered_consumers_own_message_is_not_telemarketing(
    platform: Platform,
    tmp_path: Path,
    make_inbound: Callable[..., Inbound],
    deliver: Callable[[Platform], list[Outbound]],
) -> None:
    import_register(platform, tmp_path, today() - timedelta(days=3))
    outcome = platform.handle(make_inbound("KAMPANJ", to="72900", sender="+46701112233"))
    assert outcome.vetoed == []
    assert [(m.to, m.text, m.kind) for m in deliver(platform)] == [("+46701112233", "Tack", Kind.REPLY)]


def test_the_veto_uses_the_newest_version_when_the_message_is_sent(
    platform: Platform, tmp_path: Path, deliver: Callable[[Platform], list[Outbound]]
) -> None:
    import_register(platform, tmp_path, today() - timedelta(days=8))
    assert queue(platform, "salj/kampanj", ["+46709998877", "+46701234567"]) == []
    import_register(platform, tmp_path, today() - timedelta(days=1), [*REGISTERED, CLEAR])
    assert [m.to for m in deliver(platform)] == ["+46701234567"]


def test_the_veto_fails_safe_without_a_version_or_with_one_too_old(
    platform: Platform, tmp_path: Path, deliver: Callable[[Platform], list[Outbound]]
) -> None:
    [none] = queue(platform, "salj/kampanj", ["+46709998877"])
    assert none["reason"] == "telemarketing: no version of NIX-Telefon has been imported: checks cannot be made"
    version = version_until(today() - timedelta(days=1))
    import_register(platform, tmp_path, version)
    [old] = queue(platform, "salj/kampanj", ["+46709998877"])
    assert old["reason"].startswith("telemarketing: register too old (the newest version of NIX-Telefon, ")
    assert queue(platform, "salj/info", ["+46709998877"]) == []
    assert [(m.service, m.to) for m in deliver(platform)] == [("salj/info", "+46709998877")]


def test_the_register_of_a_recipient_is_the_one_of_its_country() -> None:
    assert register_for("+46709998877", [SWEDEN]) is SWEDEN
    assert register_for("0046709998877", [SWEDEN]) is SWEDEN
    assert register_for("+4722123456", [SWEDEN]) is None


def test_a_telemarketing_declaration_that_is_not_true_or_false_is_refused_at_load(
    make_platform: Callable[..., Platform], tmp_path: Path
) -> None:
    path = tmp_path / "salj.yaml"
    path.write_text(RULES.replace("telemarketing: true", "telemarketing: ja"), encoding="utf-8")
    with pytest.raises(RuleFileError) as info:
        make_platform(path)
    assert [str(p) for p in info.value.problems] == [
        f"{path}:7:20: expected true or false, got the text 'ja' (at services[0].telemarketing)"
    ]
    assert make_platform(RULES).service("salj/kampanj").telemarketing is True  # type: ignore[union-attr]
    assert make_platform(RULES).service("salj/info").telemarketing is False  # type: ignore[union-attr]

"""The rules engine: conditions, rule order, no session per sender, bounded cache."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from kodeord.config.model import Condition, Rule, Service
from kodeord.config.schema import Loc
from kodeord.decide.engine import Engine, facts, unconditional
from kodeord.inbound.messages import Channel

LOC = Loc("t.yaml", 1, 1)


def service(*rules: Rule, sid: str = "s") -> Service:
    return Service("t", sid, "72500", "K", (), False, False, None, rules, "Europe/Stockholm", {}, LOC)


def rule(name: str, **when: object) -> Rule:
    return Rule(name, Condition(**when), None, {}, "x", LOC)  # type: ignore[arg-type]


NOON = datetime(2026, 6, 3, 10, 0, tzinfo=UTC)  # Wednesday, 12:00 in Stockholm


def decide(
    engine: Engine,
    svc: Service,
    *,
    args: str = "",
    role: str = "stranger",
    channel: str = "sms",
    reserved: str | None = None,
    now: datetime = NOON,
    keyword: str = "k",
) -> str | None:
    event = facts(svc, keyword=keyword, args=args, reserved=reserved, role=role, channel=channel, now=now)
    chosen = engine.decide(svc, event)
    return chosen.name if chosen else None


def test_first_matching_rule_wins() -> None:
    svc = service(rule("code", args=re.compile(r"\d{2}")), rule("writer", roles=frozenset({"writer"})), rule("any"))
    engine = Engine()
    assert decide(engine, svc, args="03", role="writer") == "code"
    assert decide(engine, svc, args="x", role="writer") == "writer"
    assert decide(engine, svc, args="x") == "any"


def test_conditions_combine() -> None:
    svc = service(
        rule("sms-member", roles=frozenset({"member"}), channels=frozenset({Channel.SMS})),
        rule("call", channels=frozenset({Channel.CALL})),
        rule("start", reserved=frozenset({"start"})),
        rule("alias", keywords=frozenset({"melo"})),
    )
    engine = Engine()
    assert decide(engine, svc, role="member") == "sms-member"
    assert decide(engine, svc, role="member", channel="call") == "call"
    assert decide(engine, svc, reserved="start") == "start"
    assert decide(engine, svc, keyword="melo") == "alias"
    assert decide(engine, svc) is None


def test_reserved_words_only_reach_rules_that_ask_for_them() -> None:
    svc = service(rule("any"))
    assert decide(Engine(), svc, reserved="stop") is None


def test_hours_days_and_dates_in_the_service_time_zone() -> None:
    svc = service(
        rule("night", hours=(22 * 60, 2 * 60)),
        rule("office", hours=(9 * 60, 16 * 60), days=frozenset({0, 1, 2, 3, 4})),
        rule("window", start=datetime(2026, 6, 3, 18, tzinfo=UTC), end=datetime(2026, 6, 3, 19, tzinfo=UTC)),
    )
    engine = Engine()
    assert decide(engine, svc) == "office"
    assert decide(engine, svc, now=datetime(2026, 6, 6, 10, tzinfo=UTC)) is None  # Saturday
    assert decide(engine, svc, now=datetime(2026, 6, 3, 21, 30, tzinfo=UTC)) == "night"  # 23:30 local
    assert decide(engine, svc, now=datetime(2026, 6, 3, 23, 30, tzinfo=UTC)) == "night"  # 01:30 local
    assert decide(engine, svc, now=datetime(2026, 6, 3, 18, 30, tzinfo=UTC)) == "window"  # 20:30 local


def test_many_senders_share_one_session() -> None:
    """durable_rules allows 1024 sessions per ruleset; thousands of senders must still work."""
    svc = service(rule("code", args=re.compile(r"0[1-9]")))
    engine = Engine()
    for i in range(3000):
        assert decide(engine, svc, args=f"0{i % 9 + 1}", role="member") == "code"


def test_cache_is_bounded_and_reload_safe() -> None:
    engine = Engine(cache_size=5)
    services = [service(rule("r"), sid=f"s{i}") for i in range(20)]
    for svc in services:
        assert decide(engine, svc) == "r"
    assert len(engine) == 5
    changed = service(rule("new"), sid="s0")
    assert decide(engine, changed) == "new"
    engine.close()
    assert len(engine) == 0


@given(
    reserved=st.sampled_from([None, "start", "stop", "help"]),
    role=st.sampled_from(["member", "stranger"]),
    channel=st.sampled_from(["sms", "call"]),
    args=st.text(max_size=10),
)
def test_an_unconditional_first_rule_is_known_without_the_engine(
    reserved: str | None, role: str, channel: str, args: str
) -> None:
    svc = service(rule("always"), rule("stops", reserved=frozenset({"stop"})))
    engine = Engine()
    try:
        event = facts(
            svc, keyword="mello", args=args, reserved=reserved, role=role, channel=channel, now=datetime.now(UTC)
        )
        assert unconditional(svc, reserved) is (engine.decide(svc, event) if reserved is None else None)
        if reserved is not None:  # a reserved word never reaches a rule that did not ask for it
            assert engine.decide(svc, event) is (svc.rules[1] if reserved == "stop" else None)
    finally:
        engine.close()
    assert unconditional(service(rule("conditional", roles=frozenset({"member"}))), None) is None

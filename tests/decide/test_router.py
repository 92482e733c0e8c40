"""The router over a real Redis: routing, dedupe, fallback, reserved words, atomic commits."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import redis

from kodeord import ActionCall, ActionSpec, Effects, Write, hookimpl
from kodeord.commit.effects import Guard
from kodeord.commit.keys import Keys
from kodeord.decide.actions import Veto
from kodeord.inbound.messages import Inbound, Outbound
from kodeord.outbound.gateway import RecordingGateway
from kodeord.platform import Platform
from kodeord.support.errors import PluginError

from ..conftest import TV_RULES


class CountingPlugin:
    """A test plugin: counts votes through Effects and knows one writer."""

    writer = "+46709999999"

    @staticmethod
    def vote(call: ActionCall) -> Effects:
        key = call.keys.plugin("count").key_for("votes")
        return Effects(writes=[Write("HINCRBY", key, (call.args, 1))], vars={"code": call.args})

    @hookimpl
    def kodeord_register_actions(self, register: Callable[[ActionSpec], None]) -> None:
        register(ActionSpec("count.vote", "count a vote", provides=("code",), run=self.vote))

    @hookimpl
    def kodeord_sender_role(self, service: Any, sender: str, redis: redis.Redis) -> str | None:
        return "writer" if sender == self.writer else None


COUNT_RULES = TV_RULES.replace(
    'reply: "Tack för rösten på {{ args }}"', 'do: count.vote\n        reply: "Tack för rösten på {{ code }}"'
)


@pytest.fixture
def tv(make_platform: Callable[..., Platform]) -> Iterator[Platform]:
    yield make_platform(COUNT_RULES, plugins=[CountingPlugin()])


def votes(platform: Platform) -> dict[bytes, bytes]:
    return platform.redis.hgetall(Keys.for_service("tv/mello").plugin("count").key_for("votes"))


def test_keyword_rule_action_and_reply(tv: Platform, make_inbound: Callable[..., Inbound]) -> None:
    outcome = tv.handle(make_inbound("mello 03"))
    assert (outcome.status, outcome.service, outcome.rule, outcome.action) == (
        "handled",
        "tv/mello",
        "vote",
        "count.vote",
    )
    assert [r["text"] for r in outcome.replies] == ["Tack för rösten på 03"]
    assert outcome.replies[0]["to"] == "+46701234567"
    assert outcome.replies[0]["from"] == "72500"
    assert votes(tv) == {b"03": b"1"}


def test_alias_and_accents_select_the_same_service(tv: Platform, make_inbound: Callable[..., Inbound]) -> None:
    for text in ("MELO 04", "Mello 04", "mellö 04"):
        assert tv.handle(make_inbound(text)).service == "tv/mello"
    assert votes(tv) == {b"04": b"3"}


def test_retry_of_the_same_message_changes_nothing(tv: Platform, make_inbound: Callable[..., Inbound]) -> None:
    first = tv.handle(make_inbound("MELLO 05", message_id="gw-1"))
    again = tv.handle(make_inbound("MELLO 05", message_id="gw-1"))
    assert again.duplicate and not first.duplicate
    assert again.replies == first.replies
    assert votes(tv) == {b"05": b"1"}
    assert tv.redis.xlen(Keys.for_service("tv/mello").outbox) == 1


def test_concurrent_retries_commit_once(tv: Platform, make_inbound: Callable[..., Inbound]) -> None:
    inbound = make_inbound("MELLO 06", message_id="gw-race")
    results: list[Any] = []
    barrier = threading.Barrier(8)

    def send() -> None:
        barrier.wait()
        results.append(tv.handle(inbound))

    threads = [threading.Thread(target=send) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(not r.duplicate for r in results) == 1
    assert {json.dumps(r.replies) for r in results} == {json.dumps(results[0].replies)}
    assert votes(tv) == {b"06": b"1"}
    assert tv.redis.xlen(Keys.for_service("tv/mello").outbox) == 1


def test_same_id_from_another_gateway_is_a_new_message(tv: Platform, make_inbound: Callable[..., Inbound]) -> None:
    tv.handle(make_inbound("MELLO 07", message_id="x", gateway="kannel"))
    tv.handle(make_inbound("MELLO 07", message_id="x", gateway="elks"))
    assert votes(tv) == {b"07": b"2"}


def test_fallback_when_no_rule_matches(tv: Platform, make_inbound: Callable[..., Inbound]) -> None:
    outcome = tv.handle(make_inbound("MELLO 99"))
    assert (outcome.status, outcome.rule) == ("fallback", None)
    assert [r["text"] for r in outcome.replies] == ["Okänd kod 99"]


def test_role_from_a_plugin_selects_the_rule(tv: Platform, make_inbound: Callable[..., Inbound]) -> None:
    outcome = tv.handle(make_inbound("MELLO hej", sender=CountingPlugin.writer))
    assert outcome.rule == "writers"


def test_unknown_keyword_gets_the_number_reply(tv: Platform, make_inbound: Callable[..., Inbound]) -> None:
    outcome = tv.handle(make_inbound("FOTBOLL 1"))
    assert outcome.status == "unknown-keyword"
    assert [r["text"] for r in outcome.replies] == ['Okänt kodord "FOTBOLL". Kontrollera stavningen och försök igen.']


@pytest.mark.parametrize(
    ("text", "reply"),
    [
        ("", "Tomt meddelande. Skicka ett kodord till 72500."),
        ("   ", "Tomt meddelande. Skicka ett kodord till 72500."),
        ("X" * 200, 'Okänt kodord "XXXXXXXXXXXXXXXXX...". Kontrollera stavningen och försök igen.'),
        ("hej\nhopp", 'Okänt kodord "hej". Kontrollera stavningen och försök igen.'),
    ],
)
def test_an_unknown_or_empty_text_gets_a_reply_that_repeats_at_most_a_short_word(
    tv: Platform, make_inbound: Callable[..., Inbound], text: str, reply: str
) -> None:
    outcome = tv.handle(make_inbound(text))
    assert [r["text"] for r in outcome.replies] == [reply]


def test_unknown_number_is_recorded_without_reply(tv: Platform, make_inbound: Callable[..., Inbound]) -> None:
    outcome = tv.handle(make_inbound("MELLO 1", to="71000"))
    assert (outcome.status, outcome.replies) == ("unknown-number", [])


def test_stop_blocks_everything_but_replies_until_start(
    tv: Platform, make_inbound: Callable[..., Inbound], deliver: Callable[[Platform], list[Outbound]]
) -> None:
    phone = "+46701111111"
    assert tv.handle(make_inbound("STOPP", sender=phone)).status == "reserved"
    broadcast = Outbound(
        to=phone, sender="72500", text="Nyhet!", kind=Outbound.__dataclass_fields__["kind"].default.BROADCAST
    )
    reply = Outbound(to=phone, sender="72500", text="Svar")
    veto, passed = tv.hooks.vet_many([broadcast, reply], tv.redis, tv)
    assert veto is not None and "STOP" in veto.reason
    assert passed is None
    tv.handle(make_inbound("start", sender=phone))
    assert tv.hooks.vet_many([broadcast], tv.redis, tv) == [None]
    texts = [m.text for m in deliver(tv)]
    assert texts[0].startswith("Du är avanmäld")
    assert texts[1].startswith("Du är anmäld igen")


def test_dry_run_changes_nothing(tv: Platform, make_inbound: Callable[..., Inbound]) -> None:
    outcome = tv.handle(make_inbound("MELLO 02"), dry_run=True)
    assert outcome.rule == "vote" and outcome.replies[0]["text"] == "Tack för rösten på 02"
    assert tv.redis.dbsize() == 0


def test_outgoing_messages_reach_the_gateway_once(
    tv: Platform,
    make_inbound: Callable[..., Inbound],
    deliver: Callable[[Platform], list[Outbound]],
    recording_gateway: RecordingGateway,
) -> None:
    for i in range(1, 6):
        tv.handle(make_inbound(f"MELLO 0{i}", sender=f"+4670123450{i}"))
    sent = deliver(tv)
    assert sorted(m.to for m in sent) == [f"+4670123450{i}" for i in range(1, 6)]
    assert deliver(tv) == []
    assert len(set(recording_gateway.ids)) == 5


def test_failed_commit_leaves_no_trace(tv: Platform, make_inbound: Callable[..., Inbound]) -> None:
    key = Keys.for_service("tv/mello").plugin("count").key_for("votes")
    tv.redis.set(key, "not a hash")  # HINCRBY will fail inside the transaction
    with pytest.raises(redis.ResponseError):
        tv.handle(make_inbound("MELLO 03", message_id="m1"))
    scope = Keys.for_service("tv/mello")
    assert tv.redis.keys(tv.retention.inbound.prefix(scope) + ":*") == []
    assert tv.redis.xlen(scope.outbox) == 0


def test_time_of_message_decides_the_window(
    make_platform: Callable[..., Platform], make_inbound: Callable[..., Inbound]
) -> None:
    platform = make_platform(
        """\
tenant: {id: tv, timezone: Europe/Stockholm}
numbers: [{number: "72500"}]
services:
  - id: quiz
    number: "72500"
    keyword: QUIZ
    fallback: "Tävlingen är stängd"
    rules:
      - name: open
        when: {from: 2026-12-24T18:00, until: 2026-12-24T20:00, hours: "18:30-19:00"}
        reply: "Svar registrerat"
"""
    )

    def at(hour: int, minute: int) -> str | None:
        when = datetime(2026, 12, 24, hour - 1, minute, tzinfo=UTC)  # Stockholm is UTC+1 in December
        return platform.handle(make_inbound("QUIZ 1", received_at=when)).rule

    assert at(18, 45) == "open"
    assert at(18, 15) is None
    assert at(20, 45) is None


def test_any_text_from_outside_gets_an_outcome(make_platform: Callable[..., Platform]) -> None:
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    platform = make_platform(COUNT_RULES, plugins=[CountingPlugin()])
    ids = iter(range(10**9))

    @settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(st.text(max_size=300), st.sampled_from(["72500", "+46766861004"]))
    def route(text: str, to: str) -> None:
        inbound = Inbound.create(sender="+46701234567", recipient=to, text=text, gateway="h", message_id=str(next(ids)))
        outcome = platform.handle(inbound)
        assert outcome.status in {"handled", "fallback", "reserved", "unknown-keyword", "unknown-number"}
        assert all(r["to"] == "+46701234567" for r in outcome.replies)

    route()


def test_inbound_fields_are_validated() -> None:
    from kodeord.support.errors import InvalidMessage, InvalidNumber

    with pytest.raises(InvalidNumber, match="not a phone number"):
        Inbound.create(sender="hello", recipient="72500", gateway="g", message_id="1")
    with pytest.raises(InvalidMessage, match="unknown channel 'fax'"):
        Inbound.create(sender="+46701234567", recipient="72500", channel="fax", gateway="g", message_id="1")
    with pytest.raises(InvalidMessage, match="message id"):
        Inbound.create(sender="+46701234567", recipient="72500", gateway="g", message_id="")
    with pytest.raises(InvalidMessage, match="time zone"):
        Inbound.create(
            sender="+46701234567", recipient="72500", gateway="g", message_id="1", received_at=datetime(2026, 1, 1)
        )
    mail = Inbound.create(
        sender="Anna@Example.SE", recipient="Lista@Kodeord.SE", channel="email", gateway="smtp", message_id="1"
    )
    assert (mail.sender, mail.recipient) == ("anna@example.se", "lista@kodeord.se")


def test_a_broken_utf16_pair_in_the_text_is_replaced_not_refused(
    make_platform: Callable[..., Platform], make_inbound: Callable[..., Inbound]
) -> None:
    platform = make_platform(TV_RULES)
    inbound = make_inbound("MELLO 0\ud8001")
    assert inbound.text == "MELLO 0?1"
    assert platform.handle(inbound).status == "fallback"  # routed and committed like any other text


class Refusing:
    """Vetoes every message to one number."""

    refused = "+46700000001"

    @hookimpl
    def kodeord_vet_outgoing(self, message: Outbound, redis: redis.Redis) -> Veto | None:
        return Veto("refused in a test", "refusing") if message.to == self.refused else None


def test_a_change_without_a_message_commits_its_effects_vets_its_replies_and_stays_in_its_scope(
    make_platform: Callable[..., Platform],
) -> None:
    platform = make_platform(TV_RULES, plugins=[Refusing()])
    scope = Keys.for_service("tv/mello")
    tally = scope.plugin("count").key_for("changed")
    replies = [
        Outbound(to=to, sender="72500", text="Hej", service="tv/mello") for to in ("+46701234567", Refusing.refused)
    ]
    outcome = platform.apply(scope, Effects(writes=[Write("HINCRBY", tally, ("n", 1))], replies=replies), "t:1", "test")
    assert outcome.guard is None and platform.redis.hget(tally, "n") == b"1"
    assert [r["to"] for r in outcome.replies] == ["+46701234567"] and outcome.replies[0]["id"] == "t:1:0"
    assert outcome.vetoed == [{"to": Refusing.refused, "reason": "refused in a test", "plugin": "refusing"}]
    assert platform.redis.xlen(scope.outbox) == 1

    closed = scope.key_for("closed")
    platform.redis.set(closed, "1")
    guarded = Effects(writes=[Write("HINCRBY", tally, ("n", 1))], guards=[Guard.unset("closed", closed, Effects())])
    assert platform.apply(scope, guarded, "t:2", "test").guard == "closed"
    assert platform.redis.hget(tally, "n") == b"1"

    elsewhere = Keys.for_service("tv/other").key_for("x")
    with pytest.raises(PluginError, match=r"test wrote outside its service's keys: .*tv/other"):
        platform.apply(scope, Effects(writes=[Write("SET", elsewhere, ("1",))]), "t:3", "test")
    assert not platform.redis.exists(elsewhere)

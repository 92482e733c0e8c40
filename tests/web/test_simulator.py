"""The phone simulator over real HTTP and Redis: threads per phone with later messages, calls, rejected
messages with their Swedish reasons, and JSON endpoints that never answer 500."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kodeord.decide.router import Outcome
from kodeord.inbound.messages import MAX_TEXT
from kodeord.outbound.gateway import ConsoleCaller
from kodeord.outbound.sender import Sender
from kodeord.platform import Platform, demo_rules
from kodeord.web import apikeys
from kodeord.web.app import create_app
from kodeord.web.simulator import MAX_BODY, describe_call, verdict

MEMBER, WRITER, OTHER = "+46701234567", "+46701234568", "+46701234569"
LIST_NUMBER, SHORT_CODE, VOTE_03 = "+46766861004", "72500", "+469912343"
THANKS = "https://media.example.com/demo-tv/tack.mp3"
STUDIO = "+46860010000"

Site = tuple[Platform, str]


@pytest.fixture
def site(make_platform: Callable[..., Platform], serve: Callable[[Any], str]) -> Site:
    """The demo rules served with the simulator on: (platform, base URL)."""
    platform = make_platform(list(demo_rules()), environ={"KODEORD_SECRET_KEY": "test"})
    return platform, serve(create_app(platform, simulator_enabled=True))


def deliver(platform: Platform) -> None:
    """Hand everything queued (replies, broadcasts and their receipts) to the console gateway, as the demo's
    sender does."""
    sender = Sender(platform, gateway=platform.gateways["console"])
    while sender.run_once():
        pass


def text(url: str, sender: str, to: str, body: str) -> dict[str, Any]:
    response = httpx.post(f"{url}/simulator/send", json={"from": sender, "to": to, "text": body})
    assert response.status_code == 200, response.text
    return dict(response.json())


def call(url: str, sender: str, to: str) -> dict[str, Any]:
    response = httpx.post(f"{url}/simulator/call", json={"from": sender, "to": to})
    assert response.status_code == 200, response.text
    return dict(response.json())


def thread(url: str, phone: str) -> list[dict[str, Any]]:
    response = httpx.get(f"{url}/simulator/inbox", params={"phone": phone})
    assert response.status_code == 200, response.text
    return list(response.json()["thread"])


def seen(entries: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    """(direction, text, state or status) of each entry."""
    return [(e["direction"], e["text"], e.get("state") or e["status"]) for e in entries]


def test_each_phone_has_its_own_thread_with_replies_broadcasts_and_receipts_that_arrive_later(site: Site) -> None:
    platform, url = site
    joined = text(url, MEMBER, LIST_NUMBER, "START")
    assert (joined["status"], joined["service"], joined["rejected"], joined["reason"]) == (
        "handled",
        "demo-forening/adressbok",
        False,
        "",
    )
    welcome = "Välkommen till Demoföreningen! Du får nu våra utskick. Svara STOPP för att avsluta."
    # The reply is in the thread at once, queued, and the same entry once the gateway delivered it.
    assert seen(thread(url, MEMBER)) == [("sent", "START", "handled"), ("received", welcome, "queued")]
    deliver(platform)
    before = thread(url, MEMBER)
    assert seen(before) == [("sent", "START", "handled"), ("received", welcome, "delivered")]
    assert before[1]["id"] == joined["replies"][0]["id"] and before[1]["peer"] == LIST_NUMBER

    # A writer texts the list: the member gets the broadcast later, the writer a receipt when it is out.
    key = apikeys.create(platform.redis, "demo-forening", "simulator")
    made = httpx.post(
        f"{url}/api/addressbook/lists/adressbok/writers",
        json={"address": WRITER},
        headers={"Authorization": f"Bearer {key}"},
    )
    assert made.status_code == 201, made.text
    sent = text(url, WRITER, LIST_NUMBER, "Årsmöte på torsdag kl 19")
    assert sent["fanouts"] and sent["summary"] == "Taget av demo-forening/adressbok, regel list."
    assert seen(thread(url, WRITER)) == [("sent", "Årsmöte på torsdag kl 19", "handled")]
    deliver(platform)

    member = thread(url, MEMBER)
    assert len(member) == 3 and member[:2] == before
    assert member[2]["direction"] == "received" and member[2]["kind"] == "broadcast"
    assert member[2]["text"].startswith("Årsmöte på torsdag kl 19") and member[2]["state"] == "delivered"
    writer = thread(url, WRITER)
    assert seen(writer) == [
        ("sent", "Årsmöte på torsdag kl 19", "handled"),
        ("received", "Ditt utskick skickas till 1 mottagare i Demoföreningen.", "delivered"),
    ]
    for entries in (member, writer):
        assert [e["at"] for e in entries] == sorted(e["at"] for e in entries)
        assert len({e["id"] for e in entries}) == len(entries)
    assert thread(url, OTHER) == []
    # The old shape stays: what was delivered, newest first.
    inbox = httpx.get(f"{url}/simulator/inbox", params={"phone": "070-123 45 67"}).json()
    assert inbox["phone"] == MEMBER and [m["kind"] for m in inbox["messages"]] == ["broadcast", "reply"]


def test_a_call_to_a_voice_number_is_answered_as_the_voice_gateway_would_be(site: Site) -> None:
    _, url = site
    answer = call(url, MEMBER, VOTE_03)
    assert (answer["status"], answer["service"], answer["rule"], answer["rejected"]) == (
        "handled",
        "demo-tv/mello",
        "vote",
        False,
    )
    assert answer["replies"] == []  # the recording thanks the caller: no SMS
    if "connect" in answer["call"]:  # the poll's share of calls goes to the studio
        assert answer["call"] == {"connect": STUDIO, "busy": {"play": THANKS}, "failed": {"play": THANKS}}
        assert answer["answer"].startswith(f"Kopplad till studion {STUDIO}")
    else:
        assert answer["call"] == {"play": THANKS}
        assert answer["answer"] == f"Inspelningen spelades upp: {THANKS}"
    [entry] = thread(url, MEMBER)
    assert (entry["direction"], entry["channel"], entry["peer"], entry["answer"]) == (
        "sent",
        "call",
        VOTE_03,
        answer["answer"],
    )
    # A call nobody's rules take is hung up on, busy, as the 46elks webhook answers it.
    nobody = call(url, MEMBER, "+46812345678")
    assert nobody["call"] == {"hangup": "busy"} and nobody["answer"] == "Samtalet lades på (upptaget)"
    assert nobody["rejected"] and nobody["reason"] == "Okänt nummer: +46812345678 finns inte i regelfilerna."


def test_a_hot_button_call_arrives_later_in_the_picked_callers_thread(site: Site) -> None:
    platform, url = site
    platform.gateways["console"] = ConsoleCaller(platform.redis)  # the demo's gateway, placing calls too
    call(url, MEMBER, VOTE_03)
    key = apikeys.create(platform.redis, "demo-tv", "simulator")
    pressed = httpx.post(
        f"{url}/api/voting/polls/mello/hot-button", json={"seconds": 60}, headers={"Authorization": f"Bearer {key}"}
    )
    assert pressed.status_code == 200, pressed.text
    assert (pressed.json()["picked"], pressed.json()["call_id"][:5]) == (MEMBER, "call-")
    sent, rung = thread(url, MEMBER)
    assert (sent["direction"], sent["channel"], sent["peer"]) == ("sent", "call", VOTE_03)
    assert (rung["id"], rung["direction"], rung["channel"], rung["peer"], rung["answer"]) == (
        pressed.json()["call_id"],
        "received",
        "call",
        "+469912341",  # the poll's first voice number calls
        f"Kopplad till studion {STUDIO}",
    )


def test_votes_over_the_cap_are_rejected_with_the_reason_in_swedish(site: Site) -> None:
    _, url = site
    for _ in range(4):
        assert text(url, MEMBER, SHORT_CODE, "MELLO 03")["rejected"] is False
    assert call(url, MEMBER, VOTE_03)["rejected"] is False  # the fifth vote, by phone
    capped = call(url, MEMBER, VOTE_03)
    reason = "Numret har redan röstat så många gånger som är tillåtet."
    assert (capped["guard"], capped["rejected"], capped["reason"]) == ("capped", True, reason)
    assert capped["call"] == {"play": THANKS}  # the recording all the same
    by_sms = text(url, MEMBER, SHORT_CODE, "MELLO 03")
    assert (by_sms["rejected"], by_sms["reason"], by_sms["summary"]) == (True, reason, "Avvisat: " + reason)
    assert [r.get("price") for r in by_sms["replies"]] == [None]  # the refusal is free
    last = thread(url, MEMBER)[-2]  # the refusal itself follows, queued
    assert (last["text"], last["rejected"], last["reason"]) == ("MELLO 03", True, reason)


@pytest.mark.parametrize(
    ("to", "body", "status", "reason"),
    [
        (SHORT_CODE, "HEJSAN 3", "unknown-keyword", "Okänt kodord: inget kodord på 72500 passar meddelandet."),
        ("+46812345678", "MELLO 03", "unknown-number", "Okänt nummer: +46812345678 finns inte i regelfilerna."),
    ],
)
def test_messages_nobody_takes_are_rejected_with_the_reason_in_swedish(
    site: Site, to: str, body: str, status: str, reason: str
) -> None:
    _, url = site
    answer = text(url, MEMBER, to, body)
    assert (answer["status"], answer["rejected"], answer["reason"]) == (status, True, reason)
    [entry, *_] = thread(url, MEMBER)
    assert (entry["text"], entry["rejected"], entry["reason"], entry["summary"]) == (
        body,
        True,
        reason,
        "Avvisat: " + reason,
    )


@pytest.mark.parametrize(
    ("outcome", "rejected", "words"),
    [
        (Outcome("fallback", "demo-tv/mello"), True, "Ingen regel i tjänsten demo-tv/mello tog emot meddelandet"),
        (Outcome("error", errors=["template failed"]), True, "Ett fel uppstod"),
        (Outcome("handled", "demo-tv/mello", "vote", guard="closed"), True, "Röstningen är stängd."),
        (Outcome("handled", "demo-tv/tavling", "answer", guard="already"), True, "Numret har redan deltagit."),
        (Outcome("handled", "x/y", "r", guard="something-new"), True, "Villkoret something-new stoppade"),
        (Outcome("reserved"), False, "Reserverat ord"),
        (Outcome("handled", "demo-tv/mello", "vote", duplicate=True), False, "Redan mottaget (dubblett)"),
    ],
)
def test_every_outcome_is_told_in_swedish(outcome: Outcome, rejected: bool, words: str) -> None:
    judged = verdict(outcome, "72500")
    assert judged["rejected"] is rejected and words in (judged["reason"] if rejected else judged["summary"])
    assert judged["details"] == outcome.errors


def test_a_reply_held_back_by_a_veto_says_why_in_swedish() -> None:
    outcome = Outcome(
        "handled", "demo-tv/mello", "vote", vetoed=[{"to": MEMBER, "reason": "recipient sent STOP to this number"}]
    )
    assert verdict(outcome, SHORT_CODE)["stopped"] == [
        f"Svaret till {MEMBER} stoppades: mottagaren har skickat STOPP till numret"
    ]


def test_call_answers_are_told_in_swedish() -> None:
    assert describe_call({"hangup": "reject"}) == "Samtalet lades på"
    assert describe_call({"connect": STUDIO, "busy": {"play": THANKS}}) == (
        f"Kopplad till studion {STUDIO} (om studion inte svarar: Inspelningen spelades upp: {THANKS})"
    )


def test_the_page_offers_phones_numbers_and_call_buttons(site: Site) -> None:
    _, url = site
    text(url, "+4798765432", SHORT_CODE, "HJÄLP")  # a Norwegian phone that texted is offered too
    page = httpx.get(f"{url}/simulator", params={"phone": "0701234569"})
    assert page.status_code == 200 and '<html lang="sv">' in page.text
    assert f'data-phone="{OTHER}" aria-current="page"' in page.text
    assert 'data-phone="+4798765432"' in page.text and f'data-phone="{MEMBER}"' in page.text
    assert f'data-number="{VOTE_03}"' in page.text and f"Ring {VOTE_03}" in page.text
    assert f'<option value="{LIST_NUMBER}">{LIST_NUMBER} (eget nummer)</option>' in page.text
    assert '<option value="72500">72500 (delat kortnummer)</option>' in page.text
    assert '<option value="+469912343">' not in page.text  # voice numbers are called, not texted
    wrong = httpx.get(f"{url}/simulator", params={"phone": "<b>hej</b>"})
    assert wrong.status_code == 400 and "&lt;b&gt;hej&lt;/b&gt; är inte ett telefonnummer" in wrong.text


@pytest.mark.parametrize(
    ("path", "body", "error"),
    [
        ("send", {"from": "hello", "to": SHORT_CODE, "text": "x"}, "invalid phone number 'hello'"),
        ("send", {"from": MEMBER, "to": SHORT_CODE, "text": ["MELLO"]}, "give from, to and text as strings"),
        ("send", [MEMBER, SHORT_CODE, "MELLO"], "give from, to and text as strings"),
        ("call", {"from": MEMBER}, "give from and to as strings"),
        ("call", {"from": MEMBER, "to": 99}, "give from and to as strings"),
        ("call", {"from": MEMBER, "to": "not a number"}, "invalid phone number 'not a number'"),
    ],
)
def test_bad_bodies_get_400_saying_what_is_wrong(site: Site, path: str, body: Any, error: str) -> None:
    _, url = site
    response = httpx.post(f"{url}/simulator/{path}", json=body)
    assert response.status_code == 400 and error in response.json()["error"]


def test_bodies_too_long_or_too_deep_are_refused(site: Site) -> None:
    platform, url = site
    long = json.dumps({"from": MEMBER, "to": SHORT_CODE, "text": "x" * MAX_BODY})
    response = httpx.post(f"{url}/simulator/send", content=long.encode())
    assert response.status_code == 413 and "longer than" in response.json()["error"]
    deep = b"[" * 100_000 + b"]" * 100_000
    assert len(deep) < MAX_BODY and MAX_TEXT * 12 < MAX_BODY
    assert httpx.post(f"{url}/simulator/call", content=deep).json() == {"error": "body must be JSON"}
    assert httpx.get(f"{url}/simulator/inbox", params={"phone": "x"}).status_code == 400
    assert platform.redis.keys("kodeord:simulator:*") == []  # nothing refused was kept


def test_the_simulator_is_absent_unless_enabled(
    make_platform: Callable[..., Platform], serve: Callable[[Any], str]
) -> None:
    url = serve(create_app(make_platform(list(demo_rules()))))
    assert httpx.get(f"{url}/simulator").status_code == 404
    assert httpx.get(f"{url}/simulator/inbox", params={"phone": MEMBER}).status_code == 404
    for path in ("send", "call"):
        assert (
            httpx.post(f"{url}/simulator/{path}", json={"from": MEMBER, "to": VOTE_03, "text": "x"}).status_code == 404
        )


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4),
    max_leaves=12,
)
FIELD = st.one_of(
    st.sampled_from([MEMBER, "0701234568", SHORT_CODE, VOTE_03, LIST_NUMBER, "", "MELLO 03", "\ud800", "+4"]),
    st.text(max_size=40),
    JSON,
)


def test_any_json_body_never_causes_a_server_error(site: Site) -> None:
    _, url = site
    client = httpx.Client(base_url=url)

    @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(
        st.sampled_from(["send", "call"]),
        st.one_of(JSON, st.fixed_dictionaries({}, optional={"from": FIELD, "to": FIELD, "text": FIELD})),
    )
    def post(path: str, body: Any) -> None:
        response = client.post(f"/simulator/{path}", content=json.dumps(body).encode())
        assert response.status_code in (200, 400), response.text
        if response.status_code == 200:
            assert isinstance(response.json()["reason"], str)

    try:
        post()
    finally:
        client.close()

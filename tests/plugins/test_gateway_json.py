"""The json gateway over real HTTP and a real Redis, with a fake provider on the other side."""

from __future__ import annotations

import json
import logging
import textwrap
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
import uvicorn
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from kodeord.commit import records
from kodeord.commit.keys import Keys
from kodeord.inbound import signing
from kodeord.inbound.messages import Outbound
from kodeord.outbound import status
from kodeord.outbound.gateway import GatewayContext, Outgoing, Sent
from kodeord.outbound.sender import Sender
from kodeord.platform import Platform
from kodeord.plugins import jsonhook
from kodeord.web.app import create_app

from ..conftest import TV_RULES, free_port

SECRET = "k3y"
VOTER = "+46701234567"
SCOPE = Keys.for_service("tv/mello")


def provider_code() -> dict[str, Any]:
    """The signing snippet of the module docstring, run as a provider would copy it."""
    doc = jsonhook.__doc__ or ""
    start = doc.index("Signing and checking, in Python::") + len("Signing and checking, in Python::")
    namespace: dict[str, Any] = {}
    exec(textwrap.dedent(doc[start : doc.index("\nInbound:")]), namespace)
    return namespace


PROVIDER = provider_code()


def vote(message_id: str, sender: str = VOTER, text: str = "MELLO 07") -> dict[str, str]:
    """An inbound message as a provider posts it."""
    return {"id": message_id, "from": sender, "to": "72500", "text": text}


@dataclass
class Received:
    """One POST the fake provider took: the JSON, its headers and what the provider answered."""

    body: dict[str, Any]
    idempotency_key: str | None
    answered: int
    snippet_verified: bool


@dataclass
class FakeProvider:
    """An SMS provider's side of the json gateway: checks signatures, records messages, answers as told.

    ``answers`` maps a recipient to the statuses to answer for it, in order; then (or for anyone else) 200.
    """

    received: list[Received] = field(default_factory=list)
    answers: dict[str, list[int]] = field(default_factory=dict)

    @property
    def app(self) -> Starlette:
        return Starlette(routes=[Route("/sms", self.sms, methods=["POST"])])

    async def sms(self, request: Request) -> Response:
        body = await request.body()
        headers = request.headers
        try:
            signing.verify(SECRET, body, headers.get(signing.TIMESTAMP_HEADER), headers.get(signing.SIGNATURE_HEADER))
        except signing.SignatureError as exc:
            return PlainTextResponse(str(exc), status_code=401)
        data = json.loads(body)
        queued = self.answers.get(data["to"], [])
        code = queued.pop(0) if queued else 200
        verified = bool(PROVIDER["verify"](SECRET, body, headers))
        self.received.append(Received(data, headers.get("idempotency-key"), code, verified))
        if code == 200:
            return JSONResponse({"id": f"prov-{len(self.received)}"})
        return PlainTextResponse({409: "already have it", 422: "number blocked"}.get(code, "overloaded"), code)

    def accepted(self) -> list[Received]:
        """What was answered with 200: the messages the provider really sends."""
        return [r for r in self.received if r.answered == 200]


@dataclass
class Site:
    """A platform with a json gateway ``hook``, its web app, and the provider behind the gateway."""

    platform: Platform
    url: str
    provider: FakeProvider

    @property
    def redis(self) -> redis.Redis:
        return self.platform.redis

    def post(self, path: str, body: Any, headers: Mapping[str, str] | None = None) -> httpx.Response:
        """POST ``body`` (an object as JSON, or raw bytes) to ``/gateways/hook/<path>``, provider-signed unless
        ``headers`` are given."""
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        signed = PROVIDER["sign"](SECRET, raw) if headers is None else dict(headers)
        return httpx.post(f"{self.url}/gateways/hook/{path}", content=raw, headers=signed)

    def send(self) -> int:
        """Run one sender pass over every outbox."""
        return Sender(self.platform).run_once()

    def snapshot(self) -> dict[Any, Any]:
        """Every key and its serialised value."""
        keys: list[bytes] = self.redis.keys("*")  # type: ignore[assignment]
        return {key: self.redis.dump(key) for key in sorted(keys)}


class Switch:
    """An ASGI app that hands each request to the app the current test put in ``app``."""

    def __init__(self) -> None:
        self.app: ASGIApp | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert self.app is not None, "no app for this test"
        await self.app(scope, receive, send)


@dataclass
class Host:
    """A uvicorn server on loopback for the whole module, serving whatever its switch holds."""

    switch: Switch
    url: str


@pytest.fixture(scope="module")
def hosts() -> Iterator[tuple[Host, Host]]:
    """Kodeord's host and the provider's: started once, as a server takes a noticeable time to stop."""
    started: list[tuple[uvicorn.Server, threading.Thread]] = []
    made = []
    for _ in range(2):
        switch, port = Switch(), free_port()
        server = uvicorn.Server(
            uvicorn.Config(switch, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
        )
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        started.append((server, thread))
        made.append(Host(switch, f"http://127.0.0.1:{port}"))
    deadline = time.monotonic() + 10
    while not all(server.started for server, _ in started):
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.01)
    yield made[0], made[1]
    for server, _ in started:
        server.should_exit = True
    for _, thread in started:
        thread.join(10)


@pytest.fixture
def site(make_platform: Callable[..., Platform], hosts: tuple[Host, Host], tmp_path: Path) -> Iterator[Site]:
    kodeord, provider_host = hosts
    provider = FakeProvider()
    provider_host.switch.app = provider.app
    gateways = tmp_path / "gateways.yaml"
    gateways.write_text(
        textwrap.dedent(
            f"""\
            gateways:
              hook:
                type: json
                send_url: {provider_host.url}/sms
                secret: {SECRET}
            routing:
              routes:
                default:
                  - {{gateway: hook, price: 0.30, quality: 0.99}}
            """
        ),
        encoding="utf-8",
    )
    platform = make_platform(TV_RULES, gateways=gateways, public_url=f"{kodeord.url}/", retry_base_seconds=0.05)
    kodeord.switch.app = create_app(platform)
    yield Site(platform, kodeord.url, provider)
    gateway = platform.gateways["hook"]
    assert isinstance(gateway, jsonhook.JsonGateway)
    gateway.close()
    kodeord.switch.app = provider_host.switch.app = None


def ref(message_id: str) -> str:
    """The ref of the first reply to inbound ``message_id``."""
    return f"{SCOPE.scope}|{records.inbound_id('hook', message_id)}:0"


# -- inbound and replies ------------------------------------------------------------------------------------


def test_signed_inbound_is_answered_and_the_reply_reaches_the_provider_signed(site: Site) -> None:
    answer = site.post("json", vote("m1"))
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"status": "handled", "replies": 1, "duplicate": False}
    assert site.send() == 1
    [sent] = site.provider.received
    assert sent.body == {
        "id": ref("m1").split("|")[1],
        "ref": ref("m1"),
        "from": "72500",
        "to": VOTER,
        "text": "Tack för rösten på 07",
        "encoding": "gsm7",
        "segments": 1,
        "callback_url": f"{site.url}/gateways/hook/json/dlr",
    }
    assert sent.idempotency_key == ref("m1").split("|")[1]
    assert sent.snippet_verified  # the docstring's snippet checks what Kodeord signs
    record = status.read(site.redis, ref("m1"), site.platform.retention)
    assert record is not None
    assert (record["status"], record["gateway"], record["gateway_ref"]) == ("sent", "hook", "prov-1")


def test_a_call_needs_no_text(site: Site) -> None:
    answer = site.post("json", {"id": "c1", "from": VOTER, "to": "72500", "channel": "call"})
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "unknown-keyword"


def test_the_same_inbound_id_twice_gives_one_reply(site: Site) -> None:
    first, second = site.post("json", vote("m1")), site.post("json", vote("m1"))
    assert first.json() == {"status": "handled", "replies": 1, "duplicate": False}
    assert second.json() == {"status": "handled", "replies": 1, "duplicate": True}
    while site.send():
        pass
    assert [r.body["id"] for r in site.provider.received] == [ref("m1").split("|")[1]]


def body_signed_at(age_s: float, secret: str = SECRET) -> Callable[[bytes], dict[str, str]]:
    return lambda raw: signing.sign(secret, raw, now=time.time() - age_s)


@pytest.mark.parametrize(
    ("headers", "why"),
    [
        (body_signed_at(0, secret="not-the-key"), "signature does not match the body"),
        (body_signed_at(0, secret="k3y "), "signature does not match the body"),
        (lambda raw: {}, "missing X-Kodeord-Timestamp or X-Kodeord-Signature header"),
        (
            lambda raw: {signing.TIMESTAMP_HEADER: signing.sign(SECRET, raw)[signing.TIMESTAMP_HEADER]},
            "missing X-Kodeord-Timestamp or X-Kodeord-Signature header",
        ),
        (lambda raw: signing.sign(SECRET, raw + b" "), "signature does not match the body"),
        (lambda raw: {**signing.sign(SECRET, raw), signing.TIMESTAMP_HEADER: "yesterday"}, "must be Unix seconds"),
        (body_signed_at(400), "timestamp is more than 300 s away from now"),  # a replay
        (body_signed_at(-400), "timestamp is more than 300 s away from now"),
    ],
    ids=["wrong-key", "key-with-space", "no-headers", "no-signature", "other-body", "bad-timestamp", "stale", "future"],
)
def test_unsigned_inbound_is_refused_logged_and_changes_nothing(
    site: Site, caplog: pytest.LogCaptureFixture, headers: Callable[[bytes], dict[str, str]], why: str
) -> None:
    raw = json.dumps(vote("m1")).encode()
    before = site.snapshot()
    answer = site.post("json", raw, headers(raw))
    assert answer.status_code == 401
    assert why in answer.text
    assert site.snapshot() == before
    assert any(
        r.levelno == logging.WARNING
        and "gateway hook: refused POST /gateways/hook/json" in r.getMessage()
        and why in r.getMessage()
        for r in caplog.records
    )
    assert site.send() == 0 and site.provider.received == []


@pytest.mark.parametrize(
    ("body", "code", "reason"),
    [
        (b"MELLO 07", 400, "body is not UTF-8 JSON"),
        (b"\xff\xfe{}", 400, "body is not UTF-8 JSON"),
        (b"", 400, "body is not UTF-8 JSON"),
        (b"[1, 2]", 400, "body must be a JSON object"),
        (b"[" * 20_000 + b"]" * 20_000, 400, "nested too deeply"),
        ({"from": VOTER, "to": "72500"}, 400, "missing id"),
        ({"id": "m1", "from": VOTER, "to": None, "text": "x"}, 400, "missing to"),
        ({"id": "m1", "from": VOTER, "to": "72500"}, 400, "missing text"),
        ({"id": 5, "from": VOTER, "to": "72500", "text": ["MELLO"]}, 400, "id, text must be text"),
        ({**vote("m1"), "channel": "email"}, 400, "channel must be one of sms, call, not 'email'"),
        ({**vote("m1"), "channel": True}, 400, "channel must be text"),
        (vote("m1", sender="hello"), 400, "invalid phone number 'hello'"),
        (vote("m1", sender=""), 400, "invalid phone number '': empty"),
        ({**vote("m1"), "to": "+1"}, 400, "invalid phone number '+1'"),
        (vote("x" * 201), 400, "missing or over-long message id"),
        (vote("m1", text="x" * 10_001), 400, "text longer than 10000 characters"),
        (b'{"id": "m1", "from": "+46701234567", "to": "72500", "text": "\\ud800"}', 400, "text is not valid Unicode"),
        (b"{" + b" " * 70_000 + b"}", 413, "the body is longer than 65536 bytes"),
    ],
)
def test_malformed_inbound_gets_4xx_with_the_reason(site: Site, body: Any, code: int, reason: str) -> None:
    before = site.snapshot()
    answer = site.post("json", body)
    assert answer.status_code == code
    assert reason in answer.text
    assert site.snapshot() == before


def test_inbound_takes_post_only(site: Site) -> None:
    answer = httpx.get(f"{site.url}/gateways/hook/json")
    assert (answer.status_code, answer.headers["allow"]) == (405, "POST")
    assert httpx.get(f"{site.url}/gateways/hook/json/dlr").status_code == 405
    assert httpx.post(f"{site.url}/gateways/hook/nothing").status_code == 404


def test_inbound_answers_are_never_server_errors(site: Site) -> None:
    scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30)
    values = st.recursive(
        scalars,
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
        max_leaves=10,
    )
    messages = st.dictionaries(
        st.sampled_from(["id", "from", "to", "text", "channel"]),
        values | st.sampled_from([VOTER, "72500", "0701234567", "MELLO 03", "sms", "call", "", "+"]),
        max_size=5,
    )
    bodies = st.one_of(messages, values, st.binary(max_size=64))

    @settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(bodies, st.sampled_from(["json", "json/dlr"]))
    def post(body: Any, path: str) -> None:
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        answer = site.post(path, raw)
        assert answer.status_code < 500, answer.text

    post()


# -- outbound -----------------------------------------------------------------------------------------------


def test_a_4xx_from_the_provider_fails_the_message_with_the_reason(site: Site) -> None:
    site.provider.answers[VOTER] = [422]
    site.post("json", vote("m1"))
    assert site.send() == 1
    record = status.read(site.redis, ref("m1"), site.platform.retention)
    assert record is not None
    assert (record["status"], record["reason"], record["gateway"]) == (
        "failed",
        "json gateway 422: number blocked",
        "hook",
    )
    assert site.send() == 0 and len(site.provider.received) == 1


def test_a_batch_goes_out_in_parallel_each_message_with_its_own_fate(site: Site) -> None:
    voters = [f"+4670123456{n}" for n in range(1, 7)]
    site.provider.answers[voters[0]] = [422]
    site.provider.answers[voters[1]] = [503]
    for n, voter in enumerate(voters):
        site.post("json", vote(f"m{n}", sender=voter))
    assert site.send() == len(voters)  # one batch, through the gateway's pool of connections
    assert sorted(r.body["to"] for r in site.provider.received) == voters
    fates = [status.read(site.redis, ref(f"m{n}"), site.platform.retention) for n in range(len(voters))]
    assert [f["status"] if f else None for f in fates] == ["failed", "queued"] + ["sent"] * (len(voters) - 2)
    assert len({f["gateway_ref"] for f in fates[2:] if f}) == len(voters) - 2


def test_a_5xx_is_retried_with_the_same_id_until_sent_exactly_once(site: Site) -> None:
    site.provider.answers[VOTER] = [503, 502]
    site.post("json", vote("m1"))
    deadline = time.monotonic() + 5
    while (record := status.read(site.redis, ref("m1"), site.platform.retention)) and record["status"] != "sent":
        assert time.monotonic() < deadline, record
        site.send()
        time.sleep(0.02)
    assert [r.answered for r in site.provider.received] == [503, 502, 200]
    assert {(r.body["id"], r.idempotency_key) for r in site.provider.received} == {(ref("m1").split("|")[1],) * 2}
    time.sleep(0.3)  # longer than any retry delay: nothing else is waiting
    assert site.send() == 0
    assert len(site.provider.accepted()) == 1 and len(site.provider.received) == 3


def test_a_409_means_already_accepted(site: Site) -> None:
    site.provider.answers[VOTER] = [409]
    site.post("json", vote("m1"))
    site.send()
    record = status.read(site.redis, ref("m1"), site.platform.retention)
    assert record is not None and record["status"] == "sent"
    assert site.send() == 0 and len(site.provider.received) == 1


def test_an_unreachable_provider_is_a_retry() -> None:
    context = GatewayContext("http://127.0.0.1:1", "unused")
    options = {"send_url": f"http://127.0.0.1:{free_port()}/sms", "secret": SECRET, "timeout": 2, "connections": 1}
    gateway = jsonhook.JsonGateway("hook", options, context)
    reports: list[Sent] = []
    gateway.send([Outgoing("s:tv/mello", "x:1:0", Outbound(to=VOTER, sender="72500", text="hej"))], reports.append)
    [sent] = reports
    assert (sent.id, sent.result) == ("x:1:0", "retry")
    assert sent.reason.startswith("json gateway unreachable:")


def test_a_replayed_batch_is_not_sent_again(site: Site) -> None:
    site.post("json", vote("m1"))
    entries: list[tuple[bytes, dict[Any, Any]]] = site.redis.xrange(SCOPE.outbox)  # type: ignore[assignment]
    [(_, entry)] = entries
    assert site.send() == 1
    site.redis.xadd(SCOPE.outbox, entry)  # as if a sender died before acknowledging the batch
    assert Sender(site.platform).run_once() == 1
    assert len(site.provider.received) == 1
    record = status.read(site.redis, ref("m1"), site.platform.retention)
    assert record is not None and record["status"] == "sent"


def test_price_and_callback_only_when_charging_and_reporting() -> None:
    context = GatewayContext("https://kodeord.example.com", "unused")
    options = {"send_url": "https://sms.example.com/", "secret": SECRET, "timeout": 2, "connections": 1}
    premium = Outgoing("s:tv/mello", "x:1:0", Outbound(to=VOTER, sender="72500", text="Tack", price="5.00"))
    plain = jsonhook.JsonGateway("hook", {**options, "dlr": False}, context).payload(premium)
    assert "price" not in plain and "callback_url" not in plain
    charging = jsonhook.JsonGateway("hook", {**options, "dlr": True, "charging": True}, context).payload(premium)
    assert charging["price"] == "5.00"
    assert charging["callback_url"] == "https://kodeord.example.com/gateways/hook/json/dlr"


def test_idempotency_key_is_the_id_made_header_safe() -> None:
    assert jsonhook.idempotency_key("hook:m1:0") == "hook:m1:0"
    assert jsonhook.idempotency_key("kannel:a b\r\nå%:0") == "kannel:a%20b%0D%0A%C3%A5%25:0"


# -- delivery reports ---------------------------------------------------------------------------------------


@pytest.fixture
def sent(site: Site) -> str:
    """The ref of a reply the provider accepted."""
    site.post("json", vote("m1"))
    site.send()
    return ref("m1")


def test_a_signed_report_marks_the_message_delivered(site: Site, sent: str) -> None:
    answer = site.post("json/dlr", {"ref": sent, "status": "delivered"})
    assert answer.status_code == 200, answer.text
    record = status.read(site.redis, sent, site.platform.retention)
    assert record is not None and (record["status"], record["report"]) == ("delivered", "json dlr delivered")


def test_a_failure_report_keeps_its_reason(site: Site, sent: str) -> None:
    assert site.post("json/dlr", {"ref": sent, "status": "failed", "reason": "absent subscriber"}).status_code == 200
    record = status.read(site.redis, sent, site.platform.retention)
    assert record is not None and (record["status"], record["report"]) == ("failed", "absent subscriber")


def test_a_report_with_a_bad_signature_is_refused(site: Site, sent: str, caplog: pytest.LogCaptureFixture) -> None:
    raw = json.dumps({"ref": sent, "status": "delivered"}).encode()
    before = site.snapshot()
    answer = site.post("json/dlr", raw, signing.sign("not-the-key", raw))
    assert answer.status_code == 401
    assert site.snapshot() == before
    assert any("refused POST /gateways/hook/json/dlr" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize(
    ("body", "code", "reason"),
    [
        ({"ref": f"{SCOPE.scope}|nope", "status": "delivered"}, 404, "no message"),
        ({"ref": "nope", "status": "delivered"}, 400, "malformed message reference 'nope'"),
        ({"ref": ref("m1"), "status": "read"}, 400, "status must be delivered or failed, not 'read'"),
        ({"ref": ref("m1"), "status": "sent"}, 400, "status must be delivered or failed, not 'sent'"),
        ({"ref": ref("m1")}, 400, "missing status"),
        ({"ref": ref("m1"), "status": "delivered", "reason": 5}, 400, "reason must be text"),
        (b"delivered", 400, "body is not UTF-8 JSON"),
    ],
)
def test_bad_reports_are_refused_with_the_reason(site: Site, sent: str, body: Any, code: int, reason: str) -> None:
    answer = site.post("json/dlr", body)
    assert (answer.status_code, reason in answer.text) == (code, True), answer.text
    record = status.read(site.redis, sent, site.platform.retention)
    assert record is not None and record["status"] == "sent"


def test_a_report_on_another_gateways_message_is_refused(site: Site) -> None:
    other = f"{SCOPE.scope}|kannel:x:0"
    new = status.NewRecord(Outbound(to="+46701234567", sender="72500", text="Hej"), int(time.time() * 1000))
    status.update(
        site.redis,
        site.platform.retention,
        SCOPE,
        {"kannel:x:0": {"status": "sent", "gateway": "kannel"}},
        {"kannel:x:0": new},
    )
    answer = site.post("json/dlr", {"ref": other, "status": "delivered"})
    assert answer.status_code == 404 and "sent through gateway hook" in answer.text
    record = status.read(site.redis, other, site.platform.retention)
    assert record is not None and record["status"] == "sent"

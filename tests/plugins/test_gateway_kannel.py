"""The Kannel gateway over real HTTP: inbound get-url and post-url in every charset, authentication,
sendsms with delivery reports, retries, permanent failures, routing and cost, invalid numbers, premium
revenue and an alert, against a fake Kannel sendsms on loopback and a real Redis."""

from __future__ import annotations

import logging
import textwrap
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote_from_bytes, urlsplit
from zoneinfo import ZoneInfo

import httpx
import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from kodeord.commit import records
from kodeord.outbound import status
from kodeord.outbound.jobs import Dispatcher
from kodeord.outbound.sender import Sender
from kodeord.platform import Platform
from kodeord.testing.fakekannel import FakeKannel, running
from kodeord.web.app import create_app

from ..conftest import TV_RULES, free_port

RULES = TV_RULES + (
    "  - id: gift\n"
    '    number: "72500"\n'
    "    keyword: GIVA\n"
    "    rules:\n"
    "      - name: give\n"
    '        reply: "Tack för gåvan!"\n'
    '        price: "9.90"\n'
)


def gateways_yaml(sendsms: str, extra: str = "") -> str:
    return (
        textwrap.dedent(
            f"""\
        gateways:
          k1:
            type: kannel
            sendsms_url: {sendsms}
            username: kodeord
            password: pw
            inbound_user: kannel
            inbound_password: in-pw
            inbound_secret: s3cret
            charging: true
          k2:
            type: kannel
            sendsms_url: {sendsms}
            username: cheap
            password: pw
            smsc: cheap-smsc
        routing:
          min_quality: 0.9
          operators:
            "+4670": telia
            "+4673": tele2
          routes:
            telia:
              - {{gateway: k1, price: 0.05, quality: 0.99}}
              - {{gateway: k2, price: 0.02, quality: 0.5}}
            tele2:
              - {{gateway: k1, price: 0.09, quality: 0.95}}
              - {{gateway: k2, price: 0.03, quality: 0.97}}
            default:
              - {{gateway: k1, price: 0.10, quality: 0.99}}
        """
        )
        + extra
    )


@dataclass
class Rig:
    platform: Platform
    url: str
    kannel: FakeKannel
    redis: redis.Redis

    def inbound(self, params: dict[str, str], auth: tuple[str, str] | None = ("kannel", "in-pw")) -> httpx.Response:
        return httpx.get(f"{self.url}/gateways/k1/kannel", params=params, auth=auth)

    def send(self) -> int:
        return Sender(self.platform).run_once()

    def sent_to(self, number: str) -> list[dict[str, str]]:
        return [m for m in self.kannel.accepted if m["to"] == number]


@pytest.fixture
def rig(
    make_platform: Callable[..., Platform], serve: Callable[..., str], tmp_path: Path, kodeord_redis: redis.Redis
) -> Iterator[Callable[..., Rig]]:
    def build(extra: str = "", sendsms: str | None = None, **overrides: Any) -> Rig:
        kannel = stack.enter()
        path = tmp_path / "gateways.yaml"
        path.write_text(gateways_yaml(sendsms or kannel.url, extra), encoding="utf-8")
        port = free_port()
        overrides.setdefault("retry_base_seconds", 0.05)
        platform = make_platform(RULES, gateways=path, public_url=f"http://127.0.0.1:{port}", **overrides)
        url = serve(create_app(platform), port)
        return Rig(platform, url, kannel, kodeord_redis)

    class Stack:
        def __init__(self) -> None:
            self.contexts: list[Any] = []

        def enter(self) -> FakeKannel:
            context = running()
            self.contexts.append(context)
            return context.__enter__()

    stack = Stack()
    yield build
    for context in stack.contexts:
        context.__exit__(None, None, None)


def vote(sender: str = "+46701234567", text: str = "MELLO 03", message_id: str = "k-1") -> dict[str, str]:
    return {"from": sender, "to": "72500", "text": text, "id": message_id, "smsc": "telia"}


# -- inbound -------------------------------------------------------------------------------------------------


def test_inbound_with_basic_auth_is_routed_and_the_reply_goes_out_through_sendsms(rig: Callable[..., Rig]) -> None:
    r = rig()
    answer = r.inbound(vote())
    assert (answer.status_code, answer.text, answer.headers["x-kodeord-status"]) == (200, "", "handled")
    assert r.send() == 1
    [sms] = r.sent_to("+46701234567")
    assert (sms["from"], sms["text"], sms["username"], sms["password"]) == (
        "72500",
        "Tack för rösten på 03",
        "kodeord",
        "pw",
    )
    assert (sms["charset"], sms["coding"], sms["dlr-mask"]) == ("UTF-8", "0", "19")
    assert "smsc" not in sms  # k1 forces none


def test_inbound_with_the_secret_parameter(rig: Callable[..., Rig]) -> None:
    r = rig()
    assert r.inbound({**vote(), "secret": "s3cret"}, auth=None).status_code == 200


@pytest.mark.parametrize(
    ("params", "auth"),
    [
        ({}, None),
        ({"secret": "wrong"}, None),
        ({}, ("kannel", "wrong")),
        ({}, ("someone", "in-pw")),
    ],
)
def test_inbound_without_valid_credentials_is_refused_logged_and_changes_nothing(
    rig: Callable[..., Rig], params: dict[str, str], auth: tuple[str, str] | None, caplog: pytest.LogCaptureFixture
) -> None:
    r = rig()
    before = sorted(r.redis.keys("*"))
    with caplog.at_level(logging.WARNING, logger="kodeord.inbound.webhooks"):
        answer = r.inbound({**vote(), **params}, auth=auth)
    assert answer.status_code == 401
    assert "unauthorized" in answer.text and "Basic" in answer.headers["www-authenticate"]
    assert sorted(r.redis.keys("*")) == before
    assert any("gateway k1: refused GET /gateways/k1/kannel" in m for m in caplog.messages)


def test_a_gateway_without_inbound_credentials_accepts_nobody(rig: Callable[..., Rig]) -> None:
    r = rig()
    answer = httpx.get(f"{r.url}/gateways/k2/kannel", params=vote())
    assert answer.status_code == 401


@pytest.mark.parametrize(
    ("params", "reason"),
    [
        ({"from": ""}, "missing from"),
        ({"id": ""}, "missing id"),
        ({"from": "not a number"}, "phone number"),
        ({"to": "++"}, "number"),
    ],
)
def test_malformed_inbound_gets_400_with_the_reason(
    rig: Callable[..., Rig], params: dict[str, str], reason: str
) -> None:
    r = rig()
    answer = r.inbound({**vote(), **params})
    assert answer.status_code == 400
    assert reason in answer.text


def test_post_url_bodies_are_read_only_after_authentication_and_limited(rig: Callable[..., Rig]) -> None:
    r = rig()
    params = {"from": "+46701234567", "to": "72500", "id": "big-1"}
    assert httpx.post(f"{r.url}/gateways/k1/kannel", params=params, content=b"x" * 100).status_code == 401
    answer = httpx.post(f"{r.url}/gateways/k1/kannel", params={**params, "secret": "s3cret"}, content=b"x" * 50_000)
    assert (answer.status_code, answer.text.strip()) == (413, "the body is longer than 40000 bytes")


def test_unknown_gateway_or_endpoint_is_404(rig: Callable[..., Rig]) -> None:
    r = rig()
    assert httpx.get(f"{r.url}/gateways/nope/kannel").status_code == 404
    assert httpx.get(f"{r.url}/gateways/k1/other").status_code == 404


def test_the_same_kannel_id_twice_is_routed_once(rig: Callable[..., Rig]) -> None:
    r = rig()
    assert r.inbound(vote()).headers["x-kodeord-status"] == "handled"
    assert r.inbound(vote()).headers["x-kodeord-status"] == "duplicate"
    r.send()
    assert len(r.sent_to("+46701234567")) == 1


def raw_get(url: str, text: bytes, **params: str) -> httpx.Response:
    """A get-url request with the text's bytes percent-encoded as Kannel sends them."""
    query = "&".join(f"{k}={v}" for k, v in params.items()) + "&text=" + quote_from_bytes(text)
    return httpx.get(f"{url}/gateways/k1/kannel?{query}", auth=("kannel", "in-pw"))


TEXT = "MELLO Gött! Blåbær ÆØÅ æøå"


@pytest.mark.parametrize(
    ("raw", "params"),
    [
        (TEXT.encode("utf-8"), {"charset": "UTF-8", "coding": "0"}),
        (TEXT.encode("utf-8"), {}),  # no charset given: UTF-8 when it decodes
        (TEXT.encode("cp1252"), {"charset": "WINDOWS-1252", "coding": "0"}),
        (TEXT.encode("latin-1"), {"charset": "ISO-8859-1"}),
        (TEXT.encode("cp1252"), {}),  # undecodable as UTF-8: Kannel's default 8-bit charset
        (TEXT.encode("utf-16-be"), {"charset": "UTF-16BE", "coding": "2"}),
        (TEXT.encode("utf-16-be"), {"charset": "UCS-2", "coding": "2"}),
        (TEXT.encode("utf-16-be"), {"coding": "2"}),
    ],
)
def test_inbound_text_in_every_charset_kannel_sends(
    rig: Callable[..., Rig], raw: bytes, params: dict[str, str]
) -> None:
    r = rig()
    answer = raw_get(r.url, raw, **{"from": "+46701234567", "to": "72500", "id": "c-1", **params})
    assert answer.status_code == 200, answer.text
    r.send()
    [sms] = r.sent_to("+46701234567")
    assert sms["text"] == "Okänd kod Gött! Blåbær ÆØÅ æøå"


def test_post_url_takes_the_text_from_the_body_in_its_charset(rig: Callable[..., Rig]) -> None:
    r = rig()
    answer = httpx.post(
        f"{r.url}/gateways/k1/kannel",
        params={"from": "+46701234567", "to": "72500", "id": "p-1", "secret": "s3cret"},
        content="MELLO Smörgås 😀".encode("utf-16-be"),
        headers={"content-type": "text/plain; charset=UTF-16BE"},
    )
    assert answer.status_code == 200, answer.text
    r.send()
    [sms] = r.sent_to("+46701234567")
    assert sms["text"] == "Okänd kod Smörgås 😀"
    assert sms["coding"] == "2"  # the emoji needs UCS-2


SWEDISH_NORWEGIAN = st.text(
    alphabet=st.sampled_from("abcxyzåäöæøéüÅÄÖÆØ0123456789 !?.,-😀🎉€"), min_size=1, max_size=40
).filter(lambda t: t.strip() == t and "  " not in t)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(words=SWEDISH_NORWEGIAN, encoding=st.sampled_from(["utf-8", "utf-16-be"]))
def test_any_swedish_norwegian_or_emoji_text_arrives_intact(rig: Callable[..., Rig], words: str, encoding: str) -> None:
    r = rig()
    params = {"from": "+46701234567", "to": "72500", "id": f"h-{time.time_ns()}"}
    params["coding"] = "2" if encoding == "utf-16-be" else "0"
    answer = raw_get(r.url, f"MELLO x{words}".encode(encoding), **params)  # x: never a vote code
    assert answer.status_code == 200, answer.text
    r.send()
    assert r.sent_to("+46701234567")[-1]["text"] == f"Okänd kod x{words}"
    r.kannel.accepted.clear()


# -- outbound, delivery reports ------------------------------------------------------------------------------


def ref_of(sms: dict[str, str]) -> tuple[str, str, str]:
    """(ref, sig, path) from a sendsms request's dlr-url."""
    url = urlsplit(sms["dlr-url"])
    query = dict(parse_qsl(url.query))
    return query["ref"], query["sig"], url.path


def test_delivery_reports_update_the_status(rig: Callable[..., Rig]) -> None:
    r = rig()
    r.inbound(vote())
    r.send()
    [sms] = r.sent_to("+46701234567")
    ref, sig, path = ref_of(sms)
    assert path == "/gateways/k1/kannel/dlr" and sms["dlr-url"].endswith("&type=%d")
    record = status.read(r.redis, ref, r.platform.retention)
    assert record is not None
    assert (record["status"], record["gateway"], record["operator"], Decimal(record["cost"])) == (
        "sent",
        "k1",
        "telia",
        Decimal("0.05"),
    )
    dlr = sms["dlr-url"].replace("%d", "{}")
    assert httpx.get(dlr.format(8)).status_code == 200  # accepted by the SMSC: no change
    assert status.read(r.redis, ref, r.platform.retention)["status"] == "sent"  # type: ignore[index]
    assert httpx.get(dlr.format(1)).status_code == 200
    assert status.read(r.redis, ref, r.platform.retention)["status"] == "delivered"  # type: ignore[index]
    assert httpx.get(dlr.format(2)).status_code == 200  # a late failure never undoes "delivered"
    assert status.read(r.redis, ref, r.platform.retention)["status"] == "delivered"  # type: ignore[index]


def test_a_failed_delivery_report(rig: Callable[..., Rig]) -> None:
    r = rig()
    r.inbound(vote())
    r.send()
    [sms] = r.sent_to("+46701234567")
    ref, _, _ = ref_of(sms)
    assert httpx.get(sms["dlr-url"].replace("%d", "16")).status_code == 200
    assert status.read(r.redis, ref, r.platform.retention)["status"] == "failed"  # type: ignore[index]


def test_a_delivery_report_with_a_wrong_signature_or_unknown_message_is_refused(rig: Callable[..., Rig]) -> None:
    r = rig()
    r.inbound(vote())
    r.send()
    [sms] = r.sent_to("+46701234567")
    ref, sig, _ = ref_of(sms)
    base = f"{r.url}/gateways/k1/kannel/dlr"
    assert httpx.get(base, params={"ref": ref, "sig": "0" * 32, "type": "1"}).status_code == 401
    assert httpx.get(base, params={"ref": ref + "x", "sig": sig, "type": "1"}).status_code == 401
    assert httpx.get(base, params={"ref": ref, "sig": sig, "type": "x"}).status_code == 400
    assert status.read(r.redis, ref, r.platform.retention)["status"] == "sent"  # type: ignore[index]
    from kodeord.inbound import signing

    other = "tv|nosuchmessage"
    good = signing.token(r.platform.secret_key(), "k1", other)
    assert httpx.get(base, params={"ref": other, "sig": good, "type": "1"}).status_code == 404


def test_ucs2_replies_ask_kannel_for_coding_2(rig: Callable[..., Rig]) -> None:
    r = rig()
    r.inbound(vote(text="MELLO 😀"))
    r.send()
    [sms] = r.sent_to("+46701234567")
    assert (sms["text"], sms["coding"]) == ("Okänd kod 😀", "2")


def test_temporary_errors_are_retried_with_backoff_then_sent_exactly_once(rig: Callable[..., Rig]) -> None:
    r = rig(send_attempts=5)
    r.kannel.answers["+46701234567"] = (503, "Queue full")
    r.inbound(vote())
    r.send()
    assert r.sent_to("+46701234567") == []
    first = status.read(r.redis, _only_ref(r), r.platform.retention)
    assert first is not None and first["status"] == "queued" and first["attempts"] == "1"
    assert "kannel 503: Queue full" in first["reason"]
    delay1 = int(first["next_at"]) / 1000 - time.time()
    assert 0 < delay1 < 0.2
    time.sleep(0.1)
    r.send()  # second try, still refused; the next delay doubles
    second = status.read(r.redis, _only_ref(r), r.platform.retention)
    assert second is not None and second["attempts"] == "2"
    del r.kannel.answers["+46701234567"]
    deadline = time.monotonic() + 5
    while not r.sent_to("+46701234567") and time.monotonic() < deadline:
        time.sleep(0.05)
        r.send()
    assert len(r.sent_to("+46701234567")) == 1
    assert status.read(r.redis, _only_ref(r), r.platform.retention)["status"] == "sent"  # type: ignore[index]
    for _ in range(3):
        time.sleep(0.1)
        r.send()
    assert len(r.sent_to("+46701234567")) == 1


def _only_ref(r: Rig, message_id: str = "k-1") -> str:
    """The ref of the one outgoing message there is: the first reply to inbound ``message_id``."""
    keys = [k.decode() for k in r.redis.keys("*:r:out:*:*:*")]
    assert len(keys) == 1, keys
    [field] = r.redis.hkeys(keys[0])
    reply = f"{records.inbound_id('k1', message_id)}:0"
    assert field == records.field(reply)
    return f"{keys[0].split('{', 1)[1].split('}', 1)[0]}|{reply}"


def test_retries_run_out_and_the_message_fails_with_the_reason(rig: Callable[..., Rig]) -> None:
    r = rig(send_attempts=2)
    r.kannel.answers["+46701234567"] = (500, "SMSC down")
    r.inbound(vote())
    r.send()
    time.sleep(0.15)
    r.send()
    record = status.read(r.redis, _only_ref(r), r.platform.retention)
    assert record is not None and record["status"] == "failed"
    assert record["reason"] == "gave up after 2 tries: kannel 500: SMSC down"


def test_permanent_errors_are_recorded_with_the_gateway_reason(rig: Callable[..., Rig]) -> None:
    r = rig()
    r.kannel.answers["+46701234567"] = (403, "Authorization failed for sendsms")
    r.inbound(vote())
    r.send()
    record = status.read(r.redis, _only_ref(r), r.platform.retention)
    assert record is not None
    assert (record["status"], record["reason"]) == ("failed", "kannel 403: Authorization failed for sendsms")
    assert r.platform.metrics.value("kodeord_send_failed_total", gateway="k1") == 1


def test_unreachable_kannel_is_a_temporary_error(rig: Callable[..., Rig]) -> None:
    r = rig(sendsms=f"http://127.0.0.1:{free_port()}/cgi-bin/sendsms")
    r.inbound(vote())
    r.send()
    record = status.read(r.redis, _only_ref(r), r.platform.retention)
    assert record is not None and record["status"] == "queued" and "kannel unreachable" in record["reason"]


# -- routing, numbers, premium ---------------------------------------------------------------------------------


def test_the_cheapest_route_of_acceptable_quality_wins_and_its_cost_is_recorded(rig: Callable[..., Rig]) -> None:
    r = rig()
    r.inbound(vote(sender="+46701234567", message_id="a"))  # telia: k2 is cheaper but below min_quality
    r.inbound(vote(sender="+46731234567", message_id="b"))  # tele2: k2 is cheaper and good enough
    r.inbound(vote(sender="+4791234567", message_id="c"))  # Norway: the default operator's route
    r.send()
    [telia] = r.sent_to("+46701234567")
    [tele2] = r.sent_to("+46731234567")
    [norway] = r.sent_to("+4791234567")
    assert (telia["username"], tele2["username"], norway["username"]) == ("kodeord", "cheap", "kodeord")
    assert tele2["smsc"] == "cheap-smsc"
    records = {
        n: status.read(r.redis, ref_of(m)[0], r.platform.retention)
        for n, m in (("telia", telia), ("tele2", tele2), ("no", norway))
    }
    assert {n: (s["gateway"], s["operator"], Decimal(s["cost"])) for n, s in records.items() if s} == {
        "telia": ("k1", "telia", Decimal("0.05")),
        "tele2": ("k2", "tele2", Decimal("0.03")),
        "no": ("k1", "default", Decimal("0.10")),
    }
    day = datetime.now(ZoneInfo("Europe/Stockholm")).date().isoformat()
    assert status.cost(r.redis, "tv/mello") == {day: Decimal("0.18")}


def test_the_portability_table_overrides_the_prefix(rig: Callable[..., Rig], tmp_path: Path) -> None:
    from kodeord.outbound.operators import import_portability

    r = rig()
    csv = tmp_path / "ported.csv"
    csv.write_text("number,operator\n+46701234567,tele2\n", encoding="utf-8")
    assert import_portability(r.redis, csv) == 1
    r.inbound(vote())
    r.send()
    [sms] = r.sent_to("+46701234567")
    assert sms["username"] == "cheap"  # ported to tele2, where k2 qualifies
    assert status.read(r.redis, ref_of(sms)[0], r.platform.retention)["operator"] == "tele2"  # type: ignore[index]


def test_numbers_that_are_not_mobile_numbers_are_never_sent(rig: Callable[..., Rig]) -> None:
    r = rig()
    r.inbound(vote(sender="+4681234567"))  # a Stockholm landline
    r.send()
    assert r.kannel.requests == 0
    record = status.read(r.redis, _only_ref(r), r.platform.retention)
    assert record is not None and record["status"] == "failed"
    assert record["reason"] == "invalid recipient +4681234567: not a mobile number"
    assert r.platform.metrics.value("kodeord_invalid_numbers_total") == 1


def test_premium_replies_pass_the_price_on_and_revenue_is_summed_per_service_and_day(rig: Callable[..., Rig]) -> None:
    r = rig()
    r.inbound(vote(text="GIVA", message_id="g1"))
    r.inbound(vote(text="GIVA", message_id="g2", sender="+46701234568"))
    r.send()
    assert [m["binfo"] for m in r.kannel.accepted] == ["9.90", "9.90"]
    assert [m["username"] for m in r.kannel.accepted] == ["kodeord", "kodeord"]  # k2 cannot charge
    day = datetime.now(ZoneInfo("Europe/Stockholm")).date().isoformat()
    assert status.revenue(r.redis, "tv/gift") == {day: Decimal("19.80")}
    assert status.revenue(r.redis, "tv/mello") == {}


def test_premium_replies_with_no_charging_route_fail_unsent(rig: Callable[..., Rig]) -> None:
    r = rig()
    r.platform.gateways["k1"].charging = False
    r.inbound(vote(text="GIVA"))
    r.send()
    assert r.kannel.requests == 0
    record = status.read(r.redis, _only_ref(r), r.platform.retention)
    assert record is not None and record["reason"] == "no route to this number's operator that can charge"


# -- alerts ----------------------------------------------------------------------------------------------------


def test_a_failing_gateway_raises_one_alert_per_interval(rig: Callable[..., Rig], serve: Callable[..., str]) -> None:
    received: list[bytes] = []

    async def hook(request: Request) -> Response:
        received.append(await request.body())
        return PlainTextResponse("ok")

    hook_url = serve(Starlette(routes=[Route("/alert", hook, methods=["POST"])]))
    r = rig(
        textwrap.dedent(
            f"""\
        alerts:
          webhook: {{url: "{hook_url}/alert", secret: alert-key}}
          failure_rate: 0.5
          min_attempts: 3
          interval: 3600
        """
        )
    )
    for i in range(4):
        number = f"+4670123456{i}"
        r.kannel.answers[number] = (400, "Unknown receiver")
        r.inbound(vote(sender=number, message_id=f"f{i}"))
    r.send()
    dispatcher = Dispatcher(r.platform)
    dispatcher.check_alerts()
    for i in range(4, 8):
        number = f"+4670123456{i}"
        r.kannel.answers[number] = (400, "Unknown receiver")
        r.inbound(vote(sender=number, message_id=f"f{i}"))
    r.send()
    dispatcher.check_alerts()  # still failing, within the interval: no second alert
    assert len(received) == 1
    assert b"k1" in received[0] and b"failure" in received[0]

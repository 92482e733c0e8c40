"""The elks gateway over real HTTP and a real Redis: a fake 46elks API on one side, Kodeord's web app on the
other, and the sender in between."""

from __future__ import annotations

import itertools
import json
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kodeord.commit import records
from kodeord.inbound.messages import MAX_TEXT
from kodeord.outbound import status
from kodeord.outbound.sender import Sender
from kodeord.platform import Platform
from kodeord.support.errors import RuleFileError
from kodeord.testing.fakeelks import FakeElks
from kodeord.web.app import create_app

from ..conftest import TV_RULES, free_port

VOTER = "+46701234567"
SCOPE = "s:tv/mello"  # the scope of the MELLO service's outbox and status records

GATEWAYS = """\
gateways:
  elks1:
{elks1}  elks2:
    type: elks
    api_url: {api}/a1
    api_user: u1
    api_password: p1
    inbound_user: elks
    inbound_password: hemligt
routing:
  routes:
    default:
      - {{gateway: elks1, price: 0.35, quality: 0.99}}
"""


@dataclass
class Site:
    """Kodeord served over HTTP with elks gateways that send to a fake 46elks."""

    platform: Platform
    url: str
    elks: FakeElks
    sender: Sender
    ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def post(self, gateway: str = "elks1", query: str = "?secret=s3cret", **kwargs: Any) -> httpx.Response:
        """A request from 46elks to the ``elks`` endpoint of ``gateway``."""
        return httpx.post(f"{self.url}/gateways/{gateway}/elks{query}", **kwargs)

    def sms(self, text: str, message_id: str | None = None, sender: str = VOTER, **kwargs: Any) -> httpx.Response:
        """An inbound SMS to 72500 as 46elks posts it."""
        form = {
            "id": message_id or f"s{next(self.ids)}",
            "from": sender,
            "to": "72500",
            "message": text,
            "direction": "incoming",
            "created": "2024-05-11T19:02:13.224000",
        }
        return self.post(data=form, **kwargs)

    def send(self) -> int:
        """Run the sender once; how many messages it handled."""
        return self.sender.run_once()

    def report(self, form: dict[str, str], **fields: str) -> httpx.Response:
        """46elks reporting on an accepted message, at the ``whendelivered`` URL it was given."""
        return httpx.post(form["whendelivered"], data={"id": form["id"], **fields})


def ref_of(message_id: str, gateway: str = "elks1") -> str:
    """The ref of the first reply to inbound ``message_id``."""
    return f"{SCOPE}|{records.inbound_id(gateway, message_id)}:0"


@pytest.fixture
def make_site(make_platform: Callable[..., Platform], serve: Callable[..., str], tmp_path: Path) -> Callable[..., Site]:
    """``make_site(rules=TV_RULES, **elks1_options)``: a fake 46elks, then Kodeord served on a reserved port."""

    def build(rules: str = TV_RULES, **options: Any) -> Site:
        elks = FakeElks()
        api = serve(elks.app())
        elks1 = {
            "type": "elks",
            "api_url": f"{api}/a1",
            "api_user": "u1",
            "api_password": "p1",
            "inbound_secret": "s3cret",
            **options,
        }
        lines = "".join(f"    {name}: {json.dumps(value)}\n" for name, value in elks1.items())
        path = tmp_path / "gateways.yaml"
        path.write_text(GATEWAYS.format(api=api, elks1=lines), encoding="utf-8")
        port = free_port()
        platform = make_platform(rules, gateways=path, public_url=f"http://127.0.0.1:{port}", retry_base_seconds=0.05)
        url = serve(create_app(platform), port=port)
        return Site(platform, url, elks, Sender(platform))

    return build


@pytest.fixture
def site(make_site: Callable[..., Site]) -> Site:
    return make_site()


# -- inbound ---------------------------------------------------------------------------------------------------


def test_an_sms_is_answered_through_the_api(site: Site) -> None:
    answer = site.sms("mello 03", "s0b7c0ffee")
    assert (answer.status_code, answer.content) == (200, b"")
    assert answer.headers["x-kodeord-status"] == "handled"
    assert site.send() == 1
    [form] = site.elks.accepted
    assert {k: form[k] for k in ("from", "to", "message")} == {
        "from": "72500",
        "to": VOTER,
        "message": "Tack för rösten på 03",
    }
    hook = urlsplit(form["whendelivered"])
    assert f"{hook.scheme}://{hook.netloc}{hook.path}" == f"{site.url}/gateways/elks1/elks/dlr"
    assert parse_qs(hook.query)["ref"] == [ref_of("s0b7c0ffee")]
    record = status.read(site.platform.redis, ref_of("s0b7c0ffee"), site.platform.retention)
    assert record is not None
    assert (record["status"], record["gateway"], record["gateway_ref"]) == ("sent", "elks1", form["id"])


def test_the_same_sms_twice_is_answered_once(site: Site) -> None:
    assert site.sms("MELLO 05", "s-twice").status_code == 200
    again = site.sms("MELLO 05", "s-twice")
    assert again.status_code == 200
    while site.send():
        pass
    assert site.elks.texts_to(VOTER) == ["Tack för rösten på 05"]


def test_basic_auth_in_the_sms_url(site: Site) -> None:
    assert site.sms("MELLO 02", "s-basic", gateway="elks2", query="", auth=("elks", "hemligt")).status_code == 200
    wrong = site.sms("MELLO 02", "s-wrong", gateway="elks2", query="", auth=("elks", "fel"))
    assert (wrong.status_code, wrong.headers["www-authenticate"]) == (401, 'Basic realm="kodeord elks2"')
    assert site.sms("MELLO 02", "s-secret", gateway="elks2").status_code == 401  # elks2 takes no secret
    site.send()
    assert site.elks.texts_to(VOTER) == ["Tack för rösten på 02"]


def test_wrong_credentials_are_refused_logged_and_change_nothing(
    site: Site, kodeord_redis: redis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    before = sorted(kodeord_redis.keys("*"))
    for query in ["", "?secret=", "?secret=s3cre", "?secret=s3cret2", "?Secret=s3cret", "?secret=S3CRET"]:
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="kodeord.inbound.webhooks"):
            answer = site.sms("MELLO 03", "s-intruder", query=query)
        assert (query, answer.status_code) == (query, 401)
        assert "www-authenticate" not in answer.headers  # elks1 takes a secret, not basic auth
        assert [r.getMessage() for r in caplog.records if r.name == "kodeord.inbound.webhooks"] == [
            "gateway elks1: refused POST /gateways/elks1/elks from 127.0.0.1: wrong or missing credentials"
        ]
    assert sorted(kodeord_redis.keys("*")) == before


MALFORMED = [
    ({"id": "s1", "to": "72500", "message": "MELLO 03"}, "missing from (46elks posts id, from, to and message)"),
    ({"from": VOTER, "to": "72500", "message": "MELLO 03"}, "missing id (46elks posts id, from, to and message)"),
    ({"id": "s1", "from": VOTER, "to": "", "message": "x"}, "missing to (46elks posts id, from, to and message)"),
    ({"id": "s1", "from": VOTER, "to": "72500"}, "missing message (46elks posts id, from, to and message)"),
    ({"id": "s1", "from": "hello", "to": "72500", "message": "x"}, "invalid phone number 'hello': not a phone number"),
    (
        {"id": "s1", "from": VOTER, "to": "+4670123", "message": "x"},
        "invalid phone number '+4670123': not a valid number for its country",
    ),
    ({"id": "x" * 201, "from": VOTER, "to": "72500", "message": "x"}, "missing or over-long message id"),
]


def test_malformed_messages_get_400_with_the_reason(site: Site, kodeord_redis: redis.Redis) -> None:
    before = sorted(kodeord_redis.keys("*"))
    for form, reason in MALFORMED:
        answer = site.post(data=form)
        assert (answer.status_code, answer.text) == (400, reason + "\n")
    assert sorted(kodeord_redis.keys("*")) == before


FORM = "application/x-www-form-urlencoded"
NOT_FORMS = [
    (
        b'{"id": "s1", "from": "+46701234567"}',
        "application/json",
        400,
        f"the body must be {FORM}, not application/json",
    ),
    (b"id=s1&from=%2B46701234567&to=72500&message=R%F6sta", FORM, 400, "the body is not UTF-8"),
    (b"id=s1&message=R\xf6sta", f"{FORM}; charset=utf-8", 400, "the body is not UTF-8"),
    (b"MELLO 03", FORM, 400, "the body is not form data (name=value&...)"),
    (b"id=s1&&from=x", FORM, 400, "the body is not form data (name=value&...)"),
    (b"message=" + b"%F0%9F%A6%8C" * 11_000, FORM, 413, "the body is longer than 128000 bytes"),
]


def test_bodies_that_are_not_utf8_forms_are_refused(site: Site) -> None:
    for body, content_type, code, reason in NOT_FORMS:
        answer = site.post(content=body, headers={"Content-Type": content_type})
        assert (answer.status_code, answer.text) == (code, reason + "\n")
    answer = httpx.get(f"{site.url}/gateways/elks1/elks?secret=s3cret")
    assert (answer.status_code, answer.headers["allow"]) == (405, "POST")
    longest = "MELLO " + "🦌" * (MAX_TEXT - 6)  # 4 UTF-8 bytes a character, each percent-encoded
    assert site.sms(longest).status_code == 200


symbols = st.sampled_from([*"abcdefghijklmnopqrstuvwxyzåäöæøéüÅÄÖÆØÉÜ", "😀", "🎉", "👍🏽", "🇸🇪", "❤️", "🦌", "👨‍👩‍👧"])
words = st.lists(st.lists(symbols, min_size=1, max_size=12).map("".join), min_size=1, max_size=5).map(" ".join)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(words=words)
def test_nordic_letters_and_emoji_reach_the_rules_intact(site: Site, words: str) -> None:
    site.elks.accepted.clear()
    answer = site.sms(f"MELLO {words}")
    assert (answer.status_code, answer.headers["x-kodeord-status"]) == (200, "fallback")
    site.send()
    assert site.elks.texts_to(VOTER) == [f"Okänd kod {words}"]  # the fallback repeats the text after the keyword


# -- outbound --------------------------------------------------------------------------------------------------


def test_a_refusal_fails_the_message_with_the_reason(site: Site) -> None:
    site.elks.refuse[VOTER] = (403, "Not enough credits")
    site.sms("MELLO 03", "s-poor")
    site.send()
    record = status.read(site.platform.redis, ref_of("s-poor"), site.platform.retention)
    assert record is not None
    assert (record["status"], record["reason"], record["attempts"]) == ("failed", "elks 403: Not enough credits", "1")
    assert site.elks.accepted == []


def test_wrong_api_credentials_fail_the_message(make_site: Callable[..., Site]) -> None:
    site = make_site()
    site.elks.password = "p2"
    site.sms("MELLO 03", "s-locked")
    site.send()
    record = status.read(site.platform.redis, ref_of("s-locked"), site.platform.retention)
    assert record is not None
    assert (record["status"], record["reason"]) == ("failed", "elks 401: API access requires Basic HTTP authentication")


def test_a_server_error_is_retried_and_sent_once(site: Site) -> None:
    site.elks.refuse[VOTER] = (503, "Service unavailable")
    site.sms("MELLO 07", "s-busy")
    site.send()
    record = status.read(site.platform.redis, ref_of("s-busy"), site.platform.retention)
    assert record is not None
    assert (record["status"], record["attempts"], record["reason"]) == ("queued", "1", "elks 503: Service unavailable")
    assert int(record["next_at"]) > time.time() * 1000 - 1000
    del site.elks.refuse[VOTER]
    time.sleep(max(0.0, int(record["next_at"]) / 1000 - time.time()) + 0.02)
    assert site.send() == 1
    assert site.send() == 0
    assert site.elks.texts_to(VOTER) == ["Tack för rösten på 07"]
    assert site.elks.requests == 2
    record = status.read(site.platform.redis, ref_of("s-busy"), site.platform.retention)
    assert record is not None and record["status"] == "sent"


def test_an_unreachable_api_is_a_retry(make_site: Callable[..., Site]) -> None:
    site = make_site(api_url=f"http://127.0.0.1:{free_port()}/a1")
    site.sms("MELLO 03", "s-nobody")
    site.send()
    record = status.read(site.platform.redis, ref_of("s-nobody"), site.platform.retention)
    assert record is not None
    assert (record["status"], record["attempts"]) == ("queued", "1")
    assert record["reason"].startswith("elks unreachable: ")


def test_without_dlr_no_report_is_asked_for(make_site: Callable[..., Site]) -> None:
    site = make_site(dlr=False)
    site.sms("MELLO 03")
    site.send()
    [form] = site.elks.accepted
    assert "whendelivered" not in form


PREMIUM_RULES = TV_RULES.replace(
    'reply: "Tack för rösten på {{ args }}"', 'reply: "Tack för rösten på {{ args }}"\n        price: "5.00"'
)


def test_a_charging_gateway_passes_the_price_on(make_site: Callable[..., Site]) -> None:
    site = make_site(PREMIUM_RULES, charging=True)
    site.sms("MELLO 03")
    site.sms("MELLO x")  # the fallback is not charged
    while site.send():
        pass
    assert sorted((f["message"], f.get("price", "")) for f in site.elks.accepted) == [
        ("Okänd kod x", ""),
        ("Tack för rösten på 03", "5.00"),
    ]


def test_a_gateway_that_does_not_charge_sends_no_premium_messages(make_site: Callable[..., Site]) -> None:
    site = make_site(PREMIUM_RULES)
    site.sms("MELLO 03", "s-premium")
    site.send()
    record = status.read(site.platform.redis, ref_of("s-premium"), site.platform.retention)
    assert record is not None
    assert (record["status"], record["reason"]) == ("failed", "no route to this number's operator that can charge")
    assert site.elks.requests == 0


# -- delivery reports ------------------------------------------------------------------------------------------


@pytest.fixture
def accepted(site: Site) -> dict[str, str]:
    """The form 46elks accepted for the reply to inbound ``s-dlr``."""
    site.sms("MELLO 03", "s-dlr")
    site.send()
    [form] = site.elks.accepted
    return form


@pytest.mark.parametrize("state", ["delivered", "failed"])
def test_a_report_settles_the_message(site: Site, accepted: dict[str, str], state: str) -> None:
    answer = site.report(accepted, status=state, delivered="2024-05-11T19:02:15.000000")
    assert (answer.status_code, answer.text) == (200, "ok\n")
    record = status.read(site.platform.redis, ref_of("s-dlr"), site.platform.retention)
    assert record is not None
    assert (record["status"], record["report"]) == (
        state,
        f"elks {state} at 2024-05-11T19:02:15.000000 (elks id {accepted['id']})",
    )


def test_sent_and_unknown_statuses_change_nothing(site: Site, accepted: dict[str, str]) -> None:
    answer = site.report(accepted, status="sent")
    assert (answer.status_code, answer.text) == (200, "ignored status sent\n")
    answer = site.report(accepted, status="lost")
    assert (answer.status_code, answer.text) == (400, "status must be delivered, failed or sent, not 'lost'\n")
    record = status.read(site.platform.redis, ref_of("s-dlr"), site.platform.retention)
    assert record is not None and record["status"] == "sent" and "report" not in record


def test_a_report_without_a_valid_signature_gets_401(
    site: Site, accepted: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    hook = urlsplit(accepted["whendelivered"])
    signed = {k: v[0] for k, v in parse_qs(hook.query).items()}
    for change in [{"sig": "0" * 32}, {"sig": ""}, {"ref": ref_of("s-other")}, {"ref": ""}]:
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="kodeord.inbound.webhooks"):
            answer = httpx.post(
                f"{site.url}{hook.path}", params=signed | change, data={"id": accepted["id"], "status": "failed"}
            )
        assert (change, answer.status_code) == (change, 401)
        assert "delivery report without a valid signature" in caplog.text
    record = status.read(site.platform.redis, ref_of("s-dlr"), site.platform.retention)
    assert record is not None and record["status"] == "sent"


def test_a_report_on_an_unknown_message_gets_404(site: Site) -> None:
    gateway = site.platform.gateways["elks1"]
    url = gateway.dlr_url(ref_of("s-never"))  # type: ignore[attr-defined]
    answer = httpx.post(url, data={"id": "s123", "status": "delivered"})
    assert (answer.status_code, answer.text) == (404, f"no message {ref_of('s-never')}\n")


# -- configuration ---------------------------------------------------------------------------------------------


def test_api_credentials_are_required(make_platform: Callable[..., Platform], tmp_path: Path) -> None:
    path = tmp_path / "gateways.yaml"
    path.write_text("gateways:\n  elks1:\n    type: elks\n    api_user: u1\n    api_url: ftp://x\n", encoding="utf-8")
    with pytest.raises(RuleFileError) as caught:
        make_platform(TV_RULES, gateways=path)
    assert str(caught.value) == (
        f"{path}:5:14: expected a URL such as https://api.46elks.com/a1, got the text 'ftp://x' "
        "(at gateways.elks1.api_url)\n"
        f"{path}:3:5: missing required key 'api_password' (at gateways.elks1)"
    )

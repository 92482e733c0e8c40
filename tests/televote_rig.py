"""A running televote for tests: SMS votes through a Kannel gateway's get-url, calls through a 46elks
voice webhook, both over real HTTP, replies to a fake Kannel, hot-button calls to a fake 46elks, and a
real Redis."""

from __future__ import annotations

import itertools
import textwrap
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from kodeord.outbound.sender import Sender
from kodeord.platform import Platform
from kodeord.testing import COMPANY
from kodeord.testing.fakeelks import FakeElks
from kodeord.testing.fakekannel import FakeKannel, running
from kodeord.web import apikeys
from kodeord.web.app import create_app

from .conftest import free_port

IDS = itertools.count(1)
THANKS = "https://media.example/tack.mp3"
STUDIO = "+4686001000"
VOICE = {"01": "+469912345", "02": "+469912346", "03": "+469912347"}  # 099-123 45 ... as E.164


def poll_rules(opens: datetime, closes: datetime, extra_services: str = "", **extra: Any) -> str:
    """The TV tenant's rule file: poll ``mello`` on 72500 and three 099 numbers, and a poll not yet open."""
    options = {
        "title": "Melodifestivalen",
        "options": '[{code: "01", name: Anna}, {code: "02", name: Bertil}, {code: "03", name: Cilla}]',
        "opens": f'"{opens.isoformat()}"',
        "closes": f'"{closes.isoformat()}"',
        "thanks": THANKS,
        "studio": f'"{STUDIO}"',
    } | extra
    lines = "".join(f"          {k}: {v}\n" for k, v in options.items())
    later = (closes + timedelta(days=1)).isoformat()
    return (
        f"""\
tenant: {{id: tv, name: TV AB, timezone: Europe/Stockholm, company: {COMPANY}}}
numbers:
  - {{number: "72500", type: shared}}
services:
  - id: mello
    number: "72500"
    keyword: MELLO
    calls: {{"099-123 45": "01", "099-123 46": "02", "099-123 47": "03"}}
    rules:
      - name: vote
        do: voting.vote
        with:
{lines}        reply: "Tack för din röst på {{{{ option }}}}!"
        price: "4.90"
  - id: senare
    number: "72500"
    keyword: SENARE
    rules:
      - name: vote
        do: voting.vote
        with: {{options: [{{code: A}}, {{code: B}}], opens: "{later}"}}
        reply: "Tack!"
"""
        + extra_services
    )


OTHER_RULES = textwrap.dedent(
    """\
    tenant: {id: radio, name: Radio AB}
    numbers:
      - {number: "72600", type: shared}
    services:
      - id: topplistan
        number: "72600"
        keyword: TOPP
        rules:
          - {name: vote, do: voting.vote, with: {options: [{code: "1"}, {code: "2"}]}, reply: "Tack!"}
    """
)

GATEWAYS = """\
gateways:
  k1: {{type: kannel, sendsms_url: "{sendsms}", username: kodeord, password: pw, inbound_secret: s3cret,
        charging: true}}
  e1: {{type: elks, api_url: "{api}/a1", api_user: u1, api_password: p1, inbound_secret: v0ice}}
routing:
  routes:
    default:
      - {{gateway: k1, price: 0.05}}
{alerts}"""


@dataclass
class TV:
    """The rig: ``sms`` votes through Kannel, ``ring`` calls a voice number through 46elks."""

    platform: Platform
    url: str
    kannel: FakeKannel
    elks: FakeElks
    redis: redis.Redis
    key: str  # the tv tenant's API key
    ids: Iterator[int] = field(default_factory=lambda: IDS)  # message ids unique across rigs sharing a Redis
    http: httpx.Client = field(default_factory=httpx.Client)

    def sms(self, sender: str, text: str, to: str = "72500", message_id: str | None = None) -> httpx.Response:
        params = {
            "from": sender,
            "to": to,
            "text": text,
            "id": message_id or f"in-{next(self.ids)}",
            "secret": "s3cret",
            "smsc": "telia",
        }
        answer = self.http.get(f"{self.url}/gateways/k1/kannel", params=params)
        assert answer.status_code == 200, answer.text
        return answer

    def ring(self, caller: str, number: str, call_id: str | None = None) -> dict[str, Any]:
        """A call as 46elks posts it to the number's voice_start; the call actions we answered."""
        form = {
            "callid": call_id or f"c{next(self.ids)}",
            "from": caller,
            "to": number,
            "direction": "incoming",
            "created": "2026-11-23T19:02:13.224000",
        }
        answer = self.http.post(f"{self.url}/gateways/e1/elks/voice?secret=v0ice", data=form)
        assert answer.status_code == 200, answer.text
        assert answer.headers["content-type"] == "application/json"
        result: dict[str, Any] = answer.json()
        return result

    def api(self, method: str, path: str, key: str | None = None, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {key or self.key}"}
        return self.http.request(method, f"{self.url}/api/voting{path}", headers=headers, **kwargs)

    def result(self, poll: str = "mello") -> dict[str, Any]:
        answer = self.api("GET", f"/polls/{poll}")
        assert answer.status_code == 200, answer.text
        found: dict[str, Any] = answer.json()
        return found

    def votes(self, poll: str = "mello") -> dict[str, int]:
        return {o["code"]: o["votes"] for o in self.result(poll)["options"]}

    def send(self) -> list[dict[str, str]]:
        """Send everything queued; return what the fake Kannel accepted in this round."""
        before = len(self.kannel.accepted)
        sender = Sender(self.platform)
        while sender.run_once():
            pass
        return self.kannel.accepted[before:]


@pytest.fixture
def make_tv(
    make_platform: Callable[..., Platform], serve: Callable[..., str], tmp_path: Path, kodeord_redis: redis.Redis
) -> Iterator[Callable[..., TV]]:
    """``make_tv(opens=..., closes=..., alerts="", **poll_options)``: the rig, the poll open by default."""
    built: list[TV] = []
    with running() as kannel:

        def build(
            opens: datetime | None = None,
            closes: datetime | None = None,
            alerts: str = "",
            extra_services: str = "",
            **extra: Any,
        ) -> TV:
            now = datetime.now(UTC)
            elks = FakeElks()
            api = serve(elks.app())
            rules, other = tmp_path / "tv.yaml", tmp_path / "radio.yaml"
            rules.write_text(
                poll_rules(
                    opens or now - timedelta(hours=1), closes or now + timedelta(hours=1), extra_services, **extra
                ),
                encoding="utf-8",
            )
            other.write_text(OTHER_RULES, encoding="utf-8")
            gateways = tmp_path / "gateways.yaml"
            gateways.write_text(GATEWAYS.format(sendsms=kannel.url, api=api, alerts=alerts), encoding="utf-8")
            port = free_port()
            platform = make_platform(
                [rules, other], gateways=gateways, public_url=f"http://127.0.0.1:{port}", secret_key="test-key"
            )
            url = serve(create_app(platform), port)
            key = apikeys.create(kodeord_redis, "tv", f"test-{len(built)}")
            built.append(TV(platform, url, kannel, elks, kodeord_redis, key))
            return built[-1]

        yield build
        for tv in built:
            tv.http.close()

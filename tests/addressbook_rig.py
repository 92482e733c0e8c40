"""A running address book for tests: rule files, a Kannel gateway webhook over real HTTP, a fake Kannel
sendsms on loopback, and a real Redis."""

from __future__ import annotations

import itertools
import textwrap
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from kodeord.outbound.sender import Sender
from kodeord.platform import Platform
from kodeord.plugins.addressbook.admin import ListAdmin
from kodeord.testing.fakekannel import FakeKannel, running
from kodeord.web.app import create_app

from .conftest import free_port, kannel_gateways

OPEN = "+46766861004"  # auto approval, only writers broadcast
CLOSED = "+46766861005"  # manual approval, every member may broadcast
OTHER = "+46766861006"  # another tenant's list

RULES = textwrap.dedent(
    f"""\
    tenant: {{id: forening, name: Föreningen}}
    numbers:
      - {{number: "{OPEN}", type: dedicated}}
      - {{number: "{CLOSED}", type: dedicated}}
    services:
      - id: medlemmar
        number: "{OPEN}"
        catch_all: true
        rules:
          - name: list
            do: addressbook.inbox
            with: {{name: Föreningen}}
      - id: kris
        number: "{CLOSED}"
        catch_all: true
        rules:
          - name: list
            do: addressbook.inbox
            with:
              name: Krisgruppen
              approval: manual
              senders: members
              join_words: [START, JA]
              leave_words: [STOPP, STOP, SLUTA]
              replies:
                joined: "Du är med i {{{{ list }}}}."
    """
)
OTHER_RULES = textwrap.dedent(
    f"""\
    tenant: {{id: klubben, name: Klubben}}
    numbers:
      - {{number: "{OTHER}", type: dedicated}}
    services:
      - id: medlemmar
        number: "{OTHER}"
        catch_all: true
        rules:
          - {{name: list, do: addressbook.inbox}}
    """
)


@dataclass
class Book:
    """The rig: ``sms`` texts the number through the webhook, ``send`` runs the sender, ``inbox`` reads phones."""

    platform: Platform
    url: str
    kannel: FakeKannel
    redis: redis.Redis
    ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def sms(self, sender: str, text: str, to: str = OPEN) -> dict[str, Any]:
        params = {"from": sender, "to": to, "text": text, "id": f"in-{next(self.ids)}", "secret": "s3cret"}
        answer = httpx.get(f"{self.url}/gateways/k1/kannel", params=params)
        assert answer.status_code == 200, answer.text
        return {"status": answer.status_code, "text": answer.text}

    def send(self, sender: Sender | None = None) -> int:
        """Run the sender until everything queued is out; return how many entries it handled."""
        sender = sender or Sender(self.platform)
        total = 0
        while handled := sender.run_once():
            total += handled
        return total

    def inbox(self, number: str) -> list[str]:
        """Texts the fake Kannel accepted for ``number``, in order."""
        return [m["text"] for m in self.kannel.accepted if m["to"] == number]

    def admin(self, tenant: str = "forening") -> ListAdmin:
        return ListAdmin(self.platform, tenant, by="test")


@pytest.fixture
def book(
    make_platform: Callable[..., Platform], serve: Callable[..., str], tmp_path: Path, kodeord_redis: redis.Redis
) -> Iterator[Book]:
    """A platform with two tenants' lists, served over HTTP, sending to a fake Kannel."""
    with running() as kannel:
        gateways = tmp_path / "gateways.yaml"
        gateways.write_text(kannel_gateways(kannel.url), encoding="utf-8")
        rules, other = tmp_path / "forening.yaml", tmp_path / "klubben.yaml"
        rules.write_text(RULES, encoding="utf-8")
        other.write_text(OTHER_RULES, encoding="utf-8")
        port = free_port()
        platform = make_platform(
            [rules, other],
            gateways=gateways,
            public_url=f"http://127.0.0.1:{port}",
            secret_key="test-key",
            fanout_page=7,
        )
        url = serve(create_app(platform), port)
        yield Book(platform, url, kannel, kodeord_redis)

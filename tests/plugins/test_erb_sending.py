"""Marketing vetted when it is sent: a marketing broadcast reaches members who agreed to marketing and says
who sends it, how to stop and what a premium number costs; anything else is stopped with the rule, counted per
service and rule, and nothing is sent half-checked. Over real HTTP (Kannel's webhook), a real Redis and a fake
Kannel."""

from __future__ import annotations

import json
import re
import textwrap
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import redis
from click.testing import CliRunner

from kodeord.inbound.messages import Kind, Outbound
from kodeord.outbound import status
from kodeord.outbound.sender import Sender
from kodeord.platform import Platform
from kodeord.plugins.addressbook.admin import ListAdmin
from kodeord.plugins.addressbook.store import ListKeys
from kodeord.plugins.erb import veto
from kodeord.plugins.erb.cli import erb
from kodeord.support.errors import KodeordError
from kodeord.testing.fakekannel import FakeKannel, running
from kodeord.watch.messagelog import MessageLog, Query
from kodeord.web import apikeys
from kodeord.web.console import accounts
from kodeord.web.console.accounts import Role

from ..conftest import free_port, kannel_gateways  # noqa: I001
from ..web.console.conftest import PASSWORD, TOKEN, log_in

OFFERS = "+46766861010"  # a list people join for offers (marketing: true)
NEWS = "+46766861011"  # a newsletter: its members did not join for marketing
ANNA, BO, CIA = "+46701111111", "+46702222222", "+46703333333"
RULES = textwrap.dedent(
    f"""\
    tenant:
      id: butiken
      name: Butiken
      company:
        name: Butiken AB
        address: Handelsvägen 2, 411 01 Göteborg
        customer_service: "031-123 45 67"
        hours: mon-fri 08:00-17:00
    numbers:
      - {{number: "{OFFERS}", type: dedicated}}
      - {{number: "{NEWS}", type: dedicated}}
      - {{number: "72700", type: shared}}
    services:
      - id: erbjudanden
        number: "{OFFERS}"
        catch_all: true
        rules:
          - {{name: list, do: addressbook.inbox, with: {{name: Erbjudanden, marketing: true}}}}
      - id: nyheter
        number: "{NEWS}"
        catch_all: true
        rules:
          - {{name: list, do: addressbook.inbox, with: {{name: Nyheter}}}}
      - id: tips
        number: "72700"
        keyword: TIPS
        rules:
          - {{name: tips, reply: "Dagens tips!", price: "9.90"}}
    """
)
GOOD = "Butiken AB: 20 % på allt i helgen! Dagens tips: SMS TIPS till 72700 (9,90 kr). Avsluta med STOPP."


@dataclass
class Shop:
    platform: Platform
    url: str
    kannel: FakeKannel
    redis: redis.Redis

    def sms(self, sender: str, text: str, to: str) -> None:
        params = {"from": sender, "to": to, "text": text, "id": f"in-{sender}-{text}-{to}", "secret": "s3cret"}
        assert httpx.get(f"{self.url}/gateways/k1/kannel", params=params).status_code == 200

    def send(self) -> None:
        sender = Sender(self.platform)
        while sender.run_once():
            pass

    def received(self, number: str) -> list[str]:
        return [m["text"] for m in self.kannel.accepted if m["to"] == number]

    def admin(self) -> ListAdmin:
        return ListAdmin(self.platform, "butiken", by="test")


@pytest.fixture
def shop(
    make_platform: Callable[..., Platform], serve: Callable[..., str], tmp_path: Path, kodeord_redis: redis.Redis
) -> Iterator[Shop]:
    with running() as kannel:
        gateways = tmp_path / "gateways.yaml"
        gateways.write_text(kannel_gateways(kannel.url), encoding="utf-8")
        port = free_port()
        platform = make_platform(RULES, gateways=gateways, public_url=f"http://127.0.0.1:{port}", secret_key="k")
        from kodeord.web.app import create_app

        shop = Shop(platform, serve(create_app(platform), port), kannel, kodeord_redis)
        for member in (ANNA, BO):
            shop.sms(member, "START", OFFERS)
            shop.sms(member, "START", NEWS)
        shop.send()
        kannel.accepted.clear()
        yield shop


def stopped(shop: Shop, service: str) -> dict[str, int]:
    counted = status.vetoed(shop.redis, service, "erb", ("A.1.a", "CS", "STOP", "MKT", "error"))
    return {code: sum(days.values()) for code, days in counted.items()}


def test_a_marketing_broadcast_goes_to_members_who_agreed_to_marketing(shop: Shop) -> None:
    shop.admin().broadcast("erbjudanden", GOOD, marketing=True)
    shop.send()
    assert shop.received(ANNA) == [GOOD] and shop.received(BO) == [GOOD]
    assert stopped(shop, "butiken/erbjudanden") == {}


def test_a_list_whose_members_did_not_join_for_marketing_takes_no_marketing_broadcast(shop: Shop) -> None:
    with pytest.raises(KodeordError) as refused:
        shop.admin().broadcast("nyheter", GOOD, marketing=True)
    assert refused.value.http_status == 409 and "did not join to get marketing" in str(refused.value)
    shop.admin().broadcast("nyheter", "Årsmötet är den 3 maj.")  # an ordinary broadcast still goes
    shop.send()
    assert shop.received(ANNA) == ["Årsmötet är den 3 maj."]


def test_a_member_without_a_consent_record_gets_no_marketing(shop: Shop) -> None:
    lk = ListKeys("butiken/erbjudanden")
    shop.redis.zadd(lk.members, {CIA: 1.0})  # a member from before consent records were kept: none for CIA
    shop.admin().broadcast("erbjudanden", GOOD, marketing=True)
    shop.send()
    assert shop.received(CIA) == [] and shop.received(ANNA) == [GOOD]
    assert stopped(shop, "butiken/erbjudanden") == {"MKT": 1}
    progress = shop.admin().broadcasts("erbjudanden")
    assert progress, "the broadcast is in the list's log"


@pytest.mark.parametrize(
    ("text", "code"),
    [
        (GOOD.replace("Butiken AB: ", ""), "CS"),
        (GOOD.replace(" Avsluta med STOPP.", ""), "STOP"),
        (GOOD.replace(" (9,90 kr)", ""), "A.1.a"),
        (GOOD.replace("9,90 kr", "4,90 kr"), "A.1.a"),
    ],
)
def test_marketing_that_breaks_a_rule_is_stopped_with_the_rule_and_counted(shop: Shop, text: str, code: str) -> None:
    shop.admin().broadcast("erbjudanden", text, marketing=True)
    shop.send()
    assert shop.received(ANNA) == [] and shop.received(BO) == []
    assert stopped(shop, "butiken/erbjudanden") == {code: 2}
    log = MessageLog.every_scope(shop.redis, shop.platform.retention)
    failed = list(log.every(Query(service="butiken/erbjudanden", status="failed")))
    assert sorted(r["to"] for r in failed) == [ANNA, BO]
    assert {r["reason"].startswith(f"vetoed by erb: ERB {code}: ") for r in failed} == {True}


def test_the_same_text_as_an_ordinary_broadcast_is_not_vetted_as_marketing(shop: Shop) -> None:
    text = GOOD.replace(" Avsluta med STOPP.", "")
    shop.admin().broadcast("erbjudanden", text)
    shop.send()
    assert shop.received(ANNA) == [text]


def test_a_check_that_cannot_be_made_stops_the_message(shop: Shop, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(messages: object, client: object) -> dict[int, bool]:
        raise redis.ConnectionError("the consent records cannot be read")

    monkeypatch.setattr(shop.platform.hooks, "marketing_consent", broken)
    message = Outbound(ANNA, OFFERS, GOOD, kind=Kind.MARKETING, service="butiken/erbjudanden")
    vetoes = veto.vet([message], shop.platform)
    assert vetoes is not None and vetoes[0].reason == "ERB: the marketing checks could not be made"


def test_the_report_lists_each_service_with_its_rules_and_what_was_stopped(shop: Shop) -> None:
    shop.admin().broadcast("erbjudanden", GOOD.replace(" Avsluta med STOPP.", ""), marketing=True)
    shop.send()
    key = apikeys.create(shop.redis, "butiken", "erb")
    answer = httpx.get(f"{shop.url}/api/erb/report", headers={"Authorization": f"Bearer {key}"})
    assert answer.status_code == 200
    services = {s["service"]: s for s in answer.json()["services"]}
    assert services["butiken/erbjudanden"] == {
        "service": "butiken/erbjudanden",
        "premium": False,
        "rules": [],
        "status": "compliant",
        "problems": [],
        "stopped": {"STOP": 2},
    }
    assert services["butiken/tips"]["premium"] is True and services["butiken/tips"]["rules"] == ["CS", "STOP", "B.1"]
    assert httpx.get(f"{shop.url}/api/erb/report").status_code == 401


def test_the_report_on_a_draft_shows_what_a_reload_would_refuse(
    shop: Shop, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kodeord_redis_url: str
) -> None:
    draft = tmp_path / "utkast.yaml"
    draft.write_text(RULES.replace('customer_service: "031-123 45 67"', 'customer_service: "0939-123 456"'))
    monkeypatch.setenv("KODEORD_REDIS_URL", kodeord_redis_url)
    result = CliRunner().invoke(erb, ["report", "butiken", "--rules", str(draft)])
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert lines[:2] == [
        "butiken/erbjudanden  not premium  rules: none  compliant",
        "butiken/nyheter  not premium  rules: none  compliant",
    ]
    assert lines[2] == "butiken/tips  premium  rules: CS, STOP, B.1  breaks 1 rule(s), 1 fault(s)"
    assert lines[3].startswith(f"  {draft}:7:5: ERB CS: customer service: 0939-123 456 is a premium-rate number")
    as_json = json.loads(CliRunner().invoke(erb, ["report", "butiken", "--rules", str(draft), "--json"]).stdout)
    [tips] = [s for s in as_json["services"] if s["service"] == "butiken/tips"]
    assert tips["problems"][0] | {"message": ""} == {
        "rule": "CS",
        "message": "",
        "file": str(draft),
        "line": 7,
        "column": 5,
        "at": "tenant.company.customer_service",
    }
    assert CliRunner().invoke(erb, ["report", "nobody", "--rules", str(draft)]).exit_code == 2


def test_members_who_joined_before_a_list_was_for_marketing_did_not_agree_to_it(shop: Shop) -> None:
    admin = shop.admin()
    admin.set_options("nyheter", {"marketing": True})  # Anna and Bo joined the newsletter before this
    shop.sms(CIA, "START", NEWS)  # Cia joins a list that now says it is for offers
    shop.send()
    shop.kannel.accepted.clear()
    admin.broadcast("nyheter", GOOD, marketing=True)
    shop.send()
    assert shop.received(CIA) == [GOOD]
    assert shop.received(ANNA) == [] and shop.received(BO) == []
    assert stopped(shop, "butiken/nyheter") == {"MKT": 2}
    assert admin.consent("nyheter", CIA)[-1]["marketing"] is True  # type: ignore[comparison-overlap]


def test_the_console_sends_a_marketing_broadcast_from_a_list_for_offers(shop: Shop) -> None:
    accounts.create(shop.redis, "butiken", "butik@example.se", PASSWORD, Role.OWNER)
    with httpx.Client(base_url=shop.url) as person:
        log_in(person, "butik@example.se")
        form = person.get("/console/lists/erbjudanden/broadcast")
        assert 'id="marketing"' in form.text
        assert 'id="marketing"' not in person.get("/console/lists/nyheter/broadcast").text  # not a list for offers
        csrf = TOKEN.search(form.text).group(1)  # type: ignore[union-attr]
        fields = {"csrf": csrf, "text": GOOD.replace(" Avsluta med STOPP.", ""), "marketing": "1"}
        preview = person.post("/console/lists/erbjudanden/broadcast", data={**fields, "action": "preview"})
        assert 'id="as-marketing"' in preview.text
        once = re.search(r'name="once" value="([^"]+)"', preview.text).group(1)  # type: ignore[union-attr]
        sent = person.post("/console/lists/erbjudanden/broadcast", data={**fields, "action": "send", "once": once})
        assert sent.status_code == 303 and "/broadcasts/" in sent.headers["location"]
    shop.send()
    assert shop.received(ANNA) == []  # sent as marketing, it says no STOPP: stopped
    assert stopped(shop, "butiken/erbjudanden") == {"STOP": 2}

"""Premium-SMS donations over Kannel's get-url on real HTTP and a real Redis: charged thank-you replies,
totals per campaign, operator and day, exact settlements, tenant isolation, price checks and the CLI."""

from __future__ import annotations

import csv
import io
import itertools
import json
import os
import re
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kodeord.inbound.messages import Inbound
from kodeord.outbound.sender import Sender
from kodeord.platform import Platform
from kodeord.support.errors import RuleFileError
from kodeord.testing import COMPANY
from kodeord.testing.fakekannel import FakeKannel, running
from kodeord.web import apikeys
from kodeord.web.app import create_app

from ..conftest import free_port

IDS = itertools.count(1)
DONOR = "+46701234567"
NUMBER = "+46701990000"  # the water campaign's own number
KODEORD = [sys.executable, "-c", "from kodeord.cli import main; main()"]
ZONE = ZoneInfo("Europe/Stockholm")


def fund_rules(price: str = '"9.90"', extra_rule: str = "") -> str:
    """Tenant ``hjalp``: GE (9.90) and GELITE (0.90) on 72550 for one campaign, and a number of its own."""
    return f"""\
tenant: {{id: hjalp, name: Hjälpen, timezone: Europe/Stockholm, company: {COMPANY}}}
numbers:
  - {{number: "72550", type: shared}}
  - {{number: "{NUMBER}", type: dedicated}}
services:
  - id: ge
    number: "72550"
    keyword: GE
    rules:
      - name: give
        do: donation.give
        with: {{campaign: jul-2026, name: Julinsamlingen, payout_percent: 85}}
        reply: "Tack för din gåva på {{{{ amount }}}} kr till {{{{ campaign }}}}!"
        price: {price}
{extra_rule}  - id: gelite
    number: "72550"
    keyword: GELITE
    rules:
      - {{name: give, do: donation.give, with: {{campaign: jul-2026, payout_percent: 85}}, reply: "Tack!",
         price: "0.90"}}
  - id: vatten
    number: "{NUMBER}"
    catch_all: true
    rules:
      - name: give
        do: donation.give
        with: {{payout_percent: 62.5}}
        reply: "Tack! {{{{ amount }}}} kr går till rent vatten."
        price: "2.50"
"""


RADIO_RULES = textwrap.dedent(
    """\
    tenant:
      id: radio
      name: Radio AB
      company: {name: Test AB, address: "Testgatan 1, 111 22 Stockholm",
                 customer_service: "08-123 45 67", hours: "mon-fri 09:00-17:00"}
    numbers:
      - {number: "72550", type: shared}
    services:
      - id: bidra
        number: "72550"
        keyword: BIDRA
        rules:
          - {name: give, do: donation.give, reply: "Tack!", price: "5.00"}
    """
)

GATEWAYS = """\
gateways:
  k1: {{type: kannel, sendsms_url: "{sendsms}", username: kodeord, password: pw, inbound_secret: s3cret,
        charging: true}}
routing:
  routes:
    default:
      - {{gateway: k1, price: 0.05}}
"""


@dataclass
class Fund:
    """The rig: ``sms`` donates through Kannel's get-url, ``api`` reads /api/donation/ with the tenant's key."""

    platform: Platform
    url: str
    kannel: FakeKannel
    redis: redis.Redis
    key: str  # the hjalp tenant's API key
    http: httpx.Client = field(default_factory=httpx.Client)

    def sms(
        self, text: str, to: str = "72550", smsc: str = "telia", message_id: str | None = None, sender: str = DONOR
    ) -> httpx.Response:
        params = {
            "from": sender,
            "to": to,
            "text": text,
            "id": message_id or f"in-{next(IDS)}",
            "secret": "s3cret",
            "smsc": smsc,
        }
        answer = self.http.get(f"{self.url}/gateways/k1/kannel", params=params)
        assert answer.status_code == 200, answer.text
        return answer

    def at(self, moment: datetime, text: str, to: str = "72550", operator: str = "telia") -> None:
        """A donation received at ``moment`` (handled directly, for donations on other days)."""
        inbound = Inbound.create(
            sender=DONOR,
            recipient=to,
            text=text,
            gateway="k1",
            message_id=f"at-{next(IDS)}",
            received_at=moment,
            operator=operator,
        )
        assert self.platform.handle(inbound).status == "handled"

    def api(self, path: str, key: str | None = None, **params: str) -> httpx.Response:
        headers = {"Authorization": f"Bearer {key or self.key}"}
        return self.http.get(f"{self.url}/api/donation{path}", headers=headers, params=params)

    def totals(self) -> dict[str, Any]:
        answer = self.api("/totals")
        assert answer.status_code == 200, answer.text
        found: dict[str, Any] = answer.json()
        return found

    def send(self) -> list[dict[str, str]]:
        """Send everything queued; return what the fake Kannel accepted in this round."""
        before = len(self.kannel.accepted)
        sender = Sender(self.platform)
        while sender.run_once():
            pass
        return self.kannel.accepted[before:]


@pytest.fixture
def make_fund(
    make_platform: Callable[..., Platform], serve: Callable[..., str], tmp_path: Path, kodeord_redis: redis.Redis
) -> Iterator[Callable[[], Fund]]:
    """``make_fund()``: the rig, with the hjalp and radio tenants' rule files in tmp_path."""
    built: list[Fund] = []
    with running() as kannel:

        def build() -> Fund:
            rules, other, gateways = tmp_path / "hjalp.yaml", tmp_path / "radio.yaml", tmp_path / "gateways.yaml"
            rules.write_text(fund_rules(), encoding="utf-8")
            other.write_text(RADIO_RULES, encoding="utf-8")
            gateways.write_text(GATEWAYS.format(sendsms=kannel.url), encoding="utf-8")
            port = free_port()
            platform = make_platform(
                [rules, other], gateways=gateways, public_url=f"http://127.0.0.1:{port}", secret_key="test-key"
            )
            url = serve(create_app(platform), port)
            built.append(Fund(platform, url, kannel, kodeord_redis, apikeys.create(kodeord_redis, "hjalp")))
            return built[-1]

        yield build
        for fund in built:
            fund.http.close()


MakeFund = Callable[[], Fund]


def today() -> str:
    return datetime.now(ZONE).date().isoformat()


def figures(count: int, gross: str, owed: str) -> dict[str, Any]:
    return {"count": count, "gross": gross, "owed": owed}


def test_a_donation_is_thanked_with_a_reply_charged_at_its_price(make_fund: MakeFund) -> None:
    fund = make_fund()
    assert fund.sms("GE").headers["x-kodeord-status"] == "handled"
    assert fund.sms("vad som helst", to=NUMBER).headers["x-kodeord-status"] == "handled"
    keyword, number = fund.send()
    assert keyword["to"] == DONOR and keyword["text"] == "Tack för din gåva på 9.90 kr till Julinsamlingen!"
    assert keyword["binfo"] == "9.90"  # the premium price goes to Kannel with the thank-you
    assert number["from"] == NUMBER and number["text"] == "Tack! 2.50 kr går till rent vatten."
    assert number["binfo"] == "2.50"


def test_totals_per_campaign_operator_and_day(make_fund: MakeFund) -> None:
    fund = make_fund()
    for text, to, smsc in [
        ("GE", "72550", "telia"),
        ("ge tack", "72550", "tele2"),
        ("GELITE", "72550", "telia"),
        ("hej", NUMBER, "tele2"),
        ("GE", "72550", "telia"),
    ]:
        fund.sms(text, to=to, smsc=smsc)
    found = fund.totals()
    assert found["currency"] == "SEK" and found["tenant"] == "hjalp" and "rows" not in found
    # rows at 85 %: 2 x 9.90 by telia 16.83, 9.90 by tele2 8.415 -> 8.42, 0.90 by telia 0.765 -> 0.77 (half up)
    assert found["campaigns"] == [
        {"campaign": "jul-2026", "name": "Julinsamlingen", **figures(4, "30.60", "26.02")},
        {"campaign": "vatten", "name": "vatten", **figures(1, "2.50", "1.56")},  # 62.5 % of 2.50 = 1.5625
    ]
    assert found["operators"] == [
        {"operator": "tele2", **figures(2, "12.40", "9.98")},
        {"operator": "telia", **figures(3, "20.70", "17.60")},
    ]
    assert found["days"] == [{"day": today(), **figures(5, "33.10", "27.58")}]
    assert found["total"] == figures(5, "33.10", "27.58")
    assert len(fund.send()) == 5


def test_a_gateway_retry_of_the_same_message_counts_once(make_fund: MakeFund) -> None:
    fund = make_fund()
    first = fund.sms("GE", message_id="kannel-77")
    again = fund.sms("GE", message_id="kannel-77")
    assert first.headers["x-kodeord-status"] == "handled" and again.headers["x-kodeord-status"] == "duplicate"
    assert fund.totals()["total"] == figures(1, "9.90", "8.42")
    assert len(fund.send()) == 1  # charged once too


def test_days_are_the_tenants_and_the_settlement_is_exact_in_json_and_csv(make_fund: MakeFund) -> None:
    fund = make_fund()
    fund.at(datetime(2026, 11, 22, 12, 0, tzinfo=UTC), "GE")
    fund.at(datetime(2026, 11, 23, 23, 30, tzinfo=UTC), "GE", operator="tele2")  # 00:30 on the 24th in Stockholm
    fund.at(datetime(2026, 11, 24, 8, 0, tzinfo=UTC), "GELITE")
    fund.at(datetime(2026, 11, 24, 9, 0, tzinfo=UTC), "x", to=NUMBER)
    fund.at(datetime(2026, 11, 25, 9, 0, tzinfo=UTC), "GE")
    answer = fund.api("/settlement", **{"from": "2026-11-23", "until": "2026-11-24"})
    assert answer.status_code == 200, answer.text
    found = answer.json()
    assert (found["from"], found["until"]) == ("2026-11-23", "2026-11-24")
    assert found["rows"] == [
        {
            "day": "2026-11-24",
            "campaign": "jul-2026",
            "campaign_name": "Julinsamlingen",
            "operator": "tele2",
            "price": "9.90",
            "payout_percent": "85",
            "count": 1,
            "gross": "9.90",
            "owed": "8.42",
        },
        {
            "day": "2026-11-24",
            "campaign": "jul-2026",
            "campaign_name": "Julinsamlingen",
            "operator": "telia",
            "price": "0.90",
            "payout_percent": "85",
            "count": 1,
            "gross": "0.90",
            "owed": "0.77",
        },  # 0.765 half up
        {
            "day": "2026-11-24",
            "campaign": "vatten",
            "campaign_name": "vatten",
            "operator": "telia",
            "price": "2.50",
            "payout_percent": "62.5",
            "count": 1,
            "gross": "2.50",
            "owed": "1.56",
        },
    ]
    assert found["days"] == [{"day": "2026-11-24", **figures(3, "13.30", "10.75")}]
    assert found["total"] == figures(3, "13.30", "10.75")
    assert sum(Decimal(r["owed"]) for r in found["rows"]) == Decimal(found["total"]["owed"])
    everything = fund.api("/settlement").json()
    assert [d["day"] for d in everything["days"]] == ["2026-11-22", "2026-11-24", "2026-11-25"]
    assert everything["total"] == figures(5, "33.10", "27.59")  # each row rounded: three 9.90 rows of 8.42

    sheet = fund.api("/settlement", format="csv", **{"from": "2026-11-24", "until": "2026-11-24"})
    assert sheet.status_code == 200 and sheet.headers["content-type"].startswith("text/csv")
    assert sheet.headers["content-disposition"] == 'attachment; filename="donations-hjalp-2026-11-24-2026-11-24.csv"'
    table = list(csv.DictReader(io.StringIO(sheet.text)))
    assert sheet.text.splitlines()[0] == "day,campaign,campaign_name,operator,price,payout_percent,count,gross,owed"
    assert table == [{k: str(v) for k, v in row.items()} for row in found["rows"]]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"from": "2026-13-01"}, "from must be a date such as 2026-11-23, got '2026-13-01'"),
        ({"until": "24/11/2026"}, "until must be a date such as 2026-11-23, got '24/11/2026'"),
        ({"from": "2026-11-25", "until": "2026-11-24"}, "from (2026-11-25) must not be after until (2026-11-24)"),
        ({"format": "xlsx"}, "format must be csv or json, got 'xlsx'"),
    ],
)
def test_bad_report_parameters_are_refused_by_name(make_fund: MakeFund, params: dict[str, str], message: str) -> None:
    answer = make_fund().api("/settlement", **params)
    assert answer.status_code == 400 and answer.json() == {"error": message}


def test_a_tenant_sees_only_its_own_donations(make_fund: MakeFund) -> None:
    fund = make_fund()
    fund.sms("GE")
    fund.sms("BIDRA", smsc="tele2")
    radio = apikeys.create(fund.redis, "radio")
    theirs = fund.api("/settlement", key=radio).json()
    assert theirs["campaigns"] == [{"campaign": "bidra", "name": "bidra", **figures(1, "5.00", "5.00")}]
    assert [r["campaign"] for r in theirs["rows"]] == ["bidra"]
    assert fund.totals()["total"] == figures(1, "9.90", "8.42")
    nobody = apikeys.create(fund.redis, "tredje")
    assert fund.api("/totals", key=nobody).json()["total"] == figures(0, "0.00", "0.00")
    for path in ("/totals", "/settlement"):
        assert fund.http.get(f"{fund.url}/api/donation{path}").status_code == 401
        assert fund.api(path, key="kod_not-a-key").status_code == 401


def refusal(make_platform: Callable[..., Platform], rules: str) -> str:
    with pytest.raises(RuleFileError) as caught:
        make_platform(rules)
    return str(caught.value)


@pytest.mark.parametrize("price", ['"12.00"', '"0.50"'])
def test_a_price_outside_the_swedish_range_is_refused_with_its_place(
    make_platform: Callable[..., Platform], price: str
) -> None:
    message = refusal(make_platform, fund_rules(price=price))
    expected = (
        r"rules-\d+\.yaml:14:9: a premium price on a SE number must be from 0.80 to 9.90 SEK, "
        rf"got {price.strip(chr(34))} \(at services\[0\]\.rules\[0\]\.price\)"
    )
    assert re.search(expected, message), message


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        (
            "{name: free, do: donation.give, reply: 'Tack!'}",
            "donation.give needs price: (the amount, 0.80-9.90 SEK on a Swedish number)",
        ),
        (
            "{name: silent, do: donation.give, price: '5.00'}",
            "donation.give needs reply: (the thank-you message, which carries the charge)",
        ),
        (
            "{name: other, do: donation.give, with: {campaign: jul-2026, payout_percent: 90}, reply: x, price: '5.00'}",
            "campaign 'jul-2026' has another name or payout_percent in rule 'give'; give them the same",
        ),
        (
            "{name: big, do: donation.give, with: {payout_percent: 150}, reply: x, price: '5.00'}",
            "parameter 'payout_percent': the payout is a percent from 0 to 100, got 150",
        ),
        (
            "{name: id, do: donation.give, with: {campaign: 'jul 2026'}, reply: x, price: '5.00'}",
            "parameter 'campaign': a campaign id is 1-64 letters, digits, '-' and '_', got 'jul 2026'",
        ),
        ("{name: var, do: donation.give, reply: '{{ sum }}', price: '5.00'}", "template uses unknown variable 'sum'"),
    ],
)
def test_donation_rule_mistakes_are_refused_at_load(
    make_platform: Callable[..., Platform], rule: str, expected: str
) -> None:
    message = refusal(make_platform, fund_rules(extra_rule=f"      - {rule}\n"))
    assert re.search(r"rules-\d+\.yaml:15:\d+: " + re.escape(expected), message), message


def test_the_cli_shows_totals_and_the_settlement(make_fund: MakeFund, tmp_path: Path, kodeord_redis_url: str) -> None:
    fund = make_fund()
    fund.sms("GE")
    fund.sms("GELITE", smsc="tele2")
    fund.sms("BIDRA")
    rules = os.pathsep.join(str(tmp_path / name) for name in ("hjalp.yaml", "radio.yaml"))
    env = {
        **os.environ,
        "KODEORD_REDIS_URL": kodeord_redis_url,
        "KODEORD_RULES": rules,
        "KODEORD_LOG_LEVEL": "WARNING",
        "KODEORD_DATA_DIR": str(tmp_path / "var"),
    }

    def donations(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*KODEORD, "donations", *args], env=env, capture_output=True, text=True, timeout=60)

    shown = donations("totals", "hjalp")
    assert shown.returncode == 0, shown.stderr
    lines = [line.split() for line in shown.stdout.splitlines()]
    assert ["jul-2026", "2", "10.80", "9.19"] in lines and ["vatten", "0", "0.00", "0.00"] in lines
    assert ["tele2", "1", "0.90", "0.77"] in lines and ["total", "2", "10.80", "9.19"] in lines
    assert json.loads(donations("totals", "hjalp", "--json").stdout)["total"] == figures(2, "10.80", "9.19")
    day = today()
    sheet = donations("settlement", "hjalp", "--from", day, "--until", day, "--csv")
    assert sheet.returncode == 0, sheet.stderr
    rows = fund.api("/settlement", format="json").json()["rows"]
    assert list(csv.DictReader(io.StringIO(sheet.stdout))) == [{k: str(v) for k, v in row.items()} for row in rows]
    settled = json.loads(donations("settlement", "radio").stdout)
    assert [r["campaign"] for r in settled["rows"]] == ["bidra"]
    missing = donations("totals", "nobody")
    assert missing.returncode == 1 and "no tenant 'nobody' in the rule files" in missing.stderr
    bad = donations("settlement", "hjalp", "--from", "igår")
    assert bad.returncode == 2 and "from must be a date such as 2026-11-23" in bad.stderr


@pytest.fixture
def fund(make_fund: MakeFund) -> Fund:
    """One rig for all of a property test's examples (its counts grow from one example to the next)."""
    return make_fund()


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(max_size=40), smsc=st.sampled_from(["telia", "tele2", "telenor", ""]))
def test_any_text_after_the_keyword_donates_exactly_once(fund: Fund, text: str, smsc: str) -> None:
    before = fund.totals()["total"]["count"]
    answer = fund.sms(f"GE {text}", smsc=smsc)
    assert answer.headers["x-kodeord-status"] == "handled"
    [reply] = fund.send()
    assert reply["binfo"] == "9.90"
    found = fund.api("/settlement").json()
    count = found["total"]["count"]
    assert count == before + 1
    assert Decimal(found["total"]["gross"]) == count * Decimal("9.90")
    assert sum(r["count"] for r in found["rows"]) == count
    assert sum(Decimal(r["owed"]) for r in found["rows"]) == Decimal(found["total"]["owed"])
    for row in found["rows"]:
        assert Decimal(row["gross"]) == row["count"] * Decimal(row["price"])
    assert {r["operator"] for r in found["rows"]} <= {"telia", "tele2", "telenor", "k1"}  # no smsc: the gateway

"""The donation reports (``donation.totals`` and ``donation.settlement``) over real HTTP and a real Redis: the
right figures for a known set of gifts, only the period's days, the same rows as the settlement API, and the
downloads as Swedish Excel opens them."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
import openpyxl

from kodeord.inbound.messages import Inbound
from kodeord.platform import Platform
from kodeord.web import apikeys
from kodeord.web.console import i18n

from ..web.console import conftest as console_rig
from ..web.console.conftest import log_in
from . import test_donation as donation_rig
from .test_donation import NUMBER, Fund, MakeFund

make_fund = donation_rig.make_fund  # the donation rig: tenants hjalp and radio, gifts through Kannel
console = console_rig.console  # the demo rules with an account in each demo tenant


def gifts(fund: Fund) -> None:
    """Six gifts on four days (Stockholm's): 22nd, 23rd, 24th (three, one of them at 00:30) and 25th November."""
    fund.at(datetime(2026, 11, 22, 12, 0, tzinfo=UTC), "GE")
    fund.at(datetime(2026, 11, 23, 10, 0, tzinfo=UTC), "GE", operator="telenor")
    fund.at(datetime(2026, 11, 23, 23, 30, tzinfo=UTC), "GE", operator="tele2")  # 00:30 on the 24th in Stockholm
    fund.at(datetime(2026, 11, 24, 8, 0, tzinfo=UTC), "GELITE")
    fund.at(datetime(2026, 11, 24, 9, 0, tzinfo=UTC), "x", to=NUMBER)
    fund.at(datetime(2026, 11, 25, 9, 0, tzinfo=UTC), "GE")


def report(fund: Fund, name: str, since: str, until: str, fmt: str = "json", key: str | None = None) -> Any:
    """Report ``name`` from the JSON API with the tenant's key."""
    answer = fund.http.get(
        f"{fund.url}/api/reports/{name}",
        params={"since": since, "until": until, "format": fmt},
        headers={"Authorization": f"Bearer {key or fund.key}"},
    )
    assert answer.status_code == 200, answer.text
    return answer.json() if fmt == "json" else answer.content


def test_the_totals_give_gifts_and_amounts_per_day_and_campaign_in_the_period(make_fund: MakeFund) -> None:
    fund = make_fund()
    gifts(fund)
    # 85 % of 9.90 is 8.415 -> 8.42; of 0.90, 0.765 -> 0.77; 62.5 % of 2.50 is 1.5625 -> 1.56 (half up, per row)
    assert report(fund, "donation.totals", "2026-11-23", "2026-11-24") == [
        {"day": "2026-11-23", "campaign": "jul-2026", "campaign_name": "Julinsamlingen", "count": 1,
         "gross": "9.90", "owed": "8.42"},
        {"day": "2026-11-24", "campaign": "jul-2026", "campaign_name": "Julinsamlingen", "count": 2,
         "gross": "10.80", "owed": "9.19"},
        {"day": "2026-11-24", "campaign": "vatten", "campaign_name": "vatten", "count": 1,
         "gross": "2.50", "owed": "1.56"},
    ]  # fmt: skip
    assert [r["day"] for r in report(fund, "donation.totals", "2026-11-25", "2026-11-25")] == ["2026-11-25"]
    assert report(fund, "donation.totals", "2026-11-01", "2026-11-21") == []
    whole = report(fund, "donation.totals", "2026-11-01", "2026-11-30")
    assert sum(r["count"] for r in whole) == 6
    totals = fund.api("/totals", **{"from": "2026-11-01", "until": "2026-11-30"}).json()["total"]
    assert totals == {"count": 6, "gross": "43.00", "owed": "36.01"}
    assert sum(Decimal(r["owed"]) for r in whole) == Decimal(totals["owed"])  # the same rows, added up
    assert sum(Decimal(r["gross"]) for r in whole) == Decimal(totals["gross"])


def test_the_settlement_report_has_the_rows_of_the_settlement_api(make_fund: MakeFund) -> None:
    fund = make_fund()
    gifts(fund)
    rows = report(fund, "donation.settlement", "2026-11-23", "2026-11-24")
    settled = fund.api("/settlement", **{"from": "2026-11-23", "until": "2026-11-24"}).json()["rows"]
    assert rows == settled
    assert [(r["day"], r["operator"], r["price"], r["payout_percent"], r["count"], r["owed"]) for r in rows] == [
        ("2026-11-23", "telenor", "9.90", "85", 1, "8.42"),
        ("2026-11-24", "tele2", "9.90", "85", 1, "8.42"),
        ("2026-11-24", "telia", "0.90", "85", 1, "0.77"),
        ("2026-11-24", "telia", "2.50", "62.5", 1, "1.56"),
    ]
    assert report(fund, "donation.settlement", "2026-11-26", "2026-11-30") == []
    text = report(fund, "donation.settlement", "2026-11-23", "2026-11-24", "csv").decode("utf-8-sig").splitlines()
    assert text[0] == "Dag;Insamling;Namn;Operatör;Pris, kr;Utbetalningsandel (procent);Gåvor;Belopp, kr;Att få, kr"
    assert text[1] == "2026-11-23;jul-2026;Julinsamlingen;telenor;9,90;85,00;1;9,90;8,42"
    assert len(text) == 5
    book = openpyxl.load_workbook(io.BytesIO(report(fund, "donation.settlement", "2026-11-23", "2026-11-24", "xlsx")))
    sheet = book.active
    assert sheet is not None
    cells = [list(row) for row in sheet.iter_rows(values_only=True)]
    assert cells[4][1:] == ["vatten", "vatten", "telia", 2.5, 62.5, 1, 2.5, 1.56]
    assert cells[4][0] == datetime(2026, 11, 24)  # an Excel date


def test_each_tenant_reports_only_its_own_donations(make_fund: MakeFund) -> None:
    fund = make_fund()
    gifts(fund)
    fund.sms("BIDRA")  # the radio tenant's campaign, on the same short code
    radio = apikeys.create(fund.redis, "radio")
    today = datetime.now(UTC).date().isoformat()
    theirs = report(fund, "donation.totals", "2026-11-01", today, key=radio)
    assert [(r["campaign"], r["count"], r["gross"]) for r in theirs] == [("bidra", 1, "5.00")]
    ours = report(fund, "donation.totals", "2026-11-01", today)
    assert "bidra" not in {r["campaign"] for r in ours} and sum(r["count"] for r in ours) == 6


def test_the_reports_are_for_tenants_with_campaigns_and_shown_in_the_console(console: tuple[Platform, str]) -> None:
    platform, url = console
    forening = apikeys.create(platform.redis, "demo-forening")  # an association without donations
    for name in ("donation.totals", "donation.settlement"):
        answer = httpx.get(f"{url}/api/reports/{name}", headers={"Authorization": f"Bearer {forening}"})
        assert answer.status_code == 404, name
    listed = httpx.get(f"{url}/api/reports", headers={"Authorization": f"Bearer {forening}"}).json()["reports"]
    assert not {r["name"] for r in listed} & {"donation.totals", "donation.settlement"}
    gift = Inbound.create(sender="+46701234567", recipient="72500", text="GE", gateway="test", message_id="g-1")
    assert platform.handle(gift).status == "handled"  # the demo TV's gala: 9.90 to Demogalan
    with httpx.Client(base_url=url) as producer:
        log_in(producer, "producent@example.se")
        page = producer.get("/console/reports/donation.settlement")
        assert page.status_code == 200 and "<h1>Insamlingar: avräkning</h1>" in page.text
        assert "<td>Demogalan</td>" in page.text and '<td class="num">9,90</td>' in page.text
        producer.cookies.set(i18n.COOKIE, "en")
        english = producer.get("/console/reports/donation.totals")
        assert "<h1>Fundraising: gifts per day</h1>" in english.text and ">Owed to you, SEK</th>" in english.text
        assert "<td>Demogalan</td>" in english.text and '<td class="num">9.90</td>' in english.text

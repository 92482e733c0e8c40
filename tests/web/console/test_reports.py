"""Reports over the JSON API and the console: the tenant's rows only, a date range, xlsx, CSV and JSON."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import openpyxl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from kodeord.inbound.messages import Inbound
from kodeord.platform import Platform
from kodeord.web import apikeys
from kodeord.web.reports import Period, ReportError

from .conftest import log_in

TODAY = datetime.now(ZoneInfo("Europe/Stockholm")).date()


@pytest.fixture
def traffic(console: tuple[Platform, str], make_inbound: Callable[..., Inbound]) -> tuple[Platform, str, str]:
    """Three votes to demo-tv and a message to demo-forening; (platform, URL, demo-tv's API key)."""
    platform, url = console
    for n, code in enumerate(["01", "02", "02"]):
        platform.handle(make_inbound(f"MELLO {code}", sender=f"+4670777000{n}"))
    platform.handle(make_inbound("STATUS", to="+46766861004", sender="+46707770009"))
    return platform, url, apikeys.create(platform.redis, "demo-tv", "reports")


def api(url: str, key: str, path: str, **params: str) -> httpx.Response:
    return httpx.get(f"{url}/api/reports{path}", params=params, headers={"Authorization": f"Bearer {key}"})


def test_the_api_lists_the_reports_and_answers_the_tenants_traffic_as_json(traffic: tuple[Platform, str, str]) -> None:
    _, url, key = traffic
    listed = api(url, key, "").json()["reports"]
    assert {"traffic.hours", "traffic.days"} <= {r["name"] for r in listed}
    days = api(url, key, "/traffic.days", format="json")
    assert days.status_code == 200 and days.headers["content-type"] == "application/json"
    rows = days.json()
    assert {r["service"] for r in rows} == {"demo-tv/mello"}  # demo-forening's message is not demo-tv's
    [row] = rows
    assert (row["day"], row["inbound_sms"], row["inbound_calls"]) == (TODAY.isoformat(), 3, 0)
    hours = api(url, key, "/traffic.hours").json()
    assert sum(r["inbound_sms"] for r in hours) == 3
    assert all(datetime.fromisoformat(r["hour"]).date() == TODAY for r in hours)


def test_a_period_without_the_traffic_is_empty_and_bad_input_is_a_clear_400(
    traffic: tuple[Platform, str, str],
) -> None:
    _, url, key = traffic
    tomorrow = (TODAY + timedelta(days=1)).isoformat()
    assert api(url, key, "/traffic.days", since=tomorrow, until=tomorrow).json() == []
    wrong = api(url, key, "/traffic.days", since="1 december")
    assert wrong.status_code == 400 and "since must be a day as YYYY-MM-DD" in wrong.json()["error"]
    backwards = api(url, key, "/traffic.days", since=tomorrow, until=TODAY.isoformat())
    assert backwards.status_code == 400 and "is after until" in backwards.json()["error"]
    assert api(url, key, "/traffic.days", format="pdf").status_code == 400
    assert api(url, key, "/no.such").status_code == 404
    assert api(url, "not-a-key", "/traffic.days").status_code == 401


def test_the_api_gives_xlsx_and_csv_for_swedish_excel(traffic: tuple[Platform, str, str]) -> None:
    _, url, key = traffic
    answer = api(url, key, "/traffic.days", format="xlsx")
    assert answer.status_code == 200
    assert answer.headers["content-disposition"].startswith('attachment; filename="traffic.days_')
    sheet = openpyxl.load_workbook(io.BytesIO(answer.content)).active
    assert [c.value for c in sheet[1]][:3] == ["Dag", "Tjänst", "SMS in"]
    assert [c.value for c in sheet[2]][:3] == [datetime.combine(TODAY, datetime.min.time()), "demo-tv/mello", 3]
    text = api(url, key, "/traffic.days", format="csv").content
    assert text.startswith(b"\xef\xbb\xbf")
    header, row = csv.reader(io.StringIO(text.decode("utf-8-sig")), delimiter=";")
    assert header[:3] == ["Dag", "Tjänst", "SMS in"] and row[:3] == [TODAY.isoformat(), "demo-tv/mello", "3"]


def test_the_console_shows_a_report_and_downloads_it_in_the_users_language(
    traffic: tuple[Platform, str, str],
) -> None:
    _, url, _ = traffic
    with httpx.Client(base_url=url) as client:
        assert client.get("/console/reports/traffic.days").status_code == 303  # log in first
        log_in(client, "producent@example.se")
        index = client.get("/console/reports")
        assert 'href="/console/reports/traffic.hours"' in index.text
        page = client.get("/console/reports/traffic.days")
        assert page.status_code == 200 and "demo-tv/mello" in page.text
        assert client.get("/console/reports/traffic.days", params={"since": "igår"}).status_code == 400
        assert client.get("/console/reports/no.such").status_code == 404
        client.get("/language", params={"to": "en", "next": "/console/reports"})
        english = client.get("/console/reports/traffic.days", params={"format": "csv"})
        header = next(csv.reader(io.StringIO(english.content.decode("utf-8-sig")), delimiter=";"))
        assert header[:3] == ["Day", "Service", "SMS in"]


@given(st.text(max_size=30), st.text(max_size=30))
def test_a_period_from_any_text_is_a_period_or_a_report_error(since: str, until: str) -> None:
    try:
        period = Period.parse(since, until, "Europe/Stockholm", today=date(2026, 12, 1))
    except ReportError as exc:
        assert "since" in str(exc) or "until" in str(exc) or "at most" in str(exc)
    else:
        assert period.first <= period.last and period.since < period.until

"""The message log exported as a file: every message the filters find, the tenant's only, in each format."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable

import httpx
import openpyxl
import pytest

from kodeord.inbound.messages import Inbound
from kodeord.platform import Platform
from kodeord.web import apikeys

from .conftest import log_in


@pytest.fixture
def logged(console: tuple[Platform, str], make_inbound: Callable[..., Inbound]) -> tuple[Platform, str, str]:
    """Votes from three numbers and an unknown vote code to demo-tv, a message to demo-forening."""
    platform, url = console
    for n in range(3):
        platform.handle(make_inbound(f"MELLO 0{n + 1}", sender=f"+4670888000{n}"))
    platform.handle(make_inbound("MELLO =HYPERLINK(1)", sender="+46708880009"))
    platform.handle(make_inbound("HEJ", to="+46766861004", sender="+46708880008"))
    return platform, url, apikeys.create(platform.redis, "demo-tv", "export")


def export(url: str, key: str, **params: str) -> httpx.Response:
    return httpx.get(f"{url}/api/messages/export", params=params, headers={"Authorization": f"Bearer {key}"})


def test_every_message_of_the_tenant_as_json_with_the_filters(logged: tuple[Platform, str, str]) -> None:
    _, url, key = logged
    rows = export(url, key).json()
    inbound = [r for r in rows if r["direction"] == "in"]
    assert {r["from"] for r in inbound} == {"+46708880000", "+46708880001", "+46708880002", "+46708880009"}
    assert all(r["service"].startswith("demo-tv/") or r["service"] == "" for r in rows)
    assert "+46708880008" not in {r["from"] for r in rows}  # demo-forening's
    replies = [r for r in rows if r["direction"] == "out"]
    assert sorted(r["price"] or "" for r in replies) == ["", "4.90", "4.90", "4.90"]  # the refusal is free
    assert {r["status"] for r in replies} == {"queued"}
    one = export(url, key, **{"from": "070-888 00 01", "service": "demo-tv/mello"}).json()
    assert [r["text"] for r in one] == ["MELLO 02"]


def test_xlsx_and_csv_hold_the_same_rows(logged: tuple[Platform, str, str]) -> None:
    _, url, key = logged
    answer = export(url, key, format="xlsx", status="handled")
    assert answer.status_code == 200 and "messages_demo-tv.xlsx" in answer.headers["content-disposition"]
    sheet = openpyxl.load_workbook(io.BytesIO(answer.content)).active
    header, *rows = [[c.value for c in row] for row in sheet.iter_rows()]
    assert header[:5] == ["Tid", "Riktning", "Tjänst", "Från", "Till"]
    assert sorted(r[3] for r in rows) == ["+46708880000", "+46708880001", "+46708880002", "+46708880009"]
    text = export(url, key, format="csv").content.decode("utf-8-sig")
    lines = list(csv.reader(io.StringIO(text), delimiter=";"))
    assert "MELLO =HYPERLINK(1)" in [line[6] for line in lines]


def test_bad_filters_and_other_tenants_services_are_refused(logged: tuple[Platform, str, str]) -> None:
    _, url, key = logged
    assert export(url, key, service="demo-forening/adressbok").status_code == 400
    assert export(url, key, since="yesterday").status_code == 400
    assert export(url, key, limit="5").status_code == 400
    assert export(url, key, format="doc").status_code == 400
    assert export(url, "nope").status_code == 401


def test_the_console_downloads_the_log_it_shows(logged: tuple[Platform, str, str]) -> None:
    _, url, _ = logged
    with httpx.Client(base_url=url) as client:
        assert client.get("/console/messages/export").status_code == 303
        log_in(client, "producent@example.se")
        page = client.get("/console/messages", params={"status": "handled"})
        assert 'href="/console/messages/export?status=handled&amp;format=xlsx"' in page.text
        answer = client.get("/console/messages/export", params={"status": "handled", "format": "csv"})
        assert answer.status_code == 200
        lines = list(csv.reader(io.StringIO(answer.content.decode("utf-8-sig")), delimiter=";"))
        assert len(lines) == 1 + 4
        refused = client.get("/console/messages/export", params={"service": "demo-forening/adressbok"})
        assert refused.status_code == 404

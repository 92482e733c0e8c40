"""The console's polls and competitions over real HTTP and a real Redis: only the tenant's own, closing and
opening again through a confirmation and the form's token, the hot button's confirmation and press through
the fake 46elks, draws with their proof, and the voting reports in the console's period and the JSON API."""

from __future__ import annotations

import hashlib
import io
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import openpyxl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

from kodeord.inbound.messages import Inbound
from kodeord.platform import Platform
from kodeord.plugins.voting.reports import RESULTS
from kodeord.web import apikeys
from kodeord.web.console import accounts
from kodeord.web.console.accounts import Role
from kodeord.web.reports import Period

from ..televote_rig import STUDIO, TV, VOICE
from ..web.console import conftest as console_rig
from ..web.console.conftest import PASSWORD, TOKEN, log_in
from .test_competition import answers_by, contest

MakeTV = Callable[..., TV]
PRODUCER, VIEWER, RADIO = "producent@tv.example", "tittare@tv.example", "redaktor@radio.example"
POLL = "/console/voting/polls/mello"
ZONE = ZoneInfo("Europe/Stockholm")

browser = console_rig.browser  # the console's fixtures: headless Chromium, and the demo rules with two accounts
console = console_rig.console


@pytest.fixture
def studio(make_tv: MakeTV) -> Iterator[Callable[..., TV]]:
    """``studio(**make_tv options)``: the televote rig with an owner and a viewer of ``tv`` and an editor of
    ``radio``, each able to log in to the console."""

    def build(**options: Any) -> TV:
        tv = make_tv(**options)
        accounts.create(tv.redis, "tv", PRODUCER, PASSWORD, Role.OWNER)
        accounts.create(tv.redis, "tv", VIEWER, PASSWORD, Role.VIEWER)
        accounts.create(tv.redis, "radio", RADIO, PASSWORD, Role.EDITOR)
        return tv

    yield build


@contextmanager
def person(tv: TV, email: str) -> Iterator[httpx.Client]:
    """A client logged in as ``email``, keeping its cookies as a browser does."""
    with httpx.Client(base_url=tv.url) as client:
        assert log_in(client, email).status_code == 303
        yield client


def token(page: httpx.Response | str) -> str:
    """The CSRF token of a page's forms."""
    text = page if isinstance(page, str) else page.text
    found = TOKEN.search(text)
    assert found is not None, text
    return found.group(1)


def state(tv: TV) -> str:
    """The poll's state as the API says it."""
    return str(tv.result()["state"])


def test_the_section_shows_only_the_tenants_polls_and_competitions(studio: Callable[..., TV]) -> None:
    tv = studio(extra_services=contest())
    tv.sms("+46701000001", "MELLO 01")
    answers_by(tv, {"+46701000002": "X"})
    with person(tv, PRODUCER) as producer, person(tv, RADIO) as radio:
        listed = producer.get("/console/voting/")
        assert listed.status_code == 200
        assert '<a href="/console/voting/polls/mello">Melodifestivalen</a>' in listed.text
        assert '<a href="/console/voting/polls/senare">senare</a>' in listed.text
        assert '<a href="/console/voting/competitions/tavling">Veckans fråga</a>' in listed.text
        assert "topplistan" not in listed.text
        assert '<a href="/console/voting/" aria-current="page">Omröstningar</a>' in listed.text  # in the menu
        assert producer.get("/console/voting", follow_redirects=True).url.path == "/console/voting/"
        theirs = radio.get("/console/voting/").text
        assert "topplistan" in theirs and "Melodifestivalen" not in theirs and "Veckans fråga" not in theirs
        for path in [
            POLL,
            f"{POLL}/close",
            f"{POLL}/hot-button",
            "/console/voting/competitions/tavling",
            "/console/voting/competitions/tavling/draws",
            "/console/voting/competitions/tavling/draws/1/entries",
            "/console/voting/polls/nothing",
        ]:
            missing = radio.get(path)
            assert missing.status_code == 404 and "<h1>Hittades inte</h1>" in missing.text, path
        page = radio.get("/console/voting/")
        forged = radio.post(f"{POLL}/close", data={"csrf": token(page), "confirm": "yes"})
        assert forged.status_code == 404
        drawn = radio.post("/console/voting/competitions/tavling/draws", data={"csrf": token(page), "confirm": "yes"})
        assert drawn.status_code == 404
    assert state(tv) == "open" and tv.api("GET", "/competitions/tavling").json()["draws"] == 0
    assert httpx.get(f"{tv.url}{POLL}").headers["location"] == "/login?next=/console/voting/polls/mello"


def test_the_other_demo_tenant_neither_sees_nor_reaches_the_demo_poll(console: tuple[Platform, str]) -> None:
    _, url = console
    with httpx.Client(base_url=url) as secretary, httpx.Client(base_url=url) as producer:
        log_in(secretary, "sekreterare@example.se")
        log_in(producer, "producent@example.se")
        assert "Demofestivalen" in producer.get("/console/voting/").text
        assert "/console/voting" in producer.get("/console").text
        assert "/console/voting" not in secretary.get("/console").text  # no polls: no menu entry
        for path in ["/console/voting/polls/mello", "/console/voting/competitions/tavling"]:
            assert producer.get(path).status_code == 200
            assert secretary.get(path).status_code == 404


def test_the_poll_page_shows_the_result_by_channel_in_the_tenants_time(studio: Callable[..., TV]) -> None:
    opens = datetime(2026, 1, 10, 19, 0, tzinfo=UTC)  # 20:00 in Stockholm
    tv = studio(opens=opens, closes=datetime.now(UTC) + timedelta(hours=1))
    for n in range(3):
        tv.sms(f"+4670100000{n}", "MELLO 02")
    tv.ring("+46701000009", VOICE["02"])
    with person(tv, PRODUCER) as producer:
        page = producer.get(POLL).text
    assert "<tr><td>02</td><td>Bertil</td>" in page
    assert '<td class="num">4</td><td class="num">3</td><td class="num">1</td>' in page  # votes, SMS, calls
    assert '<dd id="poll-state">öppen</dd>' in page and '<dd id="total">4</dd>' in page
    assert "2026-01-10 20:00:00" in page  # opens, on the tenant's clock
    assert '<a href="/console/live?service=tv/mello">' in page


def test_closing_asks_first_needs_the_token_and_opening_again_counts_votes_again(studio: Callable[..., TV]) -> None:
    tv = studio()
    tv.sms("+46701000001", "MELLO 01")
    with person(tv, PRODUCER) as producer:
        page = producer.get(POLL)
        assert 'action="/console/voting/polls/mello/close"' in page.text
        refused = producer.post(f"{POLL}/close", data={"confirm": "yes"})  # no token: as another site would post
        assert refused.status_code == 403 and "Förfrågan nekad" in refused.text
        assert producer.post(f"{POLL}/close", data={"csrf": "forged", "confirm": "yes"}).status_code == 403
        assert state(tv) == "open"
        asked = producer.post(f"{POLL}/close", data={"csrf": token(page)})
        assert asked.status_code == 200 and "Är du säker?" in asked.text
        assert "Vill du stänga omröstningen Melodifestivalen nu?" in asked.text
        assert "Inga fler röster räknas efter detta" in asked.text
        assert 'name="confirm" value="yes"' in asked.text
        assert "Är du säker?" in producer.get(f"{POLL}/close").text  # the address itself asks too
        assert state(tv) == "open"
        done = producer.post(f"{POLL}/close", data={"csrf": token(asked), "confirm": "yes"})
        assert done.status_code == 303 and done.headers["location"] == f"{POLL}?done=closed"
        result = tv.result()
        assert result["state"] == "closed" and result["closed_by"] == PRODUCER
        tv.sms("+46701000002", "MELLO 01")  # after the close: does not count
        assert tv.votes()["01"] == 1
        closed = producer.get(done.headers["location"]).text
        assert "Omröstningen är stängd. Inga fler röster räknas." in closed
        assert '<dd id="poll-state">stängd</dd>' in closed and f"(av {PRODUCER})" in closed
        assert 'action="/console/voting/polls/mello/open"' in closed and "/close" not in closed
        again = producer.post(f"{POLL}/close", data={"csrf": token(closed), "confirm": "yes"})
        assert again.headers["location"] == f"{POLL}?done=already-closed"
        asked = producer.post(f"{POLL}/open", data={"csrf": token(closed)})
        assert "Vill du öppna omröstningen Melodifestivalen igen?" in asked.text and state(tv) == "closed"
        opened = producer.post(f"{POLL}/open", data={"csrf": token(asked), "confirm": "yes"})
        assert opened.headers["location"] == f"{POLL}?done=opened"
        assert state(tv) == "open" and tv.result()["closed_at"] is None
        tv.sms("+46701000003", "MELLO 01")  # open again: counts
        assert tv.votes()["01"] == 2
    assert tv.api("POST", "/polls/mello/close").json()["closed_now"] is True  # the API closes the same way
    assert tv.result()["closed_by"] == "api"
    reopened = tv.api("POST", "/polls/mello/open").json()
    assert reopened["opened_now"] is True and reopened["state"] == "open"
    assert tv.api("POST", "/polls/mello/open").json()["opened_now"] is False


def test_a_poll_past_its_closing_time_cannot_be_opened_again(studio: Callable[..., TV]) -> None:
    now = datetime.now(UTC)
    tv = studio(opens=now - timedelta(hours=2), closes=now - timedelta(seconds=1))
    with person(tv, PRODUCER) as producer:
        page = producer.get(POLL)
        assert '<dd id="poll-state">stängd</dd>' in page.text and "(vid sluttiden)" in page.text
        assert "/open" not in page.text and "Ändra closes: i regelfilen" in page.text
        refused = producer.post(f"{POLL}/open", data={"csrf": token(page), "confirm": "yes"})
        assert refused.status_code == 409 and "Omröstningens sluttid har passerats" in refused.text
    assert state(tv) == "closed"
    assert tv.api("POST", "/polls/mello/open").status_code == 409


def test_a_viewer_sees_results_but_no_buttons_and_cannot_post(studio: Callable[..., TV]) -> None:
    tv = studio(extra_services=contest())
    tv.ring("+46703000001", VOICE["01"])
    answers_by(tv, {"+46701000002": "X"})
    with person(tv, VIEWER) as viewer:
        page = viewer.get(POLL)
        assert page.status_code == 200 and '<td class="num">1</td>' in page.text
        assert '<form method="post" action="/console/voting' not in page.text
        contest_page = viewer.get("/console/voting/competitions/tavling")
        assert contest_page.status_code == 200 and 'id="draw"' not in contest_page.text
        fields = {"csrf": token(page), "confirm": "yes", "seconds": "60", "winners": "1"}
        for path in [
            f"{POLL}/close",
            f"{POLL}/open",
            f"{POLL}/hot-button",
            "/console/voting/competitions/tavling/draws",
        ]:
            refused = viewer.post(path, data=fields)
            assert refused.status_code == 403 and "Förfrågan nekad" in refused.text, path
            assert viewer.get(path).status_code == 403, path
    assert state(tv) == "open" and tv.elks.calls == []
    assert tv.api("GET", "/competitions/tavling").json()["draws"] == 0


def test_the_hot_button_lists_who_can_be_picked_and_calls_one_of_them(studio: Callable[..., TV]) -> None:
    tv = studio()
    callers = {"+46703000001", "+46703000002", "+46703000003"}
    for caller in sorted(callers):
        tv.ring(caller, VOICE["02"])
    tv.sms("+46703000009", "MELLO 01")  # an SMS voter is not a caller
    with person(tv, PRODUCER) as producer:
        page = producer.get(POLL)
        assert 'name="seconds"' in page.text and 'value="60"' in page.text  # the API's default
        asked = producer.post(f"{POLL}/hot-button", data={"csrf": token(page), "seconds": "60"})
        assert asked.status_code == 200 and "Är du säker?" in asked.text
        assert "3 uppringare från de senaste 60 sekunderna kan väljas just nu." in asked.text
        assert re.findall(r"<li>(\+\d+)</li>", asked.text) == sorted(callers)
        assert "+46703000009" not in asked.text
        assert 'name="seconds" value="60"' in asked.text and tv.elks.calls == []  # nothing called yet
        pressed = producer.post(f"{POLL}/hot-button", data={"csrf": token(asked), "seconds": "60", "confirm": "yes"})
        assert pressed.status_code == 200, pressed.text
        [call] = tv.elks.calls
        assert call["to"] in callers and call["from"] == VOICE["01"]
        assert f"{call['to']} valdes bland 3 uppringare" in pressed.text and call["id"] in pressed.text
        assert STUDIO in pressed.text
        [logged] = tv.api("GET", "/polls/mello/hot-button").json()["hot_button"]
        assert logged["by"] == PRODUCER and logged["picked"] == call["to"] and logged["call_id"] == call["id"]
        shown = producer.get(POLL).text
        assert f"<td>{PRODUCER}</td>" in shown and f"uppringd ({call['id']})" in shown
        left = producer.post(f"{POLL}/hot-button", data={"csrf": token(page), "seconds": "60"})
        assert "2 uppringare" in left.text and call["to"] not in re.findall(r"<li>(\+\d+)</li>", left.text)
        for _ in range(2):
            producer.post(f"{POLL}/hot-button", data={"csrf": token(page), "seconds": "60", "confirm": "yes"})
        assert {c["to"] for c in tv.elks.calls} == callers  # never the same caller twice
        nobody = producer.post(f"{POLL}/hot-button", data={"csrf": token(page), "seconds": "60", "confirm": "yes"})
        assert "Ingen har ringt de senaste 60 sekunderna som inte redan har valts." in nobody.text
        tv.ring("+46703000004", VOICE["01"])
        tv.elks.refuse["+46703000004"] = (403, "Not allowed")
        failed = producer.post(f"{POLL}/hot-button", data={"csrf": token(page), "seconds": "60", "confirm": "yes"})
        assert failed.status_code == 502 and "Samtalet kunde inte ringas" in failed.text and "elks 403" in failed.text
        refused = producer.post(f"{POLL}/hot-button", data={"seconds": "60", "confirm": "yes"})
        assert refused.status_code == 403
    assert len(tv.elks.calls) == 3


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seconds=st.text(max_size=12) | st.sampled_from(["0", "3601", "-5", " 60 ", "٣", "1e3", "9" * 30, "60"]))
def test_any_seconds_field_is_refused_by_name_or_used(console: tuple[Platform, str], seconds: str) -> None:
    _, url = console
    with httpx.Client(base_url=url) as producer:
        log_in(producer, "producent@example.se")
        page = producer.get("/console/voting/polls/mello")
        answer = producer.post("/console/voting/polls/mello/hot-button", data={"csrf": token(page), "seconds": seconds})
    wanted = seconds.strip()
    if wanted.isascii() and wanted.isdigit() and 1 <= int(wanted) <= 3600:
        # The demo's console gateway can call: the confirmation, asked before anyone is called.
        assert answer.status_code == 200 and "Är du säker?" in answer.text
    else:
        assert answer.status_code == 400 and "Ange antalet sekunder som ett heltal från 1 till 3600." in answer.text


def test_a_draw_from_the_console_is_recorded_with_its_proof_and_reported(studio: Callable[..., TV]) -> None:
    tv = studio(extra_services=contest())
    right = {"+46702000001", "+46702000002", "+46702000003"}
    answers_by(tv, dict.fromkeys(right, "X") | {"+46703000001": "1"})
    contest_path = "/console/voting/competitions/tavling"
    with person(tv, PRODUCER) as producer:
        page = producer.get(contest_path)
        assert '<dd id="entries">4</dd>' in page.text and '<dd id="eligible">3</dd>' in page.text
        assert "Inga dragningar än." in page.text
        too_many = producer.post(f"{contest_path}/draws", data={"csrf": token(page), "winners": "4"})
        assert too_many.status_code == 409 and "Det finns för få som kan vinna" in too_many.text
        bad = producer.post(f"{contest_path}/draws", data={"csrf": token(page), "winners": "två"})
        assert bad.status_code == 400 and "Ange antalet vinnare" in bad.text
        asked = producer.post(f"{contest_path}/draws", data={"csrf": token(page), "winners": "2"})
        assert "Är du säker?" in asked.text and "2 vinnare dras bland 3 som kan vinna." in asked.text
        assert tv.api("GET", "/competitions/tavling").json()["draws"] == 0
        drawn = producer.post(f"{contest_path}/draws", data={"csrf": token(asked), "winners": "2", "confirm": "yes"})
        assert drawn.status_code == 303 and drawn.headers["location"] == f"{contest_path}?drawn=1#draw-1"
        [record] = tv.api("GET", "/competitions/tavling/draws").json()["draws"]
        assert record["by"] == PRODUCER and record["eligible"] == 3 and set(record["winners"]) <= right
        shown = producer.get(f"{contest_path}?drawn=1").text
        assert "Dragning 1 är gjord." in shown and f"<code>{record['sha256']}</code>" in shown
        for winner, place in zip(record["winners"], record["places"], strict=True):
            assert f"<li>{winner} ({place})</li>" in shown
        listing = producer.get(f"{contest_path}/draws/1/entries")
        assert listing.status_code == 200 and listing.headers["content-type"].startswith("text/plain")
        assert "attachment" in listing.headers["content-disposition"]
        assert listing.content == tv.api("GET", "/competitions/tavling/draws/1/entries").content
        assert hashlib.sha256(listing.content).hexdigest() == record["sha256"]
        numbers = listing.text.splitlines()
        assert numbers == sorted(right) and [numbers[p - 1] for p in record["places"]] == record["winners"]
        assert producer.get(f"{contest_path}/draws/2/entries").status_code == 404
        assert producer.get(f"{contest_path}/draws/x/entries").status_code == 404
    today = datetime.now(ZONE).date()
    rows = report(tv, "voting.draws", today - timedelta(days=1), today + timedelta(days=1))
    assert [(r["competition"], r["draw"], r["by"], r["key"], r["eligible"], r["sha256"]) for r in rows] == [
        ("Veckans fråga", 1, PRODUCER, "X", 3, record["sha256"])
    ] * 2
    assert [(r["winner"], r["place"]) for r in rows] == list(zip(record["winners"], record["places"], strict=True))
    assert report(tv, "voting.draws", today - timedelta(days=9), today - timedelta(days=2)) == []


def report(tv: TV, name: str, since: date, until: date, fmt: str = "json") -> Any:
    """Report ``name`` from the JSON API with the tenant's key."""
    answer = tv.http.get(
        f"{tv.url}/api/reports/{name}",
        params={"since": since.isoformat(), "until": until.isoformat(), "format": fmt},
        headers={"Authorization": f"Bearer {tv.key}"},
    )
    assert answer.status_code == 200, answer.text
    return answer.json() if fmt == "json" else answer.content


def vote_at(tv: TV, moment: datetime, text: str, sender: str) -> None:
    """A vote received at ``moment`` (handled directly, for votes on other days)."""
    inbound = Inbound.create(
        sender=sender,
        recipient="72500",
        text=text,
        gateway="k1",
        message_id=f"at-{moment.timestamp()}-{sender}",
        received_at=moment,
    )
    outcome = tv.platform.handle(inbound)
    assert outcome.status == "handled" and outcome.guard is None, outcome


def test_the_results_report_counts_the_votes_of_its_period(studio: Callable[..., TV]) -> None:
    now = datetime.now(UTC)
    tv = studio(opens=now - timedelta(days=10), closes=now + timedelta(hours=1))
    earlier = now - timedelta(days=3)
    vote_at(tv, earlier, "MELLO 01", "+46701000001")
    vote_at(tv, earlier, "MELLO 03", "+46701000002")
    tv.sms("+46701000003", "MELLO 01")
    tv.sms("+46701000004", "MELLO 1")
    tv.ring("+46701000005", VOICE["02"])
    today = now.astimezone(ZONE).date()
    assert report(tv, "voting.results", today, today) == [
        {
            "poll": "Melodifestivalen",
            "service": "tv/mello",
            "code": "01",
            "option": "Anna",
            "votes": 2,
            "sms": None,
            "calls": None,
        },
        {
            "poll": "Melodifestivalen",
            "service": "tv/mello",
            "code": "02",
            "option": "Bertil",
            "votes": 1,
            "sms": None,
            "calls": None,
        },
        {
            "poll": "Melodifestivalen",
            "service": "tv/mello",
            "code": "03",
            "option": "Cilla",
            "votes": 0,
            "sms": None,
            "calls": None,
        },
    ]  # part of the poll is outside the period: its counts by channel are not the period's
    whole = report(tv, "voting.results", today - timedelta(days=5), today)
    assert [(r["code"], r["votes"], r["sms"], r["calls"]) for r in whole] == [
        ("01", 3, 3, 0),
        ("02", 1, 0, 1),
        ("03", 1, 1, 0),
    ]
    assert sum(r["votes"] for r in whole) == tv.result()["total"]
    assert report(tv, "voting.results", today - timedelta(days=9), today - timedelta(days=4)) == []
    assert report(tv, "voting.results", today + timedelta(days=1), today + timedelta(days=2)) == []
    # The API gives the report's own rows, and the downloads the same figures.
    period = Period(today - timedelta(days=5), today, "Europe/Stockholm")
    assert [list(r.values()) for r in whole] == [list(r) for r in RESULTS.rows(tv.platform, "tv", period)]
    since, until = today - timedelta(days=5), today
    csv = report(tv, "voting.results", since, until, "csv").decode("utf-8-sig").splitlines()
    assert csv[0] == "Omröstning;Tjänst;Kod;Alternativ;Röster;Varav sms;Varav samtal"
    assert csv[1] == "Melodifestivalen;tv/mello;01;Anna;3;3;0"
    book = openpyxl.load_workbook(io.BytesIO(report(tv, "voting.results", since, until, "xlsx")), read_only=True)
    sheet = book.active
    assert sheet is not None
    cells = [list(row) for row in sheet.iter_rows(values_only=True)]
    assert cells[1:] == [
        ["Melodifestivalen", "tv/mello", "01", "Anna", 3, 3, 0],
        ["Melodifestivalen", "tv/mello", "02", "Bertil", 1, 0, 1],
        ["Melodifestivalen", "tv/mello", "03", "Cilla", 1, 1, 0],
    ]
    radio = apikeys.create(tv.redis, "radio")
    theirs = tv.http.get(f"{tv.url}/api/reports/voting.results", headers={"Authorization": f"Bearer {radio}"})
    assert theirs.status_code == 200 and theirs.json() == []  # their own poll, without votes
    listed = tv.http.get(f"{tv.url}/api/reports", headers={"Authorization": f"Bearer {tv.key}"}).json()["reports"]
    names = {r["name"] for r in listed}
    assert "voting.results" in names and "voting.draws" not in names  # no competition here: no draws report


def test_the_reports_are_only_for_tenants_with_polls_or_competitions(console: tuple[Platform, str]) -> None:
    platform, url = console
    forening = apikeys.create(platform.redis, "demo-forening")
    for name in ("voting.results", "voting.draws"):
        answer = httpx.get(f"{url}/api/reports/{name}", headers={"Authorization": f"Bearer {forening}"})
        assert answer.status_code == 404, name
    tv = apikeys.create(platform.redis, "demo-tv")
    assert httpx.get(f"{url}/api/reports/voting.draws", headers={"Authorization": f"Bearer {tv}"}).json() == []


def arrives(driver: webdriver.Chrome, path: str) -> None:
    """Wait until the browser's address holds ``path`` (a click starts a navigation; it does not wait for it)."""
    WebDriverWait(driver, 10).until(expected_conditions.url_contains(path))


def test_a_producer_closes_the_poll_through_the_confirmation_in_a_browser(
    browser: webdriver.Chrome,
    console: tuple[Platform, str],
) -> None:
    platform, url = console
    browser.get(f"{url}/login?next=/console/voting/")
    browser.find_element(By.ID, "email").send_keys("producent@example.se")
    browser.find_element(By.ID, "password").send_keys(PASSWORD)
    browser.find_element(By.CSS_SELECTOR, "main form button[type=submit]").click()
    arrives(browser, "/console/voting/")
    browser.find_element(By.LINK_TEXT, "Demofestivalen").click()
    arrives(browser, "/console/voting/polls/mello")
    assert browser.find_element(By.ID, "poll-state").text == "öppen"
    browser.find_element(By.ID, "close").click()
    arrives(browser, "/console/voting/polls/mello/close")
    assert "Är du säker?" in browser.find_element(By.ID, "question").text
    width = browser.execute_script("return document.documentElement.clientWidth")
    assert browser.execute_script("return document.documentElement.scrollWidth") <= width
    browser.find_element(By.ID, "yes").click()
    arrives(browser, "done=closed")
    assert browser.find_element(By.ID, "poll-state").text == "stängd"
    assert "Omröstningen är stängd" in browser.find_element(By.CSS_SELECTOR, "[role=status]").text
    assert browser.execute_script("return document.documentElement.scrollWidth") <= width
    assert platform.redis.exists("kodeord:{s:demo-tv/mello}:voting:closed")

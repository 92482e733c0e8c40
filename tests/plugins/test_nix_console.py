"""NIX-Telefon in the console, over real HTTP and in a real browser: the register's version, a number checked
(by anyone, a viewer too), a list uploaded, washed and downloaded (editors and owners), each recorded in the
tenant's own history only; CSRF, roles, bad and too-large files, and a semicolon sheet washed in Chromium."""

from __future__ import annotations

import csv
import hashlib
import io
import re
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

from kodeord.platform import Platform
from kodeord.plugins.nix.history import entries
from kodeord.plugins.nix.register import open_register
from kodeord.plugins.nix.result import add_months
from kodeord.plugins.nix.usage import usage
from kodeord.web.console import accounts
from kodeord.web.console.accounts import Role

from ..web.console.conftest import PASSWORD, TOKEN, browser, console, log_in, screenshot  # noqa: F401

SECRETARY, PRODUCER, READER = "sekreterare@example.se", "producent@example.se", "lasare@example.se"
VERSION = date.today() - timedelta(days=2)
SHEET = (  # as Swedish Excel saves "CSV (semikolonavgränsad)": Windows-1252, semicolons, CR LF
    "Förnamn;Mobil;Företag\r\nÅsa;070-111 22 33;\r\nBjörn;070-999 88 77;\r\nCecilia;12;\r\n"
    "Firma AB;08-123 456 78;ja\r\n"
).encode("cp1252")


@pytest.fixture
def nix(console: tuple[Platform, str], tmp_path: Path) -> tuple[Platform, str]:  # noqa: F811
    platform, url = console
    source = tmp_path / "nix.txt"
    source.write_text("08-123 456 78\n070-111 22 33\n", encoding="utf-8")
    open_register(platform).import_version(source, VERSION, by="test")
    accounts.create(platform.redis, "demo-forening", READER, PASSWORD, Role.VIEWER)
    return platform, url


@contextmanager
def signed_in(url: str, email: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=url, timeout=30) as client:
        assert log_in(client, email).status_code == 303
        yield client


def token(client: httpx.Client) -> str:
    found = TOKEN.search(client.get("/console/nix/").text)
    assert found is not None
    return found.group(1)


def test_the_page_shows_the_version_and_checks_a_number_for_anyone(nix: tuple[Platform, str]) -> None:
    platform, url = nix
    assert httpx.get(f"{url}/console/nix/").status_code == 303  # to the login page
    with signed_in(url, READER) as reader:
        shown = reader.get("/console/nix/")
        assert shown.status_code == 200 and "NIX-Telefon" in shown.text
        assert f"Version från {VERSION.isoformat()}" in shown.text and "med 2 nummer" in shown.text
        assert f"till och med {add_months(VERSION, 2).isoformat()}" in shown.text
        assert 'action="/console/nix/wash"' not in shown.text  # a viewer checks, but does not wash
        assert "Bara redaktörer och ägare kan tvätta listor." in shown.text
        assert reader.post("/console/nix/check", data={"number": "070-111 22 33"}).status_code == 403  # no token
        csrf = token(reader)
        registered = reader.post("/console/nix/check", data={"csrf": csrf, "number": "070-111 22 33"})
        assert registered.status_code == 200
        answer = re.search(r'<div class="answer (\w+)" id="answer"', registered.text)
        assert answer is not None and answer.group(1) == "registered"
        clear = reader.post("/console/nix/check", data={"csrf": csrf, "number": "070-999 88 77"})
        assert f"får ringas till och med {add_months(VERSION, 2).isoformat()}" in clear.text
        invalid = reader.post("/console/nix/check", data={"csrf": csrf, "number": "12"})
        assert "Inget giltigt nummer:" in invalid.text and "too short" in invalid.text
        assert reader.post("/console/nix/check", data={"csrf": csrf, "number": " "}).status_code == 400
        refused = reader.post("/console/nix/wash", data={"csrf": csrf}, files={"file": ("a.csv", SHEET, "text/csv")})
        assert refused.status_code == 403
    found = list(entries(platform, "demo-forening"))
    assert [(e.kind, e.by, e.rows, e.registered, e.clear, e.invalid) for e in found] == [
        ("check", READER, 1, 1, 0, 0),
        ("check", READER, 1, 0, 1, 0),
        ("check", READER, 1, 0, 0, 1),
    ]
    assert sum(usage(platform, "demo-forening").values()) == 3


def test_an_editor_uploads_a_list_and_gets_it_washed_and_only_its_tenant_sees_the_history(
    nix: tuple[Platform, str],
) -> None:
    platform, url = nix
    with signed_in(url, SECRETARY) as secretary:
        csrf = token(secretary)
        files = {"file": ("ringlista.csv", SHEET, "text/csv")}
        assert secretary.post("/console/nix/wash", data={"mode": "mark"}, files=files).status_code == 403
        washed = secretary.post(
            "/console/nix/wash", data={"csrf": csrf, "mode": "mark", "business": "Företag"}, files=files
        )
        assert washed.status_code == 200, washed.text
        assert "ringlista-tv%C3%A4ttad.csv" in washed.headers["content-disposition"]
        rows = list(csv.reader(io.StringIO(washed.content.decode("cp1252")), delimiter=";"))
        assert [row[-2:] for row in rows] == [
            ["nix_status", "nix_callable_until"],
            ["registered", ""],
            ["clear", add_months(VERSION, 2).isoformat()],
            ["invalid", ""],
            ["business", ""],
        ]
        removed = secretary.post("/console/nix/wash", data={"csrf": csrf, "mode": "remove"}, files=files)
        assert [row[0] for row in csv.reader(io.StringIO(removed.content.decode("cp1252")), delimiter=";")] == [
            "Förnamn",
            "Björn",
            "Cecilia",
        ]
        report = secretary.get("/console/reports/nix.history")
        assert report.status_code == 200 and "ringlista.csv" in report.text
        assert hashlib.sha256(SHEET).hexdigest() in report.text
    found = list(entries(platform, "demo-forening"))
    assert [(e.by, e.file, e.mode, e.rows, e.registered, e.business, e.sha256) for e in found] == [
        (SECRETARY, "ringlista.csv", "mark", 4, 1, 1, hashlib.sha256(SHEET).hexdigest()),
        (SECRETARY, "ringlista.csv", "remove", 4, 2, 0, hashlib.sha256(SHEET).hexdigest()),
    ]
    with signed_in(url, PRODUCER) as producer:
        theirs = producer.get("/console/reports/nix.history")
        assert theirs.status_code == 200 and "ringlista.csv" not in theirs.text
        assert list(entries(platform, "demo-tv")) == []


def test_a_bad_or_too_large_list_gets_a_page_saying_why_and_nothing_is_recorded(nix: tuple[Platform, str]) -> None:
    platform, url = nix
    with signed_in(url, SECRETARY) as secretary:
        csrf = token(secretary)
        no_phone = secretary.post(
            "/console/nix/wash", data={"csrf": csrf}, files={"file": ("adresser.csv", b"Namn;Ort\r\nAnna;Lund\r\n")}
        )
        assert no_phone.status_code == 422
        assert "Listan gick inte att tvätta:" in no_phone.text and "adresser.csv:1: no phone column" in no_phone.text
        wide = secretary.post(
            "/console/nix/wash", data={"csrf": csrf}, files={"file": ("bred.csv", b"Telefon\n1\n" + b";" * 4999)}
        )
        assert wide.status_code == 422 and "bred.csv:3: a row of 5000 columns; at most 1000" in wide.text
        binary = secretary.post(
            "/console/nix/wash", data={"csrf": csrf}, files={"file": ("bild.csv", b"Telefon\n\x00\x89PNG")}
        )
        assert binary.status_code == 422 and "bild.csv:2: a binary file" in binary.text
        none = secretary.post("/console/nix/wash", data={"csrf": csrf}, files={"other": ("x", b"", "text/plain")})
        assert none.status_code == 400 and "Välj en fil att tvätta." in none.text
        cookies = "; ".join(f"{name}={value}" for name, value in secretary.cookies.items())
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        sock.sendall(
            b"POST /console/nix/wash HTTP/1.1\r\nHost: x\r\nCookie: " + cookies.encode() + b"\r\n"
            b"Content-Type: multipart/form-data; boundary=b\r\nContent-Length: 100000000\r\n\r\n--b\r\n"
        )
        big = sock.recv(65536).decode("utf-8", "replace")
    assert big.startswith("HTTP/1.1 413") and "Filen är större än 50 MB" in big
    assert list(entries(platform, "demo-forening")) == [] and usage(platform, "demo-forening") == {}


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(content=st.binary(max_size=300), name=st.text(max_size=40))
def test_any_uploaded_file_gets_a_washed_file_or_a_page_never_a_500(
    nix: tuple[Platform, str], content: bytes, name: str
) -> None:
    _, url = nix
    with signed_in(url, SECRETARY) as secretary:
        csrf = token(secretary)
        answer = secretary.post(
            "/console/nix/wash", data={"csrf": csrf, "mode": "mark"}, files={"file": (name or "x", content)}
        )
    assert answer.status_code in (200, 400, 422), answer.text
    if answer.status_code != 200:
        assert "<h1>NIX-Telefon</h1>" in answer.text


def test_a_secretary_washes_a_semicolon_sheet_in_the_browser(
    browser: webdriver.Chrome,  # noqa: F811
    nix: tuple[Platform, str],
    tmp_path: Path,
) -> None:
    platform, url = nix
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    sheet = tmp_path / "ringlista.csv"
    sheet.write_bytes(SHEET)
    browser.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)})
    browser.get(f"{url}/login")
    browser.find_element(By.ID, "email").send_keys(SECRETARY)
    browser.find_element(By.ID, "password").send_keys(PASSWORD)
    browser.find_element(By.CSS_SELECTOR, "main form button[type=submit]").click()
    WebDriverWait(browser, 10).until(expected_conditions.url_to_be(f"{url}/console"))
    browser.find_element(By.LINK_TEXT, "NIX-Telefon").click()
    WebDriverWait(browser, 10).until(expected_conditions.url_to_be(f"{url}/console/nix/"))
    assert VERSION.isoformat() in browser.find_element(By.ID, "version").text
    width = browser.execute_script("return document.documentElement.clientWidth")
    assert browser.execute_script("return document.documentElement.scrollWidth") <= width
    screenshot(browser, "console-nix")

    browser.find_element(By.ID, "number").send_keys("070-999 88 77")
    browser.find_element(By.ID, "check").click()
    WebDriverWait(browser, 10).until(lambda b: b.find_elements(By.ID, "answer"))
    assert "fritt" in browser.find_element(By.ID, "answer").text

    browser.find_element(By.ID, "file").send_keys(str(sheet))
    browser.find_element(By.ID, "mode-mark").click()
    browser.find_element(By.ID, "business").send_keys("Företag")
    browser.find_element(By.ID, "wash").click()
    WebDriverWait(browser, 20).until(lambda _: list(downloads.glob("ringlista-tv*ttad.csv")))
    [saved] = downloads.glob("ringlista-tv*ttad.csv")
    rows = list(csv.reader(io.StringIO(saved.read_bytes().decode("cp1252")), delimiter=";"))
    assert [row[-2] for row in rows] == ["nix_status", "registered", "clear", "invalid", "business"]
    assert rows[1][:2] == ["Åsa", "070-111 22 33"]
    [check, wash] = list(entries(platform, "demo-forening"))
    assert (check.kind, wash.kind, wash.file, wash.sha256) == (
        "check",
        "wash",
        "ringlista.csv",
        hashlib.sha256(SHEET).hexdigest(),
    )

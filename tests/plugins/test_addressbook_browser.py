"""The address book's toolbox in a real browser (headless Chromium, a phone-sized screen), as a secretary uses
it: import the members' sheet saved from Swedish Excel, check the preview, import; write a broadcast, check
it, send it and watch its progress page until it says it is done."""

from __future__ import annotations

import json
from pathlib import Path

from selenium import webdriver
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

from kodeord.outbound.gateway import console_inbox_key
from kodeord.outbound.sender import Sender
from kodeord.platform import Platform
from kodeord.plugins.addressbook.admin import ListAdmin

from ..web.console.conftest import PASSWORD, browser, console, screenshot  # noqa: F401

SECRETARY = "sekreterare@example.se"
SHEET = (  # as Swedish Excel saves "CSV (semikolonavgränsad)": Windows-1252, semicolons, CR LF
    "Förnamn;Efternamn;Mobil;E-post\r\n"
    "Åsa;Öberg;070-100 00 01;asa@example.se\r\n"
    "Björn;Ek;0701000002;\r\n"
    "Cecilia;Lind;;cecilia@example.se\r\n"
    "Fel;Nummer;12;\r\n"
).encode("cp1252")


def arrives(driver: webdriver.Chrome, url: str) -> None:
    """Wait until the browser has gone to ``url`` (a click starts a navigation; it does not wait for it)."""
    WebDriverWait(driver, 10).until(expected_conditions.url_to_be(url))


def fits(driver: webdriver.Chrome) -> None:
    """Nothing on the page runs off the side of the phone's screen."""
    width = driver.execute_script("return document.documentElement.clientWidth")
    assert width == 390 and driver.execute_script("return document.documentElement.scrollWidth") <= width


def test_a_secretary_imports_a_semicolon_sheet_and_follows_a_broadcast_to_the_end(
    browser: webdriver.Chrome,  # noqa: F811
    console: tuple[Platform, str],  # noqa: F811
    tmp_path: Path,
) -> None:
    platform, url = console
    ListAdmin(platform, "demo-forening", by="test").set_options("adressbok", {"admins": [SECRETARY]})
    sheet = tmp_path / "medlemmar.csv"
    sheet.write_bytes(SHEET)
    list_page = f"{url}/console/lists/adressbok"

    browser.get(f"{url}/login")
    browser.find_element(By.ID, "email").send_keys(SECRETARY)
    browser.find_element(By.ID, "password").send_keys(PASSWORD)
    browser.find_element(By.CSS_SELECTOR, "main form button[type=submit]").click()
    arrives(browser, f"{url}/console")
    browser.find_element(By.LINK_TEXT, "Adressböcker").click()
    arrives(browser, f"{url}/console/lists/")
    browser.find_element(By.LINK_TEXT, "Demoföreningen").click()
    arrives(browser, list_page)
    browser.find_element(By.ID, "add").click()
    arrives(browser, f"{list_page}/add")

    # The sheet, through the form's file input: a preview first, nothing imported yet.
    browser.find_element(By.ID, "file").send_keys(str(sheet))
    browser.find_element(By.ID, "upload").click()
    arrives(browser, f"{list_page}/import")
    assert browser.find_element(By.ID, "added").text == "3"
    assert browser.find_element(By.ID, "refused-count").text == "1"
    assert [row.text for row in browser.find_elements(By.CSS_SELECTOR, "#refused tbody tr")] == ["5 12 ogiltigt nummer"]
    first = [row.text for row in browser.find_elements(By.CSS_SELECTOR, "#first tbody tr")]
    assert first[0] == "2 +46701000001 asa@example.se Åsa Öberg"
    fits(browser)
    screenshot(browser, "console-lists-import")
    browser.find_element(By.ID, "confirm").click()
    WebDriverWait(browser, 10).until(lambda b: b.current_url.startswith(f"{list_page}?tab=members"))
    assert "Importerade medlemmar: 3." in browser.find_element(By.CSS_SELECTOR, "[role=status]").text
    people = [row.text for row in browser.find_elements(By.CSS_SELECTOR, "#people tbody tr")]
    assert [row.split(" ")[0] for row in people] == ["+46701000001", "+46701000002", "cecilia@example.se"]
    fits(browser)
    screenshot(browser, "console-lists-members")

    # A broadcast: written, checked (what the SMS will be, in how many parts), sent, followed to the end.
    browser.find_element(By.ID, "new-broadcast").click()
    arrives(browser, f"{list_page}/broadcast")
    browser.find_element(By.ID, "text").send_keys("Årsmötet flyttas till torsdag kl. 19.")
    browser.find_element(By.ID, "subject").send_keys("Årsmötet")  # Åsa and Cecilia get it by email too
    browser.find_element(By.ID, "check").click()
    assert browser.find_element(By.ID, "body").text == "Årsmötet flyttas till torsdag kl. 19."
    assert "1 sms per mottagare" in browser.find_element(By.ID, "segments").text
    fits(browser)
    browser.find_element(By.ID, "send").click()
    WebDriverWait(browser, 10).until(lambda b: "/broadcasts/console" in b.current_url)
    progress = browser.current_url
    assert browser.find_element(By.ID, "state").text == "Väntar på att börja …"
    sender = Sender(platform, gateway=platform.gateways["console"])  # the sender, here in the test's process
    while sender.run_once():
        pass
    try:  # the page reloads itself every two seconds until it is done
        WebDriverWait(browser, 15).until(lambda b: "Klart" in b.find_element(By.ID, "state").text)
    except TimeoutException:
        raise AssertionError(f"the progress page never said it was done: {browser.page_source}") from None
    assert browser.current_url == progress
    counts = {key: browser.find_element(By.ID, key).text for key in ("queued", "sent", "failed")}
    assert counts == {"queued": "4", "sent": "4", "failed": "0"}  # two by SMS, two by email
    assert not browser.find_elements(By.CSS_SELECTOR, "meta[http-equiv=refresh]")
    fits(browser)
    screenshot(browser, "console-lists-broadcast")
    for address in ("+46701000001", "+46701000002", "asa@example.se", "cecilia@example.se"):
        [delivered] = [json.loads(raw) for raw in platform.redis.lrange(console_inbox_key(address), 0, -1)]
        assert delivered["text"] == "Årsmötet flyttas till torsdag kl. 19.", address
        assert delivered["meta"]["subject"] == "Årsmötet", address

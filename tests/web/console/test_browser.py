"""The console in a real browser (headless Chromium): log in through the form, see the tenant's page, be
refused a forged form, log out."""

from __future__ import annotations

import httpx
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

from kodeord.platform import Platform

from .conftest import PASSWORD


def arrives(browser: webdriver.Chrome, url: str) -> None:
    """Wait until the browser has gone to ``url`` (a click starts a navigation; it does not wait for it)."""
    WebDriverWait(browser, 10).until(expected_conditions.url_to_be(url))


def type_login(browser: webdriver.Chrome, email: str, password: str) -> None:
    """Fill in the login form on the page and send it."""
    field = browser.find_element(By.ID, "email")
    field.clear()
    field.send_keys(email)
    browser.find_element(By.ID, "password").send_keys(password)
    browser.find_element(By.CSS_SELECTOR, "main form button[type=submit]").click()


def test_a_secretary_logs_in_sees_the_association_and_logs_out(
    browser: webdriver.Chrome, console: tuple[Platform, str]
) -> None:
    _, url = console
    browser.get(f"{url}/console")
    arrives(browser, f"{url}/login?next=/console")
    type_login(browser, "sekreterare@example.se", "fel lösenord!")
    assert "Fel e-postadress eller lösenord" in browser.find_element(By.CSS_SELECTOR, "[role=alert]").text
    type_login(browser, "sekreterare@example.se", PASSWORD)
    arrives(browser, f"{url}/console")
    assert browser.find_element(By.TAG_NAME, "h1").text == "Demoföreningen"
    assert "adressbok" in browser.find_element(By.TAG_NAME, "table").text
    assert "sekreterare@example.se (redaktör)" in browser.find_element(By.CSS_SELECTOR, "header .who").text
    # Another tenant's pages are not found, exactly like pages that do not exist.
    for other in ("/console/voting/polls/mello", "/console/live?service=demo-tv/mello", "/console/lists/nope"):
        browser.get(f"{url}{other}")
        assert browser.find_element(By.TAG_NAME, "h1").text == "Hittades inte", other
    session = {c["name"]: c for c in browser.get_cookies()}["kodeord_session"]
    assert session["httpOnly"] and session["sameSite"] == "Lax"
    # A form posted without the page's token (as another site could make the browser do) is refused.
    forged = httpx.post(f"{url}/logout", cookies={"kodeord_session": session["value"]}, data={"csrf": ""})
    assert forged.status_code == 403
    browser.find_element(By.CSS_SELECTOR, "header button[type=submit]").click()
    arrives(browser, f"{url}/login")
    browser.get(f"{url}/console")
    arrives(browser, f"{url}/login?next=/console")


def test_a_producer_tries_a_vote_from_the_rules_page_on_a_phone_sized_screen(
    browser: webdriver.Chrome, console: tuple[Platform, str]
) -> None:
    _, url = console
    browser.get(f"{url}/login")
    type_login(browser, "producent@example.se", PASSWORD)
    browser.find_element(By.LINK_TEXT, "Regler").click()
    arrives(browser, f"{url}/console/rules")
    browser.find_element(By.ID, "text").send_keys("MELLO 03")
    browser.find_element(By.CSS_SELECTOR, "main form button[type=submit]").click()
    result = browser.find_element(By.ID, "result").text
    assert "demo-tv/mello" in result and "voting.vote" in result and "Svar till +46701234567" in result
    width = browser.execute_script("return document.documentElement.clientWidth")
    assert width == 390 and browser.execute_script("return document.documentElement.scrollWidth") <= width

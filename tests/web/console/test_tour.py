"""Every console page in a real browser, as a producer and a secretary go through them: each fits a phone's
screen, a report downloads as xlsx with the right cells, and (with ``make screenshots``) each is pictured for
docs/console.md."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import openpyxl
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from kodeord.inbound.messages import Inbound
from kodeord.platform import Platform

from .conftest import PASSWORD, screenshot
from .test_browser import arrives, type_login


def visit(browser: webdriver.Chrome, url: str, name: str) -> None:
    """Open ``url``, check it fits a 390 px screen and has a heading, and picture it as ``name``."""
    browser.get(url)
    assert browser.find_element(By.TAG_NAME, "h1").text
    width = browser.execute_script("return document.documentElement.clientWidth")
    assert browser.execute_script("return document.documentElement.scrollWidth") <= width, f"{url} is too wide"
    screenshot(browser, name)


def test_a_producer_goes_through_every_page_and_downloads_a_report(
    browser: webdriver.Chrome,
    console: tuple[Platform, str],
    make_inbound: Callable[..., Inbound],
    tmp_path: Path,
) -> None:
    platform, url = console
    for n, text in enumerate(["MELLO 01", "MELLO 02", "MELLO 02", "TÄVLA X", "GE"]):
        platform.handle(make_inbound(text, sender=f"+4670999000{n}"))
    visit(browser, f"{url}/login", "console-login")
    type_login(browser, "producent@example.se", PASSWORD)
    arrives(browser, f"{url}/console")
    screenshot(browser, "console-home")
    visit(browser, f"{url}/console/messages", "console-messages")
    browser.find_element(By.CSS_SELECTOR, "#messages tbody a").click()
    WebDriverWait(browser, 10).until(lambda b: "/console/messages/" in b.current_url)
    visit(browser, browser.current_url, "console-message")
    visit(browser, f"{url}/console/rules", "console-rules")
    visit(browser, f"{url}/console/voting/", "console-voting")
    visit(browser, f"{url}/console/voting/polls/mello", "console-poll")
    visit(browser, f"{url}/console/voting/competitions/tavling", "console-competition")
    visit(browser, f"{url}/console/reports", "console-reports")

    # A report, downloaded as the browser saves it, read back with openpyxl.
    browser.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(tmp_path)})
    visit(browser, f"{url}/console/reports/traffic.days", "console-report")
    browser.find_element(By.CSS_SELECTOR, "#downloads a[href*='format=xlsx']").click()
    WebDriverWait(browser, 20).until(lambda _: list(tmp_path.glob("traffic.days_*.xlsx")))
    [saved] = tmp_path.glob("traffic.days_*.xlsx")
    sheet = openpyxl.load_workbook(saved).active
    rows = [[c.value for c in row] for row in sheet.iter_rows()]
    today = datetime.now(ZoneInfo("Europe/Stockholm")).date()
    assert rows[0][:3] == ["Dag", "Tjänst", "SMS in"]
    by_service = {r[1]: r for r in rows[1:]}
    assert by_service["demo-tv/mello"][0] == datetime(today.year, today.month, today.day)
    assert by_service["demo-tv/mello"][2] == 3 and by_service["demo-tv/gava"][2] == 1

    # The same console in English.
    browser.find_element(By.CSS_SELECTOR, "header .lang a").click()
    WebDriverWait(browser, 10).until(lambda b: b.find_element(By.TAG_NAME, "html").get_attribute("lang") == "en")
    assert browser.find_element(By.TAG_NAME, "h1").text == "Traffic per day"
    visit(browser, f"{url}/console", "console-english")

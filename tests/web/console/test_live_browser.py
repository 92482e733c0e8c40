"""The live graph in a real browser: it moves as votes arrive, and its totals follow the result."""

from __future__ import annotations

from collections.abc import Callable

from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from kodeord.inbound.messages import Inbound
from kodeord.platform import Platform

from .conftest import PASSWORD, screenshot
from .test_browser import arrives, type_login


def test_a_producer_watches_the_graph_move_while_votes_arrive(
    browser: webdriver.Chrome, console: tuple[Platform, str], make_inbound: Callable[..., Inbound]
) -> None:
    platform, url = console
    browser.get(f"{url}/login?next=/console/live?service=demo-tv/mello")
    type_login(browser, "producent@example.se", PASSWORD)
    arrives(browser, f"{url}/console/live?service=demo-tv/mello")
    state = browser.find_element(By.ID, "state")
    WebDriverWait(browser, 10).until(lambda _: state.text == "Uppdateras varje sekund.")
    assert browser.find_elements(By.CSS_SELECTOR, "#traffic-graph canvas, #votes-graph canvas")
    live = browser.find_element(By.ID, "live")
    before = int(live.get_attribute("data-drawn") or 0)
    for n, code in enumerate(["02", "02", "01"]):
        platform.handle(make_inbound(f"MELLO {code}", sender=f"+4670666000{n}"))
    anna = browser.find_element(By.CSS_SELECTOR, '#votes td[data-metric="vote:02"]')
    WebDriverWait(browser, 10).until(lambda _: anna.text == "2")
    # Three SMS in and three votes: the lines the graphs draw have moved by six.
    WebDriverWait(browser, 10).until(lambda _: int(live.get_attribute("data-drawn") or 0) >= before + 6)
    assert browser.find_element(By.CSS_SELECTOR, '#totals td[data-metric="in:sms"]').text == "3"
    screenshot(browser, "console-live")

"""The phone simulator in a real browser (headless Chromium), as someone trying the demo uses it: text a
number and see the reply, switch phones, see a broadcast arrive later, call a voice number, on a phone-sized
screen and at 1280 px."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from selenium import webdriver
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

from kodeord.outbound.gateway import ConsoleCaller
from kodeord.outbound.sender import Sender
from kodeord.platform import Platform, demo_rules
from kodeord.web import apikeys
from kodeord.web.app import create_app

from .console.conftest import browser, screenshot  # noqa: F401

MEMBER, WRITER = "+46701234567", "+46701234568"
LIST_NUMBER, VOTE_01 = "+46766861004", "+469912341"
WELCOME = "Välkommen till Demoföreningen! Du får nu våra utskick. Svara STOPP för att avsluta."

Site = tuple[Platform, str]


@pytest.fixture
def demo(make_platform: Callable[..., Platform], serve: Callable[[Any], str]) -> Iterator[Site]:
    """The demo rules served with the simulator, and a sender delivering to the console gateway meanwhile, as
    ``kodeord demo`` runs them: (platform, base URL)."""
    platform = make_platform(list(demo_rules()), environ={"KODEORD_SECRET_KEY": "test"})
    stop = threading.Event()
    sender = Sender(platform, gateway=platform.gateways["console"])
    worker = threading.Thread(target=sender.run, args=(stop,), daemon=True)
    worker.start()
    try:
        yield platform, serve(create_app(platform, simulator_enabled=True))
    finally:
        stop.set()
        worker.join(10)


def entries(driver: webdriver.Chrome) -> list[str]:
    """The thread as shown: each entry's bubble and notes, one string per entry."""
    return [item.text for item in driver.find_elements(By.CSS_SELECTOR, "#thread .entry")]


def shows(driver: webdriver.Chrome, *words: str) -> list[str]:
    """Wait until one entry of the thread shows all of ``words`` (the page polls every second); the thread."""
    try:
        WebDriverWait(driver, 10).until(lambda b: any(all(w in e for w in words) for e in entries(b)))
    except TimeoutException:
        raise AssertionError(f"no entry shows {words}; the thread: {entries(driver)}") from None
    return entries(driver)


def type_sms(driver: webdriver.Chrome, to: str, text: str) -> None:
    Select(driver.find_element(By.ID, "to")).select_by_value(to)
    driver.find_element(By.ID, "text").send_keys(text)
    driver.find_element(By.CSS_SELECTOR, "#compose button[type=submit]").click()


def fits(driver: webdriver.Chrome, width: int) -> None:
    """The page is ``width`` wide and nothing sticks out sideways."""
    assert driver.execute_script("return document.documentElement.clientWidth") == width
    assert driver.execute_script("return document.documentElement.scrollWidth") <= width


def test_a_member_texts_switches_phones_sees_a_broadcast_arrive_and_calls_to_vote(
    browser: webdriver.Chrome,  # noqa: F811
    demo: Site,
) -> None:
    platform, url = demo
    browser.get(f"{url}/simulator")
    assert browser.find_element(By.TAG_NAME, "h1").text == "Telefonsimulator"
    assert browser.find_element(By.ID, "me").text == MEMBER
    assert "Inga meddelanden än" in browser.find_element(By.ID, "thread").text
    type_sms(browser, LIST_NUMBER, "START")
    thread = shows(browser, WELCOME, "levererat")
    assert "START" in thread[0] and "Taget av demo-forening/adressbok, regel list." in thread[0]
    assert len(thread) == 2 and f"från {LIST_NUMBER}" in thread[1]
    fits(browser, 390)

    # Another phone, made a writer of the list, has a conversation of its own.
    key = apikeys.create(platform.redis, "demo-forening", "browser")
    made = httpx.post(
        f"{url}/api/addressbook/lists/adressbok/writers",
        json={"address": WRITER},
        headers={"Authorization": f"Bearer {key}"},
    )
    assert made.status_code == 201
    browser.find_element(By.CSS_SELECTOR, f'[data-phone="{WRITER}"]').click()
    WebDriverWait(browser, 10).until(lambda b: b.find_element(By.ID, "me").text == WRITER)
    assert browser.current_url == f"{url}/simulator?phone=%2B46701234568"
    assert browser.find_element(By.CSS_SELECTOR, "[aria-current=page]").text == WRITER
    WebDriverWait(browser, 10).until(lambda b: "Inga meddelanden än" in b.find_element(By.ID, "thread").text)
    type_sms(browser, LIST_NUMBER, "Årsmöte på torsdag")
    shows(browser, "Ditt utskick skickas till 1 mottagare i Demoföreningen.", "levererat")

    # Back on the member's phone, the broadcast has arrived after the welcome.
    browser.find_element(By.CSS_SELECTOR, f'[data-phone="{MEMBER}"]').click()
    thread = shows(browser, "Årsmöte på torsdag", "utskick")
    assert len(thread) == 3 and WELCOME in thread[1]

    # A call to a voice number: a vote for entry 01, answered with the recording (or the studio).
    browser.find_element(By.CSS_SELECTOR, f'.calls button[data-number="{VOTE_01}"]').click()
    thread = shows(browser, f"Samtal till {VOTE_01}", "Taget av demo-tv/mello, regel vote.")
    assert "Inspelningen spelades upp: https://media.example.com/demo-tv/tack.mp3" in thread[-1] or (
        "Kopplad till studion +46860010000" in thread[-1]
    )
    # The producer presses the hot button: the call to this phone arrives later, connecting it to the studio.
    platform.gateways["console"] = ConsoleCaller(platform.redis)  # the demo's gateway, placing calls too
    producer = apikeys.create(platform.redis, "demo-tv", "browser")
    pressed = httpx.post(
        f"{url}/api/voting/polls/mello/hot-button",
        json={"seconds": 60},
        headers={"Authorization": f"Bearer {producer}"},
    )
    assert pressed.status_code == 200 and pressed.json()["picked"] == MEMBER
    shows(browser, f"Samtal från {VOTE_01}", "Kopplad till studion +46860010000")
    fits(browser, 390)
    screenshot(browser, "simulator", 1280)


def test_a_rejected_message_is_shown_as_rejected_and_the_page_works_at_1280_px(
    browser: webdriver.Chrome,  # noqa: F811
    demo: Site,
) -> None:
    _, url = demo
    browser.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride", {"width": 1280, "height": 900, "deviceScaleFactor": 1, "mobile": False}
    )
    browser.get(f"{url}/simulator?phone=0701234569")
    assert browser.find_element(By.ID, "me").text == "+46701234569"
    type_sms(browser, "72500", "HEJSAN")
    shows(browser, "HEJSAN", "Avvisat: Okänt kodord: inget kodord på 72500 passar meddelandet.")
    bubble = browser.find_element(By.CSS_SELECTOR, "#thread .entry.sent.rejected .bubble")
    assert bubble.value_of_css_property("border-top-color") == "rgba(198, 40, 40, 1)"  # framed in red
    fits(browser, 1280)
    # Side by side: the phones, the phone and the help in one row.
    boxes = [browser.find_element(By.CSS_SELECTOR, css).rect for css in (".phones", ".phone", ".help")]
    assert boxes[0]["x"] + boxes[0]["width"] <= boxes[1]["x"] and boxes[1]["x"] + boxes[1]["width"] <= boxes[2]["x"]
    assert {round(box["y"]) for box in boxes} == {round(boxes[0]["y"])}
    assert boxes[1]["width"] >= 360

"""A headless Chromium for the console's browser tests: Debian's ``chromium`` and ``chromium-driver``, which
``make test`` installs (as root), driven through selenium."""

from __future__ import annotations

import os
import re
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

from kodeord.platform import Platform, demo_rules
from kodeord.web.app import create_app
from kodeord.web.console import accounts
from kodeord.web.console.accounts import Role

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[webdriver.Chrome]:
    """A fresh headless Chromium (its own profile), 390 px wide as a phone in the studio; quit after the test."""
    missing = [path for path in (CHROMIUM, CHROMEDRIVER) if not Path(path).exists() and not shutil.which(path)]
    if missing:
        pytest.fail(
            f"the console's browser tests need {' and '.join(missing)}: `make test` installs Debian's chromium and "
            "chromium-driver when run as root; otherwise run `sudo apt-get install chromium chromium-driver`"
        )
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",  # as root in a container
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",  # this machine's network is closed: no calls home
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--window-size=390,844",
        f"--user-data-dir={tmp_path / 'profile'}",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    # A window is never narrower than about 500 px: a phone's screen is emulated instead.
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride", {"width": 390, "height": 844, "deviceScaleFactor": 1, "mobile": True}
    )
    driver.implicitly_wait(5)
    try:
        yield driver
    finally:
        driver.quit()


def screenshot(browser: webdriver.Chrome, name: str, width: int = 1280) -> None:
    """Save the page as ``<name>.png`` for the docs, when ``KODEORD_SCREENSHOTS`` names a folder (``make
    screenshots``), at ``width`` pixels (then back to the phone's width)."""
    folder = os.environ.get("KODEORD_SCREENSHOTS")
    if not folder:
        return
    metrics = {"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": width < 500}
    browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)
    try:
        height = browser.execute_script("return document.documentElement.scrollHeight")
        browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics | {"height": min(int(height), 2400)})
        time.sleep(0.3)  # the page reflows (and a graph resizes) before the picture
        Path(folder).mkdir(parents=True, exist_ok=True)
        browser.save_screenshot(str(Path(folder) / f"{name}.png"))
    finally:
        phone = {"width": 390, "height": 844, "deviceScaleFactor": 1, "mobile": True}
        browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", phone)


PASSWORD = "korrekt häst batteri"
TOKEN = re.compile(r'name="csrf" value="([^"]+)"')


@pytest.fixture
def console(make_platform: Callable[..., Platform], serve: Callable[[Any], str]) -> tuple[Platform, str]:
    """A platform with the demo rules and an account in each demo tenant, served: (platform, base URL)."""
    platform = make_platform(list(demo_rules()), environ={"KODEORD_SECRET_KEY": "test"})
    accounts.create(platform.redis, "demo-forening", "sekreterare@example.se", PASSWORD, Role.EDITOR)
    accounts.create(platform.redis, "demo-tv", "producent@example.se", PASSWORD, Role.OWNER)
    return platform, serve(create_app(platform))


def log_in(client: httpx.Client, email: str, password: str = PASSWORD, after: str = "") -> httpx.Response:
    """Log in through the form as a browser does (its token from the page, the cookie kept by ``client``)."""
    form = client.get("/login", params={"next": after} if after else None)
    token = TOKEN.search(form.text)
    assert token is not None
    fields = {"csrf": token.group(1), "email": email, "password": password, "next": after or "/console"}
    return client.post("/login", data=fields)

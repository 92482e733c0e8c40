"""`kodeord demo` as a customer runs it: embedded Redis, simulator, START answered, clean exit."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

KODEORD = str(Path(sys.executable).parent / "kodeord")


def wait_for(check: object, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if check():  # type: ignore[operator]
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    return False


def test_demo_answers_start_and_stops_its_redis(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("KODEORD_")}
    env |= {"KODEORD_DATA_DIR": str(tmp_path / "var"), "KODEORD_LOG_LEVEL": "WARNING"}
    demo = subprocess.Popen(
        [KODEORD, "demo", "--port", str(port)], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    url = f"http://127.0.0.1:{port}"
    try:
        assert wait_for(lambda: httpx.get(f"{url}/healthz").status_code == 200, 30)
        assert httpx.get(url, follow_redirects=False).headers["location"] == "/simulator"
        assert demo.stdout is not None
        logins = {}
        while len(logins) < 2:  # printed before the web app started
            line = demo.stdout.readline().decode()
            if line.startswith("console login for "):
                tenant, credentials = line.removeprefix("console login for ").split(": ", 1)
                logins[tenant] = credentials.strip().split(" / ")
        email, password = logins["demo-tv"]
        with httpx.Client(base_url=url) as browser:
            token = re.search(r'name="csrf" value="([^"]+)"', browser.get("/login").text)
            assert token is not None
            browser.post("/login", data={"csrf": token.group(1), "email": email, "password": password})
            assert "<h1>Demo-TV AB</h1>" in browser.get("/console").text
        answer = httpx.post(
            f"{url}/simulator/send", json={"from": "+46701234567", "to": "+46766861004", "text": "START"}
        )
        assert answer.json()["replies"][0]["text"].startswith("Välkommen till Demoföreningen!")
        pid = int((tmp_path / "var" / "redis.pid").read_text())

        def delivered() -> bool:
            inbox = httpx.get(f"{url}/simulator/inbox", params={"phone": "+46701234567"}).json()
            return any(m["text"].startswith("Välkommen") for m in inbox["messages"])

        assert wait_for(delivered, 10)
    finally:
        demo.send_signal(signal.SIGINT)
        demo.wait(30)
        assert demo.stdout is not None
        demo.stdout.close()

    def redis_gone() -> bool:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        return False

    assert wait_for(redis_gone, 10)
    assert (tmp_path / "var" / "appendonly.aof").stat().st_size > 0

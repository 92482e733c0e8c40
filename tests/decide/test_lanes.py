"""One tenant's slow templates do not hold up another tenant's messages in the same web process."""

from __future__ import annotations

import asyncio
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from kodeord.decide import lanes as lanes_module
from kodeord.decide import templating
from kodeord.decide.lanes import SWITCH_INTERVAL_S, Lanes
from kodeord.platform import Platform
from kodeord.web.app import create_app

from ..conftest import RADIO_RULES, kannel_gateways

SLOW = """\
tenant: {id: slow}
numbers: [{number: "72500"}]
services:
  - id: vote
    number: "72500"
    keyword: MELLO
    rules: [{name: vote, reply: "{% for i in range(90000) %}{% endfor %}Tack"}]
"""


def test_a_quick_tenant_is_answered_while_a_slow_tenants_renders_run(
    make_platform: Callable[..., Platform], serve: Callable[..., str], tmp_path: Path
) -> None:
    (tmp_path / "slow.yaml").write_text(SLOW, encoding="utf-8")
    (tmp_path / "quick.yaml").write_text(RADIO_RULES, encoding="utf-8")
    (tmp_path / "gateways.yaml").write_text(kannel_gateways("http://127.0.0.1:9/cgi-bin/sendsms"), encoding="utf-8")
    platform = make_platform(
        [tmp_path / "slow.yaml", tmp_path / "quick.yaml"],
        gateways=tmp_path / "gateways.yaml",
        template_ms=5000,
        routing_threads=8,
    )
    url = serve(create_app(platform))
    done: dict[str, float] = {}

    def vote(key: str, to: str, text: str) -> None:
        params = {"from": f"+4670123{len(key):04d}", "to": to, "text": text, "id": key, "secret": "s3cret"}
        answer = httpx.get(f"{url}/gateways/k1/kannel", params=params, timeout=60)
        assert answer.status_code == 200 and answer.headers["x-kodeord-status"] == "handled"
        done[key] = time.monotonic()

    slow = [threading.Thread(target=vote, args=(f"slow-{n}", "72500", "MELLO 1")) for n in range(8)]
    for thread in slow:
        thread.start()
    time.sleep(0.05)  # the slow tenant's messages arrived first
    vote("quick", "72600", "QUIZ B")
    for thread in slow:
        thread.join(60)
    order = sorted(done, key=done.__getitem__)
    assert len(order) == 9
    # The slow tenant holds half of the routing threads; the quick one is answered before the slow tenant's
    # messages that waited for a lane (on the event loop, it waited for every one of them). The four that
    # started 50 ms before it may finish first on a busy machine.
    assert order.index("quick") <= 4, order


def test_a_key_holds_at_most_half_of_the_lanes() -> None:
    lanes = Lanes(4)
    running, most = 0, 0
    lock = threading.Lock()

    def work() -> None:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        time.sleep(0.05)
        with lock:
            running -= 1

    async def both() -> None:
        await asyncio.gather(*(lanes.run("t", work) for _ in range(6)), lanes.run("other", work))

    asyncio.run(both())
    assert most == 3  # two for "t", one for "other"
    lanes.close()


def test_a_tenant_found_slow_goes_to_the_lanes_and_the_interpreter_switches_often_while_they_work(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    lanes = Lanes(4)
    normal = sys.getswitchinterval()
    seen: list[tuple[str, float]] = []

    def burn() -> None:  # a render of 20,000 loop steps: about 20 ms
        templating.render("{% for i in range(20000) %}{% endfor %}Tack", {})
        seen.append((threading.current_thread().name, sys.getswitchinterval()))

    async def twice() -> None:
        await lanes.route("slow", burn)  # on the loop (this thread), found slow
        await lanes.route("slow", burn)  # in a lane
        await lanes.route("quick", lambda: seen.append((threading.current_thread().name, sys.getswitchinterval())))

    asyncio.run(twice())
    lanes.close()
    assert [name.startswith("routing") for name, _ in seen] == [False, True, False]
    assert [interval for _, interval in seen] == [normal, SWITCH_INTERVAL_S, normal]
    assert sys.getswitchinterval() == normal and lanes.slow("slow") and not lanes.slow("quick")
    real = time.monotonic
    monkeypatch.setattr(lanes_module.time, "monotonic", lambda: real() + 2 * lanes_module.SLOW_FOR_S)
    assert not lanes.slow("slow")  # for a while only

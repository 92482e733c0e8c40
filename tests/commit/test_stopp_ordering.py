"""STOPP is absolute: once a member's STOPP is answered, no more of a running broadcast reaches the gateway.

A broadcast to thousands of members goes out through a fake Kannel that logs when each message reaches it,
while members whose messages are still to come send STOPP through the Kannel webhook over HTTP, from
several connections at once. Each STOPP's answer is timed; no broadcast message to a member may reach the
gateway after that member's STOPP was answered.
"""

from __future__ import annotations

import itertools
import random
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest

from kodeord.inbound.messages import Inbound
from kodeord.outbound.gateway import Outgoing, RecordingGateway, Report, Sent
from kodeord.outbound.sender import Sender
from kodeord.platform import Platform
from kodeord.plugins.addressbook.admin import ListAdmin
from kodeord.testing.fakekannel import FakeKannel, running
from kodeord.web.app import create_app

from ..addressbook_rig import OPEN, RULES
from ..conftest import free_port, kannel_gateways

MEMBERS = 6000
STOPPS = 150
WRITER = "+46709000001"
TEXT = "Årsmötet flyttas till torsdag."


def member(n: int) -> str:
    """The n-th member: numbers that page in the order of ``n``."""
    return f"+4670{n:07d}"


@dataclass
class TimedKannel(FakeKannel):
    """A fake Kannel that logs when each message reached it: (recipient, text, monotonic time)."""

    log: list[tuple[str, str, float]] = field(default_factory=list)

    def respond(self, target: str) -> tuple[int, bytes] | None:
        """Answer as the fake does, and log an accepted message with the time it arrived."""
        arrived = time.monotonic()
        answer = super().respond(target)
        if answer is not None and answer[0] == 202:
            params = dict(parse_qsl(urlsplit(target).query))
            self.log.append((params["to"], params["text"], arrived))
        return answer


@pytest.fixture
def kannel() -> Iterator[TimedKannel]:
    with running(TimedKannel()) as fake:
        yield fake  # type: ignore[misc]


def test_no_broadcast_message_reaches_the_gateway_after_a_stopp_is_answered(
    make_platform: Callable[..., Platform], serve: Callable[..., str], tmp_path: Path, kannel: TimedKannel
) -> None:
    gateways = tmp_path / "gateways.yaml"
    gateways.write_text(kannel_gateways(kannel.url, connections=16), encoding="utf-8")
    rules = tmp_path / "forening.yaml"
    rules.write_text(RULES, encoding="utf-8")
    port = free_port()
    platform = make_platform([rules], gateways=gateways, public_url=f"http://127.0.0.1:{port}", secret_key="k")
    url = serve(create_app(platform), port)
    admin = ListAdmin(platform, "forening", by="test", channel="cli")
    admin.set_role("medlemmar", "writers", WRITER, True)
    admin.import_members("medlemmar", [(member(n), "") for n in range(MEMBERS)], "test import")
    ids = itertools.count(1)

    def sms(client: httpx.Client, sender: str, text: str) -> float:
        """Text the list through the webhook; return when the answer arrived."""
        params = {"from": sender, "to": OPEN, "text": text, "id": f"in-{next(ids)}", "secret": "s3cret"}
        answer = client.get(f"{url}/gateways/k1/kannel", params=params)
        assert answer.status_code == 200, answer.text
        return time.monotonic()

    def broadcast_log() -> list[tuple[str, float]]:
        return [(to, at) for to, text, at in list(kannel.log) if text.startswith(TEXT)]

    stop_sending = threading.Event()
    sender = Sender(platform)
    sending = threading.Thread(target=sender.run, args=(stop_sending, 0.005), daemon=True)
    sending.start()
    answered: dict[str, float] = {}  # member -> when their STOPP was answered
    chosen: set[str] = set()
    lock = threading.Lock()
    rng = random.Random(4)

    def send_stopps() -> None:
        with httpx.Client(timeout=30) as client:
            while True:
                progress = len(broadcast_log())
                with lock:
                    if len(chosen) >= STOPPS or progress >= MEMBERS - len(chosen):
                        return
                    # Members a few hundred places ahead: in the batch being sent, not yet handed over.
                    n = progress + rng.randint(20, 600)
                    if n >= MEMBERS:
                        return
                    if member(n) in chosen:
                        continue
                    chosen.add(member(n))
                at = sms(client, member(n), "STOPP")
                with lock:
                    answered[member(n)] = at

    try:
        with httpx.Client(timeout=30) as client:
            sms(client, WRITER, TEXT)
        deadline = time.monotonic() + 60
        while not broadcast_log() and time.monotonic() < deadline:
            time.sleep(0.001)
        stoppers = [threading.Thread(target=send_stopps) for _ in range(4)]
        for thread in stoppers:
            thread.start()
        for thread in stoppers:
            thread.join(120)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            receipt = any(to == WRITER for to, _, _ in list(kannel.log))
            if receipt and sender.oldest_unsent_age() is None:
                break
            time.sleep(0.05)
    finally:
        stop_sending.set()
        sending.join(30)

    handed: dict[str, list[float]] = defaultdict(list)
    for to, at in broadcast_log():
        handed[to].append(at)
    first, last = min(t for ts in handed.values() for t in ts), max(t for ts in handed.values() for t in ts)
    late = {m: round(max(handed[m]) - at, 4) for m, at in answered.items() if handed[m] and max(handed[m]) > at}
    # The race was run: members STOPPed mid-broadcast while their message was still to come.
    raced = [m for m, at in answered.items() if first < at < last and not any(t <= at for t in handed[m])]
    assert len(raced) >= 10, f"only {len(raced)} STOPPs landed while their member's message was pending"
    assert late == {}, f"{len(late)} members got the broadcast after their STOPP was answered (seconds late): {late}"
    # Nobody else lost the message or got it twice.
    assert all(len(handed[member(n)]) == 1 for n in range(MEMBERS) if member(n) not in answered)
    assert all(len(handed[m]) <= 1 for m in answered)


class HeldGateway(RecordingGateway):
    """A recording gateway whose first call with broadcast messages is held until the test lets it go."""

    def __init__(self) -> None:
        super().__init__()
        self.entered, self.go = threading.Event(), threading.Event()
        self.returned_at = 0.0

    def send(self, batch: Sequence[Outgoing], report: Report) -> None:
        """Record the batch, after the first call was let go; ``returned_at``: when it took the held batch (its
        answers are reported after that)."""
        first = not self.entered.is_set() and any(item.message.text == TEXT for item in batch)
        if first:
            self.entered.set()
            self.go.wait(10)

        def answered(*sent: Sent) -> None:
            if first and not self.returned_at:
                self.returned_at = time.monotonic()
            report(*sent)

        super().send(batch, answered)


@pytest.mark.parametrize("held", [0.3, 3.0])  # a slow gateway: longer than a hand-over's lease (2 s)
def test_a_stopp_is_answered_only_after_the_group_in_hand_over_to_its_sender(
    make_platform: Callable[..., Platform], make_inbound: Callable[..., Inbound], held: float
) -> None:
    platform = make_platform(RULES)
    admin = ListAdmin(platform, "forening", by="test", channel="cli")
    admin.set_role("medlemmar", "writers", WRITER, True)
    admin.import_members("medlemmar", [(member(n), "") for n in range(3)], "test import")
    gateway = HeldGateway()
    platform.handle(make_inbound(TEXT, to=OPEN, sender=WRITER))
    stop_sending = threading.Event()
    sending = threading.Thread(target=Sender(platform, gateway=gateway).run, args=(stop_sending, 0.005))
    sending.start()
    answered: list[float] = []
    try:
        assert gateway.entered.wait(10)  # vetted, and being handed over
        stopping = threading.Thread(
            target=lambda: answered.append(
                platform.handle(make_inbound("STOPP", to=OPEN, sender=member(1))) and time.monotonic()
            )
        )
        stopping.start()
        stopping.join(held)
        assert answered == []  # waits for the group to be out
        gateway.go.set()
        stopping.join(10)
    finally:
        gateway.go.set()
        stop_sending.set()
        sending.join(10)
    assert answered and answered[0] >= gateway.returned_at
    assert sorted(m.to for m in gateway.sent if m.text == TEXT) == [member(0), member(1), member(2)]

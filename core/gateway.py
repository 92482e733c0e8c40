"""Gateways send outgoing messages; this module holds their interface and the built-ins.

Real SMS gateways (Kannel, 46elks, JSON webhooks) are plugins of their own.
The console gateway used by the demo keeps what it "sends" in Redis so the
phone simulator can show it on the recipient's phone.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import redis

from kodeord.keys import PREFIX
from kodeord.messages import Outbound

log = logging.getLogger(__name__)
CONSOLE_KEEP = 50  # messages kept per simulated phone


@dataclass(frozen=True)
class Sent:
    """What a gateway did with one message."""

    message_id: str
    ok: bool
    reason: str = ""


class Gateway(Protocol):
    """Anything with a name that can send a batch of messages."""

    name: str

    def send(self, batch: Sequence[tuple[str, Outbound]]) -> list[Sent]:
        """Send ``(message id, message)`` pairs; report one ``Sent`` per message."""
        ...


def console_inbox_key(address: str) -> str:
    """Where the console gateway keeps messages to one (simulated) phone."""
    return f"{PREFIX}:console:{address}"


class ConsoleGateway:
    """Logs each message and keeps the last few per recipient in Redis."""

    name = "console"

    def __init__(self, client: redis.Redis) -> None:
        self.redis = client

    def send(self, batch: Sequence[tuple[str, Outbound]]) -> list[Sent]:
        """Record every message; always succeeds."""
        pipe = self.redis.pipeline(transaction=False)
        for message_id, message in batch:
            log.info("console gateway: %s -> %s: %s", message.sender, message.to, message.text)
            key = console_inbox_key(message.to)
            pipe.lpush(key, json.dumps({"id": message_id, **message.to_dict()}, ensure_ascii=False))
            pipe.ltrim(key, 0, CONSOLE_KEEP - 1)
        pipe.execute()
        return [Sent(message_id, True) for message_id, _ in batch]


class RecordingGateway:
    """Keeps every message in memory; the partner test kit's fake gateway."""

    name = "recording"

    def __init__(self) -> None:
        self.sent: list[Outbound] = []
        self.ids: list[str] = []
        self._lock = threading.Lock()

    def send(self, batch: Sequence[tuple[str, Outbound]]) -> list[Sent]:
        """Record every message; always succeeds."""
        with self._lock:
            for message_id, message in batch:
                self.ids.append(message_id)
                self.sent.append(message)
        return [Sent(message_id, True) for message_id, _ in batch]

    def texts_to(self, address: str) -> list[str]:
        """Texts sent to ``address``, in order."""
        return [m.text for m in self.sent if m.to == address]

"""Gateways: what a gateway is to the sender, the gateway types plugins register, and the built-ins.

A *gateway type* (``kannel``, ``elks``, ``json``) is registered by a plugin; the gateways file configures
*gateways* of those types, each with an id. The console gateway used by the demo keeps what it "sends" in
Redis so the phone simulator can show it; the recording gateway is the partner test kit's fake.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import redis

from kodeord.commit.keys import platform_key
from kodeord.commit.records import Status as Status  # what gateway types report with (re-exported)
from kodeord.inbound.messages import Outbound
from kodeord.support.errors import KodeordError
from kodeord.support.httpclient import HttpClient

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response

    from kodeord.config.schema import Record

log = logging.getLogger(__name__)
CONSOLE_KEEP = 50  # messages kept per simulated phone


@dataclass(frozen=True)
class Outgoing:
    """One message on its way: the scope whose outbox holds it, its id (the idempotency key) and the message."""

    scope: str
    id: str
    message: Outbound
    attempt: int = 1

    @property
    def ref(self) -> str:
        """``scope|id``: names the message in delivery-report URLs and callbacks."""
        return f"{self.scope}|{self.id}"


@dataclass(frozen=True)
class Sent:
    """What a gateway did with one message: ``sent``, ``retry`` (a temporary error) or ``failed``."""

    id: str
    result: str  # "sent", "retry" or "failed"
    reason: str = ""
    gateway_ref: str = ""  # the gateway's own id of the message, if it gave one

    @classmethod
    def ok(cls, message_id: str, gateway_ref: str = "") -> Sent:
        """Accepted by the gateway."""
        return cls(message_id, "sent", "", gateway_ref)


class Report(Protocol):
    """``report(sent, ...)``: the fate of one or more messages, as soon as the gateway answered for them."""

    def __call__(self, *sent: Sent) -> None: ...


class Gateway(Protocol):
    """Anything that can send messages. ``send`` reports each message as soon as its fate is known."""

    id: str
    charging: bool  # can pass a price on (premium messages)
    rate: float  # messages per second across all workers; 0 means no limit

    def send(self, batch: Sequence[Outgoing], report: Report) -> None:
        """Send the batch; report each message once, right after the gateway answered for it (several at once
        when several answers arrived together: their statuses are then written in one round trip)."""
        ...


def send_groups(gateway: Gateway, groups: Iterator[Sequence[Outgoing]], report: Report) -> None:
    """Send ``groups`` one after another, each taken from the iterator only when it is its turn.

    A gateway may define ``send_groups(groups, report)`` itself, to take the next group while the answers for
    the last are still coming (the ``kannel`` type does); any other gets one ``send`` per group.
    """
    own = getattr(gateway, "send_groups", None)
    if own is not None:
        own(groups, report)
        return
    for group in groups:
        gateway.send(group, report)


class CallFailed(KodeordError):
    """A gateway could not place a call; the message says why."""

    http_status = 502


@runtime_checkable
class Caller(Protocol):
    """A gateway that can also place calls (46elks' ``POST /a1/calls``): the voice gateway of a poll."""

    id: str

    def place_call(self, caller_id: str, to: str, actions: Mapping[str, Any]) -> str:
        """Call ``to`` from ``caller_id``; when answered, run ``actions`` (46elks-style call actions, e.g.
        ``{"connect": "+468..."}``). Return the gateway's call id; raise :class:`CallFailed` if refused."""
        ...


class RequestPerMessage:
    """Base of gateways that make one HTTP request per message, ``connections`` at once on threads.

    A subclass sets ``id``, ``connections`` and ``http`` (a :class:`kodeord.support.httpclient.HttpClient`) and
    defines ``send_one(item) -> Sent``; each message is reported the moment its answer arrives.
    """

    id: str
    connections: int
    http: HttpClient
    _pool: ThreadPoolExecutor | None = None

    def send_one(self, item: Outgoing) -> Sent:
        """Send one message and say what became of it."""
        raise NotImplementedError

    def send(self, batch: Sequence[Outgoing], report: Report) -> None:
        """Send each message with its own request, ``connections`` at a time, reporting each at once."""
        if self.connections == 1 or len(batch) == 1:
            for item in batch:
                report(self.send_one(item))
            return
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.connections, thread_name_prefix=f"gateway-{self.id}")
        futures = [self._pool.submit(lambda item: report(self.send_one(item)), item) for item in batch]
        for future in futures:
            future.result()  # re-raise a failure to report; unreported messages are retried by the sender

    def close(self) -> None:
        """Stop the sending threads and close every connection (the platform calls this)."""
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None
        self.http.close()


Endpoint = Callable[["Request", Any], Awaitable["Response"]]


@dataclass(frozen=True)
class GatewayType:
    """A kind of gateway a plugin offers: its options (for the gateways file) and how to build one.

    ``build(gateway_id, options, context)`` returns the gateway; ``options`` are the checked values of the
    ``options`` record. ``endpoints(gateway)`` maps sub-paths (``"kannel"``, ``"kannel/dlr"``) to async
    handlers ``handler(request, platform)``, served at ``/gateways/<gateway id>/<sub-path>``.
    """

    name: str
    options: Record
    build: Callable[[str, Mapping[str, Any], GatewayContext], Gateway]
    endpoints: Callable[[Any], Mapping[str, Endpoint]] = lambda gateway: {}
    description: str = ""


@dataclass(frozen=True)
class GatewayContext:
    """What a gateway needs from the platform when it is built."""

    public_url: str  # where gateways reach Kodeord (delivery reports), without a trailing slash
    secret_key: str  # signs callback URLs
    extra: Mapping[str, Any] = field(default_factory=dict)


def console_inbox_key(address: str) -> str:
    """Where the console gateway keeps messages to one (simulated) phone."""
    return platform_key("console", address)


class ConsoleGateway:
    """Logs each message and keeps the last few per recipient in Redis, each with when it was "delivered"
    (``at``, milliseconds since the epoch) so the simulator can place it among what the phone sent."""

    id = "console"
    charging = True
    rate = 0.0

    def __init__(self, client: redis.Redis) -> None:
        self.redis = client

    def send(self, batch: Sequence[Outgoing], report: Report) -> None:
        """Record every message; always succeeds."""
        pipe = self.redis.pipeline(transaction=False)
        at = int(time.time() * 1000)
        for item in batch:
            message = item.message
            log.info("console gateway: %s -> %s: %s", message.sender, message.to, message.text)
            key = console_inbox_key(message.to)
            pipe.lpush(key, json.dumps({"id": item.id, "at": at, **message.to_dict()}, ensure_ascii=False))
            pipe.ltrim(key, 0, CONSOLE_KEEP - 1)
        pipe.execute()
        for item in batch:
            report(Sent.ok(item.id))


class ConsoleCaller(ConsoleGateway):
    """The console gateway that places calls too, for a platform with no other gateway (the demo): a call is
    kept in the called phone's list like a message, with the call actions it would run when answered, so the
    simulator shows a hot-button call."""

    def place_call(self, caller_id: str, to: str, actions: Mapping[str, Any]) -> str:
        """Record the call; return its id."""
        call_id = f"call-{uuid.uuid4().hex}"
        log.info("console gateway: call %s -> %s: %s", caller_id, to, json.dumps(actions))
        call = {"id": call_id, "at": int(time.time() * 1000), "to": to, "from": caller_id, "text": ""}
        key = console_inbox_key(to)
        pipe = self.redis.pipeline(transaction=False)
        pipe.lpush(key, json.dumps({**call, "channel": "call", "actions": dict(actions)}, ensure_ascii=False))
        pipe.ltrim(key, 0, CONSOLE_KEEP - 1)
        pipe.execute()
        return call_id


class RecordingGateway:
    """Keeps every message in memory; the partner test kit's fake gateway.

    ``fail`` maps a recipient to ``("retry" | "failed", reason)`` to make the gateway refuse messages to them.
    """

    id = "recording"
    charging = True
    rate = 0.0

    def __init__(self) -> None:
        self.sent: list[Outbound] = []
        self.ids: list[str] = []
        self.fail: dict[str, tuple[str, str]] = {}
        self._lock = threading.Lock()

    def send(self, batch: Sequence[Outgoing], report: Report) -> None:
        """Record every message (or refuse it, per ``fail``)."""
        for item in batch:
            refusal = self.fail.get(item.message.to)
            if refusal is not None:
                report(Sent(item.id, refusal[0], refusal[1]))
                continue
            with self._lock:
                self.ids.append(item.id)
                self.sent.append(item.message)
            report(Sent.ok(item.id))

    def texts_to(self, address: str) -> list[str]:
        """Texts sent to ``address``, in order."""
        return [m.text for m in self.sent if m.to == address]

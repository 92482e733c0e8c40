"""Alerts over a real Redis, a real SMTP server (aiosmtpd) and a real HTTP receiver."""

from __future__ import annotations

import email
import json
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import default as default_policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
import redis
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session

from kodeord.inbound.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify
from kodeord.watch.alerts import (
    OLDEST_UNSENT,
    Alert,
    AlertConfig,
    AlertConfigError,
    Monitor,
    gateway_cause,
    key_for,
    send_webhook,
)

SECRET = "webhook-secret"
NOW = 1_700_000_000.0
GATEWAY = "kannel-telia"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Mailbox:
    """An aiosmtpd handler that keeps every message it accepts."""

    def __init__(self) -> None:
        self.envelopes: list[Envelope] = []

    async def handle_DATA(self, server: Any, session: Session, envelope: Envelope) -> str:
        self.envelopes.append(envelope)
        return "250 OK"

    def messages(self) -> list[EmailMessage]:
        return [
            email.message_from_bytes(e.original_content or b"", _class=EmailMessage, policy=default_policy)
            for e in self.envelopes
        ]


@dataclass
class Smtp:
    port: int
    mailbox: Mailbox
    logins: list[tuple[str, str]] = field(default_factory=list)


@pytest.fixture
def smtp() -> Iterator[Smtp]:
    """A real SMTP server on loopback that accepts any login (and notes it) without TLS."""
    server = Smtp(free_port(), Mailbox())

    def authenticate(smtp: Any, session: Session, envelope: Envelope, mechanism: str, data: Any) -> AuthResult:
        assert isinstance(data, LoginPassword)
        server.logins.append((data.login.decode(), data.password.decode()))
        return AuthResult(success=True)

    controller = Controller(
        server.mailbox, hostname="127.0.0.1", port=server.port, authenticator=authenticate, auth_require_tls=False
    )
    controller.start()
    yield server
    controller.stop()


@dataclass
class Receiver:
    url: str
    requests: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    status: int = 204

    def bodies(self) -> list[dict[str, Any]]:
        return [json.loads(body) for _, body in self.requests]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A real HTTP server on loopback that keeps every POST and answers ``receiver.status``."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    got = Receiver(f"http://127.0.0.1:{server.server_address[1]}/hooks/kodeord")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            got.requests.append((dict(self.headers.items()), body))
            self.send_response(got.status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server.RequestHandlerClass = Handler
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    yield got
    server.shutdown()
    server.server_close()
    thread.join(5)


@pytest.fixture
def config(smtp: Smtp, receiver: Receiver) -> Callable[..., AlertConfig]:
    """``config(**overrides)``: alerts to both test servers."""

    def make(**overrides: Any) -> AlertConfig:
        settings: dict[str, Any] = {
            "emails": ("ops@example.com", "oncall@example.com"),
            "smtp_host": "127.0.0.1",
            "smtp_port": smtp.port,
            "smtp_from": "kodeord@example.com",
            "webhook_url": receiver.url,
            "webhook_secret": SECRET,
        }
        return AlertConfig(**{**settings, **overrides})

    return make


def test_failure_rate_alerts_once_across_workers(
    kodeord_redis: redis.Redis, config: Callable[..., AlertConfig], smtp: Smtp, receiver: Receiver
) -> None:
    workers = [Monitor(kodeord_redis, config()), Monitor(kodeord_redis, config())]
    workers[0].record(GATEWAY, sent=20, failed=4, now=NOW - 100)
    workers[1].record(GATEWAY, sent=8, failed=8, now=NOW - 5)
    workers[1].record("elks", sent=40, failed=0, now=NOW - 5)

    sent = [workers[i % 2].check(None, now=NOW + i) for i in range(10)]

    assert [len(alerts) for alerts in sent] == [1] + [0] * 9
    alert = sent[0][0]
    assert alert.cause == f"gateway-failures:{GATEWAY}" == gateway_cause(GATEWAY)
    assert alert.message == "gateway kannel-telia failed 12 of 40 messages (30%) in the last 300 s; threshold 20%"
    assert (alert.value, alert.threshold, alert.at.timestamp()) == (0.3, 0.2, NOW)

    [envelope] = smtp.mailbox.envelopes
    assert envelope.mail_from == "kodeord@example.com"
    assert envelope.rcpt_tos == ["ops@example.com", "oncall@example.com"]
    [mail] = smtp.mailbox.messages()
    assert mail["Subject"] == "[Kodeord alert] gateway-failures:kannel-telia"
    assert mail["To"] == "ops@example.com, oncall@example.com"
    assert mail.get_content().splitlines()[0] == alert.message
    assert "Threshold: 0.2" in mail.get_content()
    assert smtp.logins == []

    [(headers, body)] = receiver.requests
    assert headers["Content-Type"] == "application/json"
    verify(SECRET, body, headers[TIMESTAMP_HEADER], headers[SIGNATURE_HEADER])
    assert json.loads(body) == {"type": "alert", **alert.to_dict()}


def test_alerts_again_once_the_interval_has_passed(
    kodeord_redis: redis.Redis, config: Callable[..., AlertConfig], smtp: Smtp, receiver: Receiver
) -> None:
    monitor = Monitor(kodeord_redis, config(interval_s=0.3))
    monitor.record(GATEWAY, sent=0, failed=30, now=NOW)
    assert len(monitor.check(None, now=NOW)) == 1
    assert monitor.check(None, now=NOW + 1) == []
    time.sleep(0.4)  # the claim is a Redis expiry, which runs on Redis's clock
    assert len(monitor.check(None, now=NOW + 2)) == 1
    assert monitor.check(None, now=NOW + 3) == []
    assert (len(smtp.mailbox.envelopes), len(receiver.requests)) == (2, 2)


def test_no_alert_below_min_attempts(
    kodeord_redis: redis.Redis, config: Callable[..., AlertConfig], smtp: Smtp
) -> None:
    monitor = Monitor(kodeord_redis, config())
    monitor.record(GATEWAY, sent=0, failed=19, now=NOW)
    assert monitor.check(None, now=NOW) == []
    monitor.record(GATEWAY, sent=1, failed=0, now=NOW)
    assert [a.value for a in monitor.check(None, now=NOW)] == [0.95]
    assert len(smtp.mailbox.envelopes) == 1


def test_no_alert_at_or_below_the_threshold_or_outside_the_window(
    kodeord_redis: redis.Redis, config: Callable[..., AlertConfig], receiver: Receiver
) -> None:
    monitor = Monitor(kodeord_redis, config())
    monitor.record(GATEWAY, sent=80, failed=20, now=NOW)
    assert monitor.check(None, now=NOW) == []
    monitor.record(GATEWAY, sent=0, failed=100, now=NOW - 400)  # older than the 300 s window
    assert monitor.check(None, now=NOW) == []
    assert receiver.requests == []


def test_oldest_unsent_alert(
    kodeord_redis: redis.Redis, config: Callable[..., AlertConfig], receiver: Receiver
) -> None:
    monitor = Monitor(kodeord_redis, config())
    assert monitor.check(None, now=NOW) == []
    assert monitor.check(300, now=NOW) == []
    [alert] = monitor.check(420.4, now=NOW)
    assert (alert.cause, alert.value, alert.threshold) == (OLDEST_UNSENT, 420.4, 300)
    assert alert.message == "the oldest unsent message has waited 420 s; threshold 300 s"
    assert receiver.bodies() == [
        {
            "type": "alert",
            "cause": "oldest-unsent",
            "message": alert.message,
            "value": 420.4,
            "threshold": 300.0,
            "at": "2023-11-14T22:13:20+00:00",
        }
    ]


def test_each_cause_is_limited_on_its_own(
    kodeord_redis: redis.Redis, config: Callable[..., AlertConfig], smtp: Smtp, receiver: Receiver
) -> None:
    monitor = Monitor(kodeord_redis, config())
    monitor.record(GATEWAY, sent=0, failed=25, now=NOW)
    first = monitor.check(600, now=NOW)
    monitor.record("elks", sent=0, failed=25, now=NOW)
    second = monitor.check(600, now=NOW + 1)

    assert [a.cause for a in first] == ["gateway-failures:kannel-telia", "oldest-unsent"]
    assert [a.cause for a in second] == ["gateway-failures:elks"]
    assert monitor.check(600, now=NOW + 2) == []
    assert sorted(m["Subject"] for m in smtp.mailbox.messages()) == [
        "[Kodeord alert] gateway-failures:elks",
        "[Kodeord alert] gateway-failures:kannel-telia",
        "[Kodeord alert] oldest-unsent",
    ]
    assert len(receiver.requests) == 3


def test_a_failing_notifier_is_logged_and_the_others_still_run(
    kodeord_redis: redis.Redis, config: Callable[..., AlertConfig], receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    monitor = Monitor(kodeord_redis, config(smtp_port=free_port()))  # nothing listens there
    with caplog.at_level(logging.ERROR, logger="kodeord.watch.alerts"):
        assert [a.cause for a in monitor.check(900, now=NOW)] == [OLDEST_UNSENT]
    [record] = caplog.records
    assert record.levelno == logging.ERROR
    assert record.getMessage() == "alert oldest-unsent: notifier send_email failed"
    assert isinstance(record.exc_info and record.exc_info[1], OSError)
    assert len(receiver.requests) == 1
    # The claim stays, so a broken mail server does not turn into a storm of retries.
    assert monitor.check(900, now=NOW + 1) == []


def test_custom_notifiers_replace_the_defaults(
    kodeord_redis: redis.Redis, config: Callable[..., AlertConfig], smtp: Smtp, receiver: Receiver
) -> None:
    got: list[Alert] = []

    def broken(alert: Alert) -> None:
        raise RuntimeError("boom")

    monitor = Monitor(kodeord_redis, config(), notifiers=[broken, got.append])
    [alert] = monitor.check(301, now=NOW)
    assert got == [alert]
    assert (smtp.mailbox.envelopes, receiver.requests) == ([], [])


def test_default_notifiers_follow_the_config(kodeord_redis: redis.Redis) -> None:
    assert Monitor(kodeord_redis, AlertConfig()).notifiers == []
    names = [n.func.__name__ for n in Monitor(kodeord_redis, AlertConfig(emails=("a@b.se",))).notifiers]  # type: ignore[attr-defined]
    assert names == ["send_email"]


def test_smtp_login_when_a_user_is_configured(
    kodeord_redis: redis.Redis, config: Callable[..., AlertConfig], smtp: Smtp
) -> None:
    monitor = Monitor(kodeord_redis, config(smtp_user="kodeord", smtp_password="pw", webhook_url=None))
    assert len(monitor.check(301, now=NOW)) == 1
    assert smtp.logins == [("kodeord", "pw")]
    assert len(smtp.mailbox.envelopes) == 1


def test_webhook_raises_on_an_error_answer(config: Callable[..., AlertConfig], receiver: Receiver) -> None:
    receiver.status = 500
    alert = Alert(OLDEST_UNSENT, "late", 400, 300, datetime.fromtimestamp(NOW, UTC))
    with pytest.raises(httpx.HTTPStatusError):
        send_webhook(config(), alert)
    assert len(receiver.requests) == 1


def test_record_keeps_counts_in_expiring_buckets(kodeord_redis: redis.Redis) -> None:
    monitor = Monitor(kodeord_redis, AlertConfig(window_s=60))
    monitor.record(GATEWAY, sent=3, failed=1, now=NOW + 4)
    monitor.record(GATEWAY, sent=2, failed=0, now=NOW + 6)
    monitor.record(GATEWAY, sent=0, failed=0, now=NOW)
    bucket = key_for("counts", GATEWAY, str(int(NOW // 10)))
    assert kodeord_redis.hgetall(bucket) == {b"sent": b"5", b"failed": b"1"}
    assert sorted(kodeord_redis.keys("kodeord:alerts:*")) == [bucket.encode(), b"kodeord:alerts:gateways"]
    assert 60 < kodeord_redis.ttl(bucket) <= 80
    assert kodeord_redis.smembers("kodeord:alerts:gateways") == {GATEWAY.encode()}
    with pytest.raises(ValueError, match="must not be negative"):
        monitor.record(GATEWAY, sent=-1, failed=0)


def test_config_hides_secrets_from_repr() -> None:
    text = repr(AlertConfig(smtp_user="u", smtp_password="hunter2", webhook_url="https://x", webhook_secret="s3"))
    assert "hunter2" not in text and "s3" not in text


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"emails": ("ops",)}, "alerts: emails 'ops' is not an email address"),
        ({"emails": "ops@example.com"}, "alerts: emails must be a list of addresses, not a single string"),
        ({"smtp_from": "kodeord"}, "alerts: smtp_from 'kodeord' is not an email address"),
        ({"smtp_port": 0}, "alerts: smtp_port must be between 1 and 65535, got 0"),
        ({"smtp_user": "kodeord"}, "alerts: smtp_password is required when smtp_user is set"),
        ({"webhook_url": "https://ops.example.com/hook"}, "alerts: webhook_secret is required when webhook_url is set"),
        (
            {"webhook_url": "ftp://x", "webhook_secret": "s"},
            "alerts: webhook_url must be an http:// or https:// URL, got 'ftp://x'",
        ),
        ({"failure_rate": 1.5}, "alerts: failure_rate must be between 0 and 1, got 1.5"),
        ({"failure_rate": -0.1}, "alerts: failure_rate must be between 0 and 1, got -0.1"),
        ({"min_attempts": 0}, "alerts: min_attempts must be at least 1, got 0"),
        ({"interval_s": 0}, "alerts: interval_s must be a positive number of seconds, got 0"),
        ({"window_s": -5}, "alerts: window_s must be a positive number of seconds, got -5"),
        ({"oldest_unsent_s": 0.0}, "alerts: oldest_unsent_s must be a positive number of seconds, got 0.0"),
    ],
)
def test_config_validation(settings: dict[str, Any], message: str) -> None:
    with pytest.raises(AlertConfigError) as caught:
        AlertConfig(**settings)
    assert str(caught.value) == message
    assert caught.value.setting in message

"""Alerts on errors: a gateway failing too often, or a message waiting too long to be sent.

Sender workers call :meth:`Monitor.record` after each batch and :meth:`Monitor.check` now and then.
Counts live in Redis in 10-second buckets, so every worker sees the same failure rate; a cause is
claimed in Redis (``SET NX`` with an expiry) before anyone notifies, so however many workers check,
one alert per cause goes out per ``interval_s``.
"""

from __future__ import annotations

import json
import logging
import math
import re
import smtplib
import ssl
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from functools import partial
from typing import Any

import httpx
import redis

from kodeord.commit.keys import platform_key
from kodeord.inbound.signing import sign
from kodeord.support.errors import KodeordError

log = logging.getLogger(__name__)
GATEWAYS = platform_key("alerts", "gateways")  # set of gateways that recorded anything
RAISED = platform_key("alerts", "raised")  # alerts raised while handling messages, waiting for a worker to send them
RAISED_MAX = 1000  # kept at most; a flood of causes beyond this is in the log anyway
DEFAULT_INTERVAL_S = 900.0
BUCKET_S = 10  # width of one counting bucket
OLDEST_UNSENT = "oldest-unsent"
TIMEOUT_S = 10.0  # for the mail server and the webhook receiver
_ADDRESS = re.compile(r"[^@\s<>,;]+@[^@\s<>,;]+")

Notifier = Callable[["Alert"], None]


def key_for(*parts: str) -> str:
    """``kodeord:alerts:part:part``."""
    return platform_key("alerts", *parts)


def gateway_cause(gateway: str) -> str:
    """The cause name of ``gateway`` failing too often."""
    return f"gateway-failures:{gateway}"


class AlertConfigError(KodeordError):
    """An alert setting is out of range or inconsistent; ``setting`` names it."""

    def __init__(self, setting: str, problem: str) -> None:
        super().__init__(f"alerts: {setting} {problem}")
        self.setting = setting
        self.problem = problem


@dataclass(frozen=True)
class AlertConfig:
    """Where alerts go, and the thresholds that trigger them."""

    emails: tuple[str, ...] = ()
    smtp_host: str = "localhost"
    smtp_port: int = 25
    smtp_from: str = "kodeord@localhost"
    smtp_user: str | None = None
    smtp_password: str | None = field(default=None, repr=False)
    smtp_starttls: bool = False
    webhook_url: str | None = None
    webhook_secret: str | None = field(default=None, repr=False)
    interval_s: float = DEFAULT_INTERVAL_S  # at most one alert per cause this often
    failure_rate: float = 0.2  # share of failed messages that is too many
    min_attempts: int = 20  # fewer messages in the window say nothing about a gateway
    window_s: float = 300.0
    oldest_unsent_s: float = 300.0

    def __post_init__(self) -> None:
        if isinstance(self.emails, str):  # a lone address would otherwise be taken letter by letter
            raise AlertConfigError("emails", "must be a list of addresses, not a single string")
        object.__setattr__(self, "emails", tuple(self.emails))
        for address in (*self.emails, self.smtp_from):
            if not _ADDRESS.fullmatch(address):
                raise AlertConfigError(
                    "emails" if address in self.emails else "smtp_from", f"{address!r} is not an email address"
                )
        if not 0 < self.smtp_port < 65536:
            raise AlertConfigError("smtp_port", f"must be between 1 and 65535, got {self.smtp_port}")
        if self.smtp_user and self.smtp_password is None:
            raise AlertConfigError("smtp_password", "is required when smtp_user is set")
        if self.webhook_url is not None:
            if not self.webhook_url.startswith(("http://", "https://")):
                raise AlertConfigError("webhook_url", f"must be an http:// or https:// URL, got {self.webhook_url!r}")
            if not self.webhook_secret:
                raise AlertConfigError("webhook_secret", "is required when webhook_url is set")
        if not 0 <= self.failure_rate <= 1:
            raise AlertConfigError("failure_rate", f"must be between 0 and 1, got {self.failure_rate}")
        if self.min_attempts < 1:
            raise AlertConfigError("min_attempts", f"must be at least 1, got {self.min_attempts}")
        for name in ("interval_s", "window_s", "oldest_unsent_s"):
            if not getattr(self, name) > 0:
                raise AlertConfigError(name, f"must be a positive number of seconds, got {getattr(self, name)}")


@dataclass(frozen=True)
class Alert:
    """One crossed threshold: what, a sentence for a human, the figure, the limit, and when (UTC)."""

    cause: str
    message: str
    value: float
    threshold: float
    at: datetime

    def to_dict(self) -> dict[str, Any]:
        """The alert as JSON-ready data (``at`` in ISO 8601)."""
        return {**asdict(self), "at": self.at.isoformat()}


def default_notifiers(config: AlertConfig) -> list[Notifier]:
    """Email when ``emails`` are set, a webhook when ``webhook_url`` is."""
    notifiers: list[Notifier] = []
    if config.emails:
        notifiers.append(partial(send_email, config))
    if config.webhook_url:
        notifiers.append(partial(send_webhook, config))
    return notifiers


class Monitor:
    """Counts gateway outcomes in Redis and sends alerts when a threshold is crossed."""

    def __init__(self, client: redis.Redis, config: AlertConfig, notifiers: Sequence[Notifier] | None = None) -> None:
        self.redis = client
        self.config = config
        self.notifiers = list(default_notifiers(config) if notifiers is None else notifiers)
        self._buckets = max(1, math.ceil(config.window_s / BUCKET_S))
        # A bucket must outlive the window it may be counted in, whichever worker reads it.
        self._ttl = math.ceil(config.window_s) + 2 * BUCKET_S

    def record(self, gateway: str, sent: int, failed: int, now: float | None = None) -> None:
        """Add ``sent`` accepted and ``failed`` refused messages of ``gateway`` to the current bucket."""
        if sent < 0 or failed < 0:
            raise ValueError(f"counts must not be negative, got sent={sent} failed={failed}")
        if not sent and not failed:
            return
        key = key_for("counts", gateway, str(_bucket(time.time() if now is None else now)))
        pipe = self.redis.pipeline(transaction=False)
        pipe.hincrby(key, "sent", sent)
        pipe.hincrby(key, "failed", failed)
        pipe.expire(key, self._ttl)
        pipe.sadd(GATEWAYS, gateway)
        pipe.expire(GATEWAYS, self._ttl)
        pipe.execute()

    def check(self, oldest_unsent_age_s: float | None, now: float | None = None) -> list[Alert]:
        """Send an alert for every crossed threshold not alerted on within ``interval_s``; return those sent."""
        now = time.time() if now is None else now
        at = datetime.fromtimestamp(now, UTC)
        alerts = self._gateway_alerts(now, at)
        if oldest_unsent_age_s is not None and oldest_unsent_age_s > self.config.oldest_unsent_s:
            alerts.append(
                Alert(
                    OLDEST_UNSENT,
                    f"the oldest unsent message has waited {oldest_unsent_age_s:.0f} s; "
                    f"threshold {self.config.oldest_unsent_s:g} s",
                    oldest_unsent_age_s,
                    self.config.oldest_unsent_s,
                    at,
                )
            )
        sent = []
        for alert in alerts:
            if self._claim(alert.cause):
                self._notify(alert)
                sent.append(alert)
        for alert in self._raised():
            self._notify(alert)
            sent.append(alert)
        return sent

    def _raised(self) -> list[Alert]:
        """Alerts raised by :func:`raise_alert` since the last check (already claimed there)."""
        pipe = self.redis.pipeline(transaction=True)
        pipe.lrange(RAISED, 0, -1)
        pipe.delete(RAISED)
        items, _ = pipe.execute()
        raised = []
        for item in items:
            data = json.loads(item)
            raised.append(
                Alert(
                    data["cause"], data["message"], data["value"], data["threshold"], datetime.fromisoformat(data["at"])
                )
            )
        return raised

    def _gateway_alerts(self, now: float, at: datetime) -> list[Alert]:
        gateways = sorted(g.decode() if isinstance(g, bytes) else g for g in self.redis.smembers(GATEWAYS))
        last = _bucket(now)
        buckets = [str(b) for b in range(last - self._buckets + 1, last + 1)]
        pipe = self.redis.pipeline(transaction=False)
        for gateway in gateways:
            for bucket in buckets:
                pipe.hmget(key_for("counts", gateway, bucket), "sent", "failed")
        replies = iter(pipe.execute())
        threshold = self.config.failure_rate
        alerts = []
        for gateway in gateways:
            counts = [next(replies) for _ in buckets]
            sent = sum(int(s or 0) for s, _ in counts)
            failed = sum(int(f or 0) for _, f in counts)
            attempts = sent + failed
            if attempts < self.config.min_attempts or failed / attempts <= threshold:
                continue
            rate = failed / attempts
            alerts.append(
                Alert(
                    gateway_cause(gateway),
                    f"gateway {gateway} failed {failed} of {attempts} messages ({rate:.0%}) "
                    f"in the last {self.config.window_s:g} s; threshold {threshold:.0%}",
                    rate,
                    threshold,
                    at,
                )
            )
        return alerts

    def _claim(self, cause: str) -> bool:
        # Milliseconds, so a fractional interval works; the claim outlives failed notifiers on purpose.
        expiry_ms = max(1, round(self.config.interval_s * 1000))
        return bool(self.redis.set(key_for("sent", cause), 1, nx=True, px=expiry_ms))

    def _notify(self, alert: Alert) -> None:
        for notifier in self.notifiers:
            try:
                notifier(alert)
            except Exception:
                log.exception("alert %s: notifier %s failed", alert.cause, _name(notifier))


def raise_alert(client: redis.Redis, alert: Alert, interval_s: float = DEFAULT_INTERVAL_S, send: bool = True) -> bool:
    """Raise ``alert`` from where messages are handled (a burst of votes, say), without waiting on a mail server.

    The cause is claimed in Redis as :class:`Monitor` claims its own, so it is raised at most once per
    ``interval_s`` however many web processes see it; the alert is logged at WARNING and, with ``send``,
    queued for the sender workers' monitor to send. Return whether it was new (False: already raised in
    the interval).
    """
    expiry_ms = max(1, round(interval_s * 1000))
    if not client.set(key_for("sent", alert.cause), 1, nx=True, px=expiry_ms):
        return False
    log.warning("alert %s: %s", alert.cause, alert.message)
    if not send:
        return True
    pipe = client.pipeline(transaction=True)
    pipe.rpush(RAISED, json.dumps(alert.to_dict()))
    pipe.ltrim(RAISED, -RAISED_MAX, -1)
    pipe.execute()
    return True


def send_email(config: AlertConfig, alert: Alert) -> None:
    """Mail ``alert`` to every address in ``config.emails``."""
    if not config.emails:
        return
    message = EmailMessage()
    message["Subject"] = f"[Kodeord alert] {alert.cause}"
    message["From"] = config.smtp_from
    message["To"] = ", ".join(config.emails)
    message["Date"] = format_datetime(alert.at)
    message["Message-ID"] = make_msgid("alert", domain=config.smtp_from.rpartition("@")[2])
    message.set_content(
        f"{alert.message}\n\n"
        f"Cause:     {alert.cause}\n"
        f"Value:     {alert.value:g}\n"
        f"Threshold: {alert.threshold:g}\n"
        f"At:        {alert.at.isoformat()}\n"
    )
    with smtplib.SMTP(config.smtp_host, config.smtp_port, timeout=TIMEOUT_S) as smtp:
        if config.smtp_starttls:
            smtp.starttls(context=ssl.create_default_context())
        if config.smtp_user:
            smtp.login(config.smtp_user, config.smtp_password or "")
        smtp.send_message(message)


def send_webhook(config: AlertConfig, alert: Alert) -> None:
    """POST ``alert`` as signed JSON to ``config.webhook_url``; raise on an answer other than 2xx."""
    if not config.webhook_url or not config.webhook_secret:
        raise AlertConfigError("webhook_url", "is not configured")
    body = json.dumps({"type": "alert", **alert.to_dict()}).encode()
    headers = {"Content-Type": "application/json", **sign(config.webhook_secret, body)}
    response = httpx.post(config.webhook_url, content=body, headers=headers, timeout=TIMEOUT_S)
    response.raise_for_status()


def _bucket(now: float) -> int:
    return int(now // BUCKET_S)


def _name(notifier: Notifier) -> str:
    # Not repr(): a partial's repr would print the config; its secrets are hidden, but say less anyway.
    return str(getattr(getattr(notifier, "func", notifier), "__name__", type(notifier).__name__))

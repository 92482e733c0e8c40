"""The two message values everything passes around: ``Inbound`` and ``Outbound``."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from functools import cached_property
from typing import Any

import email_validator

from kodeord.inbound import phone
from kodeord.inbound.encoding import TextInfo, analyse
from kodeord.support.errors import InvalidMessage

MAX_TEXT = 10_000  # far above any concatenated SMS; stops abuse of the webhooks


class Channel(enum.StrEnum):
    """How an event reached us."""

    SMS = "sms"
    CALL = "call"
    EMAIL = "email"


class Kind(enum.StrEnum):
    """Why an outgoing message is sent; vetoes treat them differently."""

    REPLY = "reply"  # an answer to the sender's own message
    BROADCAST = "broadcast"  # to members of a list
    MARKETING = "marketing"  # promotional: needs consent, ERB-vetted
    NOTICE = "notice"  # to functionaries and officials


def check_email(raw: str) -> str:
    """``raw`` as a normalised, lower-case email address; InvalidMessage saying what is wrong if it is not one.

    The syntax is checked, not the domain's mail servers. Internationalised addresses (``på@exempel.se``) are
    addresses; quoted local parts, IP literals and control characters are refused.
    """
    try:
        checked = email_validator.validate_email(raw.strip(), check_deliverability=False)
    except email_validator.EmailNotValidError as exc:
        raise InvalidMessage(f"invalid email address {raw!r}: {exc}") from None
    return checked.normalized.lower()


@dataclass(frozen=True, slots=True)
class Inbound:
    """One normalised inbound event: an SMS, a call or an email."""

    sender: str  # E.164, or an email address for channel email
    recipient: str  # E.164, short-code digits, or the list's email address
    text: str
    channel: Channel
    gateway: str
    message_id: str
    received_at: datetime
    operator: str = ""  # the mobile operator's network it came through, where the gateway says (Kannel's smsc-id)

    @classmethod
    def create(
        cls,
        *,
        sender: str,
        recipient: str,
        text: str = "",
        channel: Channel | str = Channel.SMS,
        gateway: str,
        message_id: str,
        received_at: datetime | None = None,
        regions: Sequence[str] = ("SE", "NO"),
        operator: str = "",
    ) -> Inbound:
        """Validate and normalise raw fields; raise ``InvalidMessage``/``InvalidNumber``."""
        try:
            chan = Channel(channel)
        except ValueError:
            raise InvalidMessage(f"unknown channel {channel!r}; use sms, call or email") from None
        if not gateway:
            raise InvalidMessage("missing gateway")
        if not message_id or len(message_id) > 200:
            raise InvalidMessage("missing or over-long message id")
        if len(text) > MAX_TEXT:
            raise InvalidMessage(f"text longer than {MAX_TEXT} characters")
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate (a broken UTF-16 pair): keep the message, mark the spot
            text = text.encode("utf-8", "replace").decode("utf-8")
        if chan is Channel.EMAIL:
            sender_n, recipient_n = check_email(sender), check_email(recipient)
        else:
            sender_n = phone.parse(sender, regions)
            recipient_n = phone.parse_address(recipient, regions)
        when = received_at or datetime.now(UTC)
        if when.tzinfo is None:
            raise InvalidMessage("received_at must carry a time zone")
        if len(operator) > 100:
            raise InvalidMessage("over-long operator name")
        return cls(sender_n, recipient_n, text, chan, gateway, message_id, when, operator)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (for logs, the simulator and ``rules try --json``)."""
        return {
            "sender": self.sender,
            "recipient": self.recipient,
            "text": self.text,
            "channel": self.channel.value,
            "gateway": self.gateway,
            "message_id": self.message_id,
            "received_at": self.received_at.isoformat(),
            **({"operator": self.operator} if self.operator else {}),
        }


@dataclass(frozen=True)
class Outbound:
    """One message to send to one recipient."""

    to: str
    sender: str
    text: str
    channel: Channel = Channel.SMS
    kind: Kind = Kind.REPLY
    service: str = ""  # "tenant/service" that caused it; "" for platform messages
    meta: dict[str, str] = field(default_factory=dict)
    price: str = ""  # premium: what the recipient is charged, e.g. "5.00"; "" for an ordinary message

    @cached_property
    def info(self) -> TextInfo:
        """Encoding (GSM 03.38 or UCS-2) and number of SMS segments."""
        return analyse(self.text)

    def with_text(self, text: str) -> Outbound:
        """A copy with another text (used by plugins that rewrite messages)."""
        return replace(self, text=text)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict, the outbox's stored form."""
        return {
            "to": self.to,
            "from": self.sender,
            "text": self.text,
            "channel": self.channel.value,
            "kind": self.kind.value,
            "service": self.service,
            "encoding": self.info.encoding.value,
            "segments": self.info.segments,
            **({"meta": self.meta} if self.meta else {}),
            **({"price": self.price} if self.price else {}),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Outbound:
        """Inverse of :meth:`to_dict`."""
        return cls(
            to=data["to"],
            sender=data["from"],
            text=data["text"],
            channel=Channel(data.get("channel", "sms")),
            kind=Kind(data.get("kind", "reply")),
            service=data.get("service", ""),
            meta=dict(data.get("meta", {})),
            price=data.get("price", ""),
        )

"""The email gateway: sends outgoing messages of channel email through an SMTP relay.

The relay is named by one URL, the ``smtp_url`` setting; user and password are percent-decoded
(``p%40ss`` is ``p@ss``) and never appear in an error or a log:

- ``smtp://[user:password@]host[:port]``: port 25 by default; STARTTLS whenever the relay offers it, and a
  login only when the URL carries a user.
- ``smtps://[user:password@]host[:port]``: TLS from the first byte, port 465 by default.

A batch shares one connection. Each message is reported ``sent`` (its Message-ID, derived from its ref and so
the same on every attempt, is the gateway reference), ``retry`` (relay out of reach, time-out, hang-up, 4xx)
or ``failed`` (a 5xx answer for it, a malformed address, a header that would smuggle in a line break). A
refused login is ``retry``: the configuration is at fault, not the messages, which go once it is fixed.

What the message's ``meta`` may add: ``subject``; ``footer`` (a signature block under the text, after the
standard ``-- `` line); ``list_unsubscribe`` (an http(s) or mailto URL: ``List-Unsubscribe`` headers with
one-click ``List-Unsubscribe-Post``); ``reply_to``; ``list_id`` (the ``List-Id`` header); ``return_path`` (the
envelope sender, where bounces go: a list's address per member, so that each bounce says whose address
failed); ``auto_submitted`` (any value: ``Auto-Submitted: auto-generated``, so that autoresponders keep
quiet); ``from`` (the From header instead of ``mail_from``: a list's own address, so that a reply reaches the
list).
"""

from __future__ import annotations

import hashlib
import logging
import re
import smtplib
import ssl
from collections.abc import Sequence
from email.errors import MessageError
from email.message import EmailMessage
from email.utils import formataddr, parseaddr
from urllib.parse import unquote, urlsplit

from kodeord.config.settings import Settings, SettingsError
from kodeord.inbound.messages import Channel
from kodeord.outbound.gateway import Outgoing, Report, Sent

log = logging.getLogger(__name__)
DEFAULT_PORTS = {"smtp": 25, "smtps": 465}
LINE_BREAKS = frozenset("\r\n\v\f\x1c\x1d\x1e\x85\u2028\u2029")  # what str.splitlines() and email split on
ADDRESS = re.compile(r'[^\s\x00-\x1f\x7f@<>()\[\]\\,;:"]+@[^\s\x00-\x1f\x7f@<>()\[\]\\,;:"]+')  # a bare addr-spec
UNSUBSCRIBE = re.compile(r"(https?|mailto):[^\s\x00-\x1f\x7f<>]+")


class _Refused(Exception):
    """A message that cannot be sent as it stands; the text is the reason."""


def message_id(item: Outgoing) -> str:
    """The Message-ID of ``item``: the same on every attempt, unique across outboxes."""
    return f"<{hashlib.sha256(item.ref.encode()).hexdigest()[:32]}@kodeord>"


class SmtpGateway:
    """Sends email through one SMTP relay, one connection per batch."""

    id = "smtp"
    charging = False
    rate = 0.0

    def __init__(
        self, url: str, mail_from: str, timeout: float = 30.0, *, context: ssl.SSLContext | None = None
    ) -> None:
        """Raise ``SettingsError`` for a malformed URL or From address; ``context`` picks the trusted CAs."""
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError:
            raise SettingsError("smtp_url: malformed URL (bad port or host)") from None
        if parts.scheme not in DEFAULT_PORTS:
            raise SettingsError(f"smtp_url: unknown scheme {parts.scheme!r}; use smtp:// or smtps://")
        if not parts.hostname:
            raise SettingsError("smtp_url: no host")
        if parts.path not in ("", "/") or parts.query or parts.fragment:
            raise SettingsError("smtp_url: unexpected path, query or fragment after the host")
        try:
            self.mail_from = _mailbox(mail_from, "mail_from")
        except _Refused:
            raise SettingsError(f"mail_from: not an email address: {mail_from!r}") from None
        self.tls = parts.scheme == "smtps"
        self.host = parts.hostname
        self.port = port or DEFAULT_PORTS[parts.scheme]
        self.user = unquote(parts.username or "")
        self._password = unquote(parts.password or "")
        if not (self.user + self._password).isascii():  # smtplib sends credentials as ASCII
            raise SettingsError("smtp_url: user and password must be ASCII once percent-decoded")
        self.envelope_from = parseaddr(self.mail_from)[1]
        self.timeout = timeout
        self.context = context or ssl.create_default_context()

    def send(self, batch: Sequence[Outgoing], report: Report) -> None:
        """Send the batch over one connection; after it drops, reconnect once, then retry the rest later."""
        conn: smtplib.SMTP | None = None
        connects = 0
        lost = ""  # why the relay is out of reach; every message from then on is reported retry
        try:
            for item in batch:
                try:
                    email, recipient = self._build(item)
                except _Refused as exc:
                    report(Sent(item.id, "failed", str(exc)))
                    continue
                while not lost:
                    if conn is None:
                        connects += 1
                        try:
                            conn = self._connect()
                        except OSError as exc:
                            lost = f"SMTP relay {self.host}:{self.port} unusable: {_describe(exc)}"
                            log.warning("smtp gateway: %s", lost)
                            break
                    try:
                        conn.send_message(
                            email, item.message.meta.get("return_path") or self.envelope_from, [recipient]
                        )
                    except smtplib.SMTPRecipientsRefused as exc:
                        code, text = next(iter(exc.recipients.values()), (0, b"recipient refused"))
                        report(_answer(item, code, text))
                    except smtplib.SMTPResponseException as exc:
                        report(_answer(item, exc.smtp_code, exc.smtp_error))
                    except smtplib.SMTPNotSupportedError as exc:
                        report(Sent(item.id, "failed", f"relay cannot take this message: {exc}"))
                    except ValueError as exc:  # includes UnicodeError: the message cannot be written out
                        report(Sent(item.id, "failed", f"cannot encode the message: {exc}"))
                    except OSError as exc:  # SMTPServerDisconnected, a reset, a time-out: the connection is spent
                        _close(conn)
                        conn = None
                        if connects >= 2:
                            lost = f"SMTP connection lost: {_describe(exc)}"
                            log.warning("smtp gateway: %s", lost)
                        continue
                    else:
                        report(Sent.ok(item.id, gateway_ref=message_id(item)))
                    break
                if lost:
                    report(Sent(item.id, "retry", lost))
        finally:
            if conn is not None:
                _close(conn)

    def _connect(self) -> smtplib.SMTP:
        """An open connection, upgraded to TLS when possible and logged in when the URL has a user."""
        conn = (
            smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=self.context)
            if self.tls
            else smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        )
        try:
            conn.ehlo()
            if not self.tls and conn.has_extn("starttls"):
                conn.starttls(context=self.context)
                conn.ehlo()
            if self.user:
                conn.login(self.user, self._password)
        except OSError:
            _close(conn)
            raise
        return conn

    def _build(self, item: Outgoing) -> tuple[EmailMessage, str]:
        """The email for ``item`` and its envelope recipient; raise ``_Refused`` if it cannot be sent."""
        message = item.message
        if message.channel is not Channel.EMAIL:
            raise _Refused(f"not an email message (channel {message.channel.value})")
        subject = message.meta.get("subject", "")
        own_from = message.meta.get("from", "")
        headers = {
            "From": self.mail_from,
            "To": message.to,
            "Subject": subject.strip() or f"Message from {message.sender}",  # a blank subject would not survive
            "Message-ID": message_id(item),
            "X-Kodeord-Ref": item.ref,
        }
        if unsubscribe := message.meta.get("list_unsubscribe"):
            headers["List-Unsubscribe"] = f"<{unsubscribe}>"
            headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        if reply_to := message.meta.get("reply_to"):
            headers["Reply-To"] = reply_to
        if list_id := message.meta.get("list_id"):
            headers["List-Id"] = list_id
        if message.meta.get("auto_submitted"):
            headers["Auto-Submitted"] = "auto-generated"
        return_path = message.meta.get("return_path", "")
        if return_path and not ADDRESS.fullmatch(return_path):
            raise _Refused(f"invalid return path {return_path!r}")
        for name, value in [("Subject", subject), *headers.items()]:
            if _has_break(value):
                raise _Refused(f"header injection refused: line break in {name}")
        # the email package's address parser can crash on garbage, so only well-formed addresses reach it
        if not ADDRESS.fullmatch(message.to):
            raise _Refused(f"invalid recipient address {message.to!r}")
        if reply_to:
            headers["Reply-To"] = _mailbox(reply_to, "reply_to")
        if own_from:
            headers["From"] = _mailbox(own_from, "from")
        if unsubscribe and not UNSUBSCRIBE.fullmatch(unsubscribe):
            raise _Refused(f"invalid list_unsubscribe URL {unsubscribe!r}")
        email = EmailMessage()
        try:
            for name, value in headers.items():
                email[name] = value
            # quoted-printable keeps non-ASCII text 7-bit clean for relays without 8BITMIME
            body = f"{message.text}\n\n-- \n{footer}" if (footer := message.meta.get("footer")) else message.text
            email.set_content(body, cte=None if body.isascii() else "quoted-printable")
        except (ValueError, MessageError) as exc:
            raise _Refused(f"cannot build the email: {exc}") from None
        return email, message.to


def from_settings(settings: Settings) -> SmtpGateway | None:
    """The gateway configured by ``smtp_url``, ``mail_from`` and ``smtp_timeout``; ``None`` without a relay."""
    if not settings.smtp_url:
        return None
    return SmtpGateway(settings.smtp_url, settings.mail_from, settings.smtp_timeout)


def _has_break(value: str) -> bool:
    return any(char in LINE_BREAKS for char in value)


def _mailbox(raw: str, what: str) -> str:
    """``raw`` (``addr`` or ``Name <addr>``) rewritten in a form the email package parses safely."""
    name, address = parseaddr(raw)
    if not ADDRESS.fullmatch(address) or _has_break(raw):
        raise _Refused(f"invalid {what} address {raw!r}")
    try:
        return formataddr((name, address)) if name else address
    except UnicodeError:  # formataddr wants an ASCII address next to a name
        raise _Refused(f"invalid {what} address {raw!r}") from None


def _answer(item: Outgoing, code: int, text: bytes | str) -> Sent:
    """``failed`` for a 5xx answer about the message, ``retry`` for anything else (4xx: try again later)."""
    return Sent(item.id, "failed" if 500 <= code < 600 else "retry", _reply(code, text))


def _reply(code: int, text: bytes | str) -> str:
    return f"{code} {text.decode(errors='replace') if isinstance(text, bytes) else text}"


def _describe(exc: OSError) -> str:
    if isinstance(exc, smtplib.SMTPResponseException):  # str() would give a tuple's repr
        return _reply(exc.smtp_code, exc.smtp_error)
    return str(exc) or type(exc).__name__


def _close(conn: smtplib.SMTP) -> None:
    """Say goodbye if the relay still listens; close the socket in any case."""
    try:
        conn.quit()
    except OSError:
        pass
    finally:
        conn.close()

"""The email gateway against a real SMTP server (aiosmtpd on loopback)."""

from __future__ import annotations

import email
import shutil
import socket
import ssl
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from hypothesis import given, settings
from hypothesis import strategies as st

from kodeord.config.settings import Settings, SettingsError
from kodeord.inbound.messages import Channel, Outbound
from kodeord.outbound.gateway import Outgoing, Sent
from kodeord.outbound.mailer import SmtpGateway, from_settings, message_id
from tests.conftest import free_port

FROM = "Kodeord <noreply@kodeord.test>"


@dataclass(frozen=True)
class Received:
    """One message the relay accepted."""

    peer: Any  # the client's (host, port): one per connection
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage


class Relay:
    """An aiosmtpd handler that keeps what it accepts and refuses what it is told to."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.refuse: dict[str, str] = {}  # recipient -> the answer to its RCPT
        self.data_answers: list[str] = []  # answers to the next DATA commands, instead of accepting

    def reset(self) -> None:
        self.received.clear()
        self.refuse.clear()
        self.data_answers.clear()

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.data_answers:
            return self.data_answers.pop(0)
        content = envelope.content.replace(b"\r\n", b"\n")  # as a receiving system stores it
        message = email.message_from_bytes(content, _class=EmailMessage, policy=default_policy)
        self.received.append(Received(session.peer, envelope.mail_from, list(envelope.rcpt_tos), message))
        return "250 Message accepted"


def start(handler: Relay, **options: Any) -> tuple[Controller, int]:
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port, **options)
    controller.start()
    return controller, port


@pytest.fixture(scope="module")
def plain_relay() -> Iterator[tuple[Relay, int]]:
    handler = Relay()
    controller, port = start(handler)
    yield handler, port
    controller.stop()


@pytest.fixture
def relay(plain_relay: tuple[Relay, int]) -> Relay:
    plain_relay[0].reset()
    return plain_relay[0]


@pytest.fixture
def gateway(plain_relay: tuple[Relay, int]) -> SmtpGateway:
    return SmtpGateway(f"smtp://127.0.0.1:{plain_relay[1]}", FROM, timeout=5)


def mail(to: str, text: str = "Hej", ident: str = "", scope: str = "tv", **meta: str) -> Outgoing:
    message = Outbound(to=to, sender="lista@kodeord.test", text=text, channel=Channel.EMAIL, meta=meta)
    return Outgoing(scope, ident or f"id-{to}", message)


def send(gateway: SmtpGateway, *batch: Outgoing) -> dict[str, Sent]:
    """Send and collect the reports, checking each message is reported exactly once."""
    reports: list[Sent] = []
    gateway.send(batch, lambda *sent: reports.extend(sent))
    assert sorted(s.id for s in reports) == sorted(item.id for item in batch)
    return {s.id: s for s in reports}


def test_a_batch_arrives_intact_over_one_connection(relay: Relay, gateway: SmtpGateway) -> None:
    batch = [
        mail("anna@example.se", "Hej på er, åäö", subject="Veckans nyheter – åäö"),
        mail("bo@example.se", "Second\nline two"),
        mail("cia@example.se", "Third"),
    ]
    reports = send(gateway, *batch)

    assert [r.result for r in reports.values()] == ["sent"] * 3
    assert [r.rcpt_tos for r in relay.received] == [["anna@example.se"], ["bo@example.se"], ["cia@example.se"]]
    assert {r.mail_from for r in relay.received} == {"noreply@kodeord.test"}
    assert len({r.peer for r in relay.received}) == 1
    first, second, _ = (r.message for r in relay.received)
    assert first["From"] == FROM
    assert first["To"] == "anna@example.se"
    assert first["Subject"] == "Veckans nyheter – åäö"
    assert first.get_content() == "Hej på er, åäö\n"
    assert first.get_content_type() == "text/plain"
    assert first.get_content_charset() == "utf-8"
    assert first["X-Kodeord-Ref"] == "tv|id-anna@example.se"
    assert first["Message-ID"] == reports["id-anna@example.se"].gateway_ref == message_id(batch[0])
    assert second["Subject"] == "Message from lista@kodeord.test"
    assert second.get_content() == "Second\nline two\n"
    assert first["List-Unsubscribe"] is None


def test_a_retried_message_keeps_its_message_id(relay: Relay, gateway: SmtpGateway) -> None:
    send(gateway, mail("anna@example.se", ident="m1"))
    send(gateway, mail("anna@example.se", ident="m1"))
    send(gateway, mail("anna@example.se", ident="m1", scope="other"))

    ids = [r.message["Message-ID"] for r in relay.received]
    assert ids[0] == ids[1] != ids[2]
    assert ids[0].startswith("<") and ids[0].endswith("@kodeord>")


def test_unsubscribe_and_reply_to_headers(relay: Relay, gateway: SmtpGateway) -> None:
    url = "https://kodeord.test/unsubscribe?t=abc"
    send(gateway, mail("anna@example.se", list_unsubscribe=url, reply_to="Styrelsen <styrelse@example.se>"))

    message = relay.received[0].message
    assert message["List-Unsubscribe"] == f"<{url}>"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message["Reply-To"] == "Styrelsen <styrelse@example.se>"


def test_a_refused_recipient_fails_and_the_others_go(relay: Relay, gateway: SmtpGateway) -> None:
    relay.refuse["nobody@example.se"] = "550 no such user"
    reports = send(gateway, mail("anna@example.se"), mail("nobody@example.se"), mail("bo@example.se"))

    assert reports["id-nobody@example.se"] == Sent("id-nobody@example.se", "failed", "550 no such user")
    assert reports["id-anna@example.se"].result == reports["id-bo@example.se"].result == "sent"
    assert [r.rcpt_tos for r in relay.received] == [["anna@example.se"], ["bo@example.se"]]


def test_a_temporary_refusal_is_retried(relay: Relay, gateway: SmtpGateway) -> None:
    relay.refuse["full@example.se"] = "451 mailbox busy, try later"
    reports = send(gateway, mail("full@example.se"), mail("anna@example.se"))

    assert reports["id-full@example.se"] == Sent("id-full@example.se", "retry", "451 mailbox busy, try later")
    assert reports["id-anna@example.se"].result == "sent"


def test_a_refused_message_body_fails(relay: Relay, gateway: SmtpGateway) -> None:
    relay.data_answers.append("554 message rejected as spam")
    reports = send(gateway, mail("anna@example.se"), mail("bo@example.se"))

    assert reports["id-anna@example.se"] == Sent("id-anna@example.se", "failed", "554 message rejected as spam")
    assert reports["id-bo@example.se"].result == "sent"


def test_a_dropped_connection_is_reopened_once(relay: Relay, gateway: SmtpGateway) -> None:
    relay.data_answers.append("421 shutting down")  # smtplib hangs up after a 421
    reports = send(gateway, *(mail(f"{n}@example.se") for n in "abc"))

    assert reports["id-a@example.se"] == Sent("id-a@example.se", "retry", "421 shutting down")
    assert reports["id-b@example.se"].result == reports["id-c@example.se"].result == "sent"
    assert len({r.peer for r in relay.received}) == 1  # b and c share the second connection


def test_after_a_second_drop_the_rest_waits(relay: Relay, gateway: SmtpGateway) -> None:
    relay.data_answers.extend(["421 shutting down", "421 shutting down"])
    reports = send(gateway, *(mail(f"{n}@example.se") for n in "abcd"))

    assert [reports[f"id-{n}@example.se"].result for n in "abcd"] == ["retry"] * 4
    assert reports["id-c@example.se"].reason.startswith("SMTP connection lost: ")
    assert reports["id-d@example.se"].reason == reports["id-c@example.se"].reason
    assert relay.received == []


def test_nothing_listening_retries_everything() -> None:
    port = free_port()
    gateway = SmtpGateway(f"smtp://127.0.0.1:{port}", FROM, timeout=5)
    reports = send(gateway, mail("anna@example.se"), mail("bo@example.se"))

    assert {r.result for r in reports.values()} == {"retry"}
    assert reports["id-anna@example.se"].reason.startswith(f"SMTP relay 127.0.0.1:{port} unusable: ")


def test_a_silent_relay_times_out_into_retry() -> None:
    with socket.socket() as listener:  # accepts connections (backlog) but never greets
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        gateway = SmtpGateway(f"smtp://127.0.0.1:{listener.getsockname()[1]}", FROM, timeout=0.3)
        reports = send(gateway, mail("anna@example.se"))

    assert reports["id-anna@example.se"].result == "retry"
    assert "timed out" in reports["id-anna@example.se"].reason


@pytest.mark.parametrize(
    ("meta", "to", "header"),
    [
        ({"subject": "Hi\r\nBcc: victim@example.se"}, "anna@example.se", "Subject"),
        ({"subject": "Hi\nthere"}, "anna@example.se", "Subject"),
        ({"subject": "Hi\u2028there"}, "anna@example.se", "Subject"),
        ({"reply_to": "x@example.se\nBcc: victim@example.se"}, "anna@example.se", "Reply-To"),
        ({"list_unsubscribe": "https://x.test/\r\nBcc: v@example.se"}, "anna@example.se", "List-Unsubscribe"),
        ({}, "anna@example.se\r\nBcc: victim@example.se", "To"),
    ],
)
def test_header_injection_fails_that_message_only(
    relay: Relay, gateway: SmtpGateway, meta: dict[str, str], to: str, header: str
) -> None:
    bad = mail(to, ident="bad", **meta)
    reports = send(gateway, bad, mail("bo@example.se"))

    assert reports["bad"] == Sent("bad", "failed", f"header injection refused: line break in {header}")
    assert reports["id-bo@example.se"].result == "sent"
    assert [r.rcpt_tos for r in relay.received] == [["bo@example.se"]]


@pytest.mark.parametrize(
    ("message", "reason"),
    [
        (Outbound("+46701234567", "72500", "Hej"), "not an email message (channel sms)"),
        (mail("not an address").message, "invalid recipient address 'not an address'"),
        (mail("Anna <anna@example.se>").message, "invalid recipient address 'Anna <anna@example.se>'"),
        (mail("anna@example.se", reply_to="nobody").message, "invalid reply_to address 'nobody'"),
        (
            mail("anna@example.se", list_unsubscribe="javascript:alert(1)").message,
            "invalid list_unsubscribe URL 'javascript:alert(1)'",
        ),
    ],
)
def test_malformed_messages_fail(relay: Relay, gateway: SmtpGateway, message: Outbound, reason: str) -> None:
    reports = send(gateway, Outgoing("tv", "bad", message), mail("bo@example.se"))

    assert reports["bad"] == Sent("bad", "failed", reason)
    assert reports["id-bo@example.se"].result == "sent"
    assert [r.rcpt_tos for r in relay.received] == [["bo@example.se"]]


class Accounts:
    """An aiosmtpd authenticator with one account; remembers the logins it was given."""

    def __init__(self, user: str, password: str) -> None:
        self.account = (user.encode(), password.encode())
        self.seen: list[tuple[bytes, bytes]] = []

    def __call__(self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        assert isinstance(data, LoginPassword)
        self.seen.append((data.login, data.password))
        return AuthResult(success=(data.login, data.password) == self.account, handled=False)


@pytest.fixture
def auth_relay() -> Iterator[tuple[Relay, Accounts, int]]:
    handler, accounts = Relay(), Accounts("kodeord", "p@ss:w/rd %")
    controller, port = start(handler, authenticator=accounts, auth_require_tls=False)
    yield handler, accounts, port
    controller.stop()


def test_login_with_percent_encoded_credentials(auth_relay: tuple[Relay, Accounts, int]) -> None:
    handler, accounts, port = auth_relay
    gateway = SmtpGateway(f"smtp://kodeord:p%40ss%3Aw%2Frd%20%25@127.0.0.1:{port}", FROM, 5)
    reports = send(gateway, mail("anna@example.se"))

    assert reports["id-anna@example.se"].result == "sent"
    assert accounts.seen == [(b"kodeord", b"p@ss:w/rd %")]
    assert len(handler.received) == 1


def test_a_refused_login_retries_without_leaking_the_password(auth_relay: tuple[Relay, Accounts, int]) -> None:
    """A wrong password is the operator's mistake, not the messages': they wait (retry) until it is fixed."""
    handler, _, port = auth_relay
    gateway = SmtpGateway(f"smtp://kodeord:hunter2@127.0.0.1:{port}", FROM, 5)
    reports = send(gateway, mail("anna@example.se"), mail("bo@example.se"))

    assert {r.result for r in reports.values()} == {"retry"}
    assert "535" in reports["id-anna@example.se"].reason
    assert "hunter2" not in repr(reports) + repr(gateway)
    assert handler.received == []


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1, made by the openssl command."""
    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl command")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1"]
        + ["-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )
    return cert, key


def tls_contexts(certificate: tuple[Path, Path]) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """(server context, client context trusting the server)."""
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(*certificate)
    return server, ssl.create_default_context(cafile=str(certificate[0]))


def test_starttls_when_the_relay_offers_it(certificate: tuple[Path, Path]) -> None:
    server, client = tls_contexts(certificate)
    handler = Relay()
    controller, port = start(handler, tls_context=server, require_starttls=True)
    try:
        trusting = SmtpGateway(f"smtp://127.0.0.1:{port}", FROM, 5, context=client)
        assert send(trusting, mail("anna@example.se"))["id-anna@example.se"].result == "sent"
        distrusting = SmtpGateway(f"smtp://127.0.0.1:{port}", FROM, 5)
        refused = send(distrusting, mail("bo@example.se"))["id-bo@example.se"]
    finally:
        controller.stop()
    assert refused.result == "retry"
    assert "CERTIFICATE_VERIFY_FAILED" in refused.reason
    assert [r.rcpt_tos for r in handler.received] == [["anna@example.se"]]


def test_smtps(certificate: tuple[Path, Path]) -> None:
    server, client = tls_contexts(certificate)
    handler = Relay()
    controller, port = start(handler, ssl_context=server)
    try:
        gateway = SmtpGateway(f"smtps://127.0.0.1:{port}", FROM, 5, context=client)
        reports = send(gateway, mail("anna@example.se"), mail("bo@example.se"))
    finally:
        controller.stop()
    assert {r.result for r in reports.values()} == {"sent"}
    assert len(handler.received) == 2


def test_from_settings() -> None:
    assert from_settings(Settings(environ={})) is None
    assert from_settings(Settings(environ={"KODEORD_SMTP_URL": ""})) is None
    gateway = from_settings(
        Settings(environ={"KODEORD_SMTP_URL": "smtps://u:p@mail.example.se", "KODEORD_SMTP_TIMEOUT": "7"})
    )
    assert gateway is not None
    assert (gateway.tls, gateway.host, gateway.port, gateway.user, gateway.timeout) == (
        True,
        "mail.example.se",
        465,
        "u",
        7.0,
    )
    assert gateway.mail_from == "Kodeord <noreply@localhost>"
    assert SmtpGateway("smtp://mail.example.se", FROM).port == 25


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("http://u:hunter2@mail.example.se", "smtp_url: unknown scheme 'http'; use smtp:// or smtps://"),
        ("mail.example.se:25", "smtp_url: unknown scheme 'mail.example.se'; use smtp:// or smtps://"),
        ("smtp://u:hunter2@mail.example.se:twentyfive", "smtp_url: malformed URL (bad port or host)"),
        ("smtp://u:hunter2@mail.example.se:99999", "smtp_url: malformed URL (bad port or host)"),
        ("smtp://u:hunter2@[::1", "smtp_url: malformed URL (bad port or host)"),
        ("smtp://u:hunter2@", "smtp_url: no host"),
        ("smtp://u:hunt/er2@mail.example.se", "smtp_url: malformed URL (bad port or host)"),
        ("smtp://u:hunter2%C3%A5@mail.example.se", "smtp_url: user and password must be ASCII once percent-decoded"),
        ("smtp://u:hunter2@mail.example.se/hunter2", "smtp_url: unexpected path, query or fragment after the host"),
    ],
)
def test_a_malformed_url_is_refused_without_the_password(url: str, problem: str) -> None:
    with pytest.raises(SettingsError) as caught:
        SmtpGateway(url, FROM)
    assert str(caught.value) == problem
    assert "hunter2" not in str(caught.value)


def test_a_from_address_with_a_line_break_is_refused() -> None:
    with pytest.raises(SettingsError, match="mail_from: not an email address"):
        SmtpGateway("smtp://mail.example.se", "a@example.se\r\nBcc: victim@example.se")


@settings(max_examples=40, deadline=None)
@given(subject=st.text(), text=st.text())
def test_any_text_arrives_intact_or_fails_with_a_reason(
    plain_relay: tuple[Relay, int], subject: str, text: str
) -> None:
    handler, port = plain_relay
    handler.reset()
    gateway = SmtpGateway(f"smtp://127.0.0.1:{port}", FROM, timeout=5)
    report = send(gateway, mail("anna@example.se", text, subject=subject))["id-anna@example.se"]

    has_break = any(char in subject for char in "\r\n\v\f\x1c\x1d\x1e\x85\u2028\u2029")
    if has_break:
        assert report.result == "failed" and report.reason
        return
    assert report.result == "sent"
    message = handler.received[0].message
    assert message["Subject"] == (subject.strip() or "Message from lista@kodeord.test")
    normalised = text.replace("\r\n", "\n").replace("\r", "\n")
    assert message.get_content() == (normalised if normalised.endswith("\n") else normalised + "\n")


@settings(max_examples=40, deadline=None)
@given(
    to=st.one_of(st.emails(), st.builds("{}@{}".format, st.text(), st.text())),
    sender=st.text(),
    reply_to=st.one_of(st.emails(), st.text()),
    unsubscribe=st.text(),
)
def test_any_addresses_are_sent_or_failed_never_raised(
    plain_relay: tuple[Relay, int], to: str, sender: str, reply_to: str, unsubscribe: str
) -> None:
    handler, port = plain_relay
    handler.reset()
    gateway = SmtpGateway(f"smtp://127.0.0.1:{port}", FROM, timeout=5)
    message = Outbound(to, sender, "Hej", Channel.EMAIL, meta={"reply_to": reply_to, "list_unsubscribe": unsubscribe})
    report = send(gateway, Outgoing("tv", "m", message))["m"]

    assert report.result in ("sent", "failed")
    assert report.reason or report.result == "sent"
    assert len(handler.received) == (report.result == "sent")

"""Email-to-list: each list's address under the configured domain, and the addresses that name a list (the
groundwork of ``kodeord mail``)."""

from __future__ import annotations

import email.policy
import smtplib
from collections.abc import Callable, Iterator
from email.message import EmailMessage

import pytest
from aiosmtpd.controller import Controller
from hypothesis import given
from hypothesis import strategies as st

from kodeord.config.settings import Settings
from kodeord.inbound.mailtext import read_mail
from kodeord.platform import Platform
from kodeord.plugins.addressbook import mailinbox
from kodeord.plugins.addressbook.mailaddress import SETTINGS, ListAddress, address_of, list_named
from kodeord.plugins.addressbook.mailserver import ListHandler

from ..addressbook_rig import RULES
from ..conftest import free_port

IDS = st.from_regex(r"[a-z0-9][a-z0-9_-]{0,20}", fullmatch=True)


def settings(domain: str) -> Settings:
    found = Settings(environ={"KODEORD_MAIL_DOMAIN": domain})
    found.declare(SETTINGS)
    return found


@given(tenant=IDS, list_id=IDS)
def test_an_address_names_its_list_back(tenant: str, list_id: str) -> None:
    configured = settings("lists.example.se")
    address = address_of(configured, tenant, list_id)
    assert address is not None
    assert list_named(configured, address.upper()) == ListAddress(tenant, list_id)


@pytest.mark.parametrize(
    "address",
    [
        "medlemmar@lists.example.se",
        "a.b.c@lists.example.se",
        "medlemmar.forening@example.se",
        "nobody",
        ".x@lists.example.se",
    ],
)
def test_other_addresses_name_no_list(address: str) -> None:
    assert list_named(settings("lists.example.se"), address) is None


def test_a_wrong_domain_setting_is_refused() -> None:
    with pytest.raises(Exception, match="expected a domain such as lists.example.se"):
        settings("not a domain")


# -- the SMTP server ------------------------------------------------------------------------------------------


@pytest.fixture
def server(make_platform: Callable[..., Platform]) -> Iterator[tuple[Platform, int]]:
    """``kodeord mail``'s handler for the address book rig's lists, on a free loopback port."""
    platform = make_platform(
        RULES, environ={"KODEORD_MAIL_DOMAIN": "lists.example.se", "KODEORD_MAIL_MAX_BYTES": "20000"}
    )
    platform.settings.declare(SETTINGS)
    port = free_port()
    controller = Controller(
        ListHandler(platform), hostname="127.0.0.1", port=port, data_size_limit=platform.settings.mail_max_bytes
    )
    controller.start()
    try:
        yield platform, port
    finally:
        controller.stop()


LIST = "medlemmar.forening@lists.example.se"


def letter(sender: str = "asa@example.se", subject: str = "Årsmöte", body: str = "Välkomna på torsdag!") -> bytes:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = LIST
    message["Subject"] = subject
    message.set_content(body)
    return message.as_bytes(policy=email.policy.SMTP)  # CR LF line ends, as SMTP carries them


def test_mail_for_a_list_is_kept_before_250_and_other_recipients_are_refused(server: tuple[Platform, int]) -> None:
    platform, port = server
    with smtplib.SMTP("127.0.0.1", port) as smtp:
        smtp.ehlo()
        smtp.mail("asa@example.se")
        assert smtp.rcpt("nobody@lists.example.se")[0] == 550
        assert smtp.rcpt("okand.forening@lists.example.se")[0] == 550  # no such list
        assert smtp.rcpt("medlemmar.klubben@lists.example.se")[0] == 550  # another tenant's name for it
        assert smtp.rcpt(LIST.upper())[0] == 250
        code, answer = smtp.data(letter())
    assert (code, answer) == (250, b"2.0.0 OK: kept for the list")
    [entry] = list(mailinbox.take(platform.redis, "test"))
    assert (entry.list_key, entry.sender) == ("forening/medlemmar", "asa@example.se")
    assert read_mail(entry.raw).text == "Välkomna på torsdag!"
    mailinbox.done(platform.redis, entry)
    assert list(mailinbox.take(platform.redis, "test")) == []


@pytest.mark.parametrize(
    ("raw", "code", "words"),
    [
        (b"Subject: ingen avsandare\r\n\r\nhej\r\n", 550, b"no From address"),
        (letter(body=("x" * 70 + "\n") * 400), 552, b"Error: Too much mail data"),
        (letter(subject="Autosvar: Årsmöte"), 250, b"2.6.0 Automatic mail accepted and not passed on"),
    ],
)
def test_bad_or_automatic_mail_is_answered_with_a_code_that_says_why(
    server: tuple[Platform, int], raw: bytes, code: int, words: bytes
) -> None:
    platform, port = server
    with smtplib.SMTP("127.0.0.1", port) as smtp:
        smtp.ehlo()
        smtp.mail("asa@example.se")
        smtp.rcpt(LIST)
        answer = smtp.data(raw)
    assert answer[0] == code and words in answer[1]
    assert list(mailinbox.take(platform.redis, "test")) == []  # nothing kept


def test_too_many_recipients_are_refused_at_rcpt(server: tuple[Platform, int]) -> None:
    platform, port = server
    with smtplib.SMTP("127.0.0.1", port) as smtp:
        smtp.ehlo()
        smtp.mail("asa@example.se")
        codes = [smtp.rcpt(LIST)[0] for _ in range(platform.settings.mail_max_recipients + 1)]
    assert codes[:-1] == [250] * platform.settings.mail_max_recipients and codes[-1] == 452


def test_mail_a_handler_took_and_never_finished_is_taken_over(server: tuple[Platform, int]) -> None:
    platform, port = server
    with smtplib.SMTP("127.0.0.1", port) as smtp:
        smtp.sendmail("asa@example.se", [LIST], letter())
    [taken] = list(mailinbox.take(platform.redis, "dead"))  # the handler dies before it is done
    [again] = list(mailinbox.take(platform.redis, "alive", idle_ms=0))
    assert again.id == taken.id and again.raw == taken.raw
    mailinbox.done(platform.redis, again)
    assert list(mailinbox.take(platform.redis, "alive", idle_ms=0)) == []

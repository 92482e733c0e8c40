"""Inbound mail read as hostile input: every charset and transfer encoding mail clients use gives the right
Swedish and Norwegian letters, HTML becomes text, attachments are named, automatic mail is recognised, and any
bytes are read or refused with an SMTP code, never an error."""

from __future__ import annotations

from email.message import EmailMessage
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kodeord.inbound.mailtext import MAX_DEPTH, MailError, html_text, read_mail

LETTERS = "Hej! Årsmötet i Göteborg blir på lördag. Ærlig talt, søndag går også. Åäö ÅÄÖ æøå ÆØÅ"


def mail(body: str, charset: str, encoding: str, subject: str = "Utskick") -> bytes:
    """A mail as a client writes it: the body in ``charset`` and transfer ``encoding``, the sender's name and
    the subject in RFC 2047 words."""
    message = EmailMessage()
    message["From"] = "=?utf-8?q?=C3=85sa?= <asa@example.se>"
    message["To"] = "medlemmar.forening@lists.example.se"
    message["Subject"] = subject
    message["Message-ID"] = "<1@example.se>"
    message.set_content(body, charset=charset, cte=encoding)
    return message.as_bytes()


@pytest.mark.parametrize("charset", ["utf-8", "iso-8859-1", "windows-1252"])
@pytest.mark.parametrize("encoding", ["quoted-printable", "base64", "8bit"])
def test_swedish_and_norwegian_letters_arrive_in_every_charset_and_encoding(charset: str, encoding: str) -> None:
    read = read_mail(mail(LETTERS, charset, encoding, subject="=?iso-8859-1?q?M=F6te_p=E5_l=F6rdag?="))
    assert read.text == LETTERS
    assert read.subject == "Möte på lördag"
    assert (read.sender, read.sender_name) == ("asa@example.se", "Åsa")
    assert read.automatic is None and read.attachments == ()


def test_the_html_part_becomes_text_when_there_is_no_plain_one() -> None:
    outer = MIMEMultipart("alternative")
    outer["From"] = "bo@example.se"
    outer["Subject"] = "Nyheter"
    outer.attach(
        MIMEText(
            "<html><head><style>p{color:red}</style></head><body><h1>Årsmöte</h1><p>Välkomna <b>alla</b>!<br>"
            "Anmälan: <a href='https://exempel.se/anmal'>här</a></p><script>alert(1)</script></body></html>",
            "html",
            "utf-8",
        )
    )
    assert read_mail(outer.as_bytes()).text == "Årsmöte\nVälkomna alla!\nAnmälan: här (https://exempel.se/anmal)"


def test_a_plain_part_wins_and_attachments_are_named_not_passed_on() -> None:
    outer = MIMEMultipart("mixed")
    outer["From"] = "bo@example.se"
    outer.attach(MIMEText("Se bifogad kallelse.", "plain", "utf-8"))
    attached = MIMEText("%PDF-1.4", "plain", "utf-8")
    attached.add_header("Content-Disposition", "attachment", filename="kallelse.pdf")
    outer.attach(attached)
    read = read_mail(outer.as_bytes())
    assert (read.text, read.attachments) == ("Se bifogad kallelse.", ("kallelse.pdf",))


@pytest.mark.parametrize(
    ("headers", "sender", "subject", "why"),
    [
        ({"Auto-Submitted": "auto-replied"}, "bo@example.se", "Re: Utskick", "Auto-Submitted: auto-replied"),
        ({"Precedence": "bulk"}, "bo@example.se", "Utskick", "Precedence: bulk"),
        ({}, "MAILER-DAEMON@example.se", "Utskick", "sent by mailer-daemon"),
        ({}, "bo@example.se", "Autosvar: Utskick", "an automatic subject (Autosvar: Utskick)"),
        ({}, "bo@example.se", "Frånvaro till och med 3/5", "an automatic subject (Frånvaro till och med 3/5)"),
        ({}, "bo@example.se", "Out of Office: Utskick", "an automatic subject (Out of Office: Utskick)"),
        ({"X-Autoreply": "yes"}, "bo@example.se", "Utskick", "an auto-reply header"),
    ],
)
def test_automatic_mail_is_recognised(headers: dict[str, str], sender: str, subject: str, why: str) -> None:
    message = EmailMessage()
    message["From"] = sender
    message["Subject"] = subject
    for key, value in headers.items():
        message[key] = value
    message.set_content("Jag är på semester.")
    assert read_mail(message.as_bytes()).automatic == why


def test_a_lists_own_mail_coming_back_is_recognised() -> None:
    message = EmailMessage()
    message["From"] = "bo@example.se"
    message["List-Id"] = "Föreningen <medlemmar.forening.lists.example.se>"
    message.set_content("Re: ...")
    read = read_mail(message.as_bytes())
    assert read.from_list("<medlemmar.forening.lists.example.se>", "")
    assert not read.from_list("<styrelsen.forening.lists.example.se>", "")


@pytest.mark.parametrize(
    ("raw", "code", "reason"),
    [
        (b"Subject: hej\n\nnagot", 550, "no From address"),
        (b"From: a@example.se, b@example.se\n\nnagot", 550, "from one address"),
        (b"From: inte en adress\n\nnagot", 550, "From address"),
    ],
)
def test_a_mail_without_one_sender_is_refused_with_a_code(raw: bytes, code: int, reason: str) -> None:
    with pytest.raises(MailError) as refused:
        read_mail(raw)
    assert refused.value.code == code and reason in refused.value.message


def test_mime_nested_a_hundred_levels_deep_is_refused() -> None:
    boundary = [f"b{n}" for n in range(100)]
    body = "".join(f'Content-Type: multipart/mixed; boundary="{b}"\n\n--{b}\n' for b in boundary)
    body += "Content-Type: text/plain\n\nhej\n" + "".join(f"--{b}--\n" for b in reversed(boundary))
    with pytest.raises(MailError) as refused:
        read_mail(b"From: bo@example.se\n" + body.encode())
    assert refused.value.code == 552 and f"more than {MAX_DEPTH} parts deep" in refused.value.message


def test_html_text_copes_with_nothing_and_with_broken_markup() -> None:
    assert html_text("") == ""
    assert html_text("<p>Hej<p>då") == "Hej\ndå"


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=600) | st.text(max_size=400).map(lambda t: ("From: a@b.se\nSubject: x\n\n" + t).encode()))
def test_any_bytes_are_read_or_refused_with_an_smtp_code(raw: bytes) -> None:
    try:
        read = read_mail(raw)
    except MailError as exc:
        assert 500 <= exc.code < 600 and exc.message
    else:
        assert "@" in read.sender and isinstance(read.text, str)

"""Email-to-list: each list's address under the configured domain, and the addresses that name a list (the
groundwork of ``kodeord mail``)."""

from __future__ import annotations

import base64
import email
import email.policy
import os
import smtplib
import ssl
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import dkim
import httpx
import pytest
from aiosmtpd.controller import Controller
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from kodeord.config.settings import Settings
from kodeord.inbound.encoding import analyse
from kodeord.inbound.mailtext import read_mail
from kodeord.outbound.sender import Sender
from kodeord.platform import Platform
from kodeord.plugins.addressbook import mailauth, mailinbox
from kodeord.plugins.addressbook.admin import ListAdmin
from kodeord.plugins.addressbook.mailaddress import SETTINGS, ListAddress, address_of, list_named
from kodeord.plugins.addressbook.mailhandling import handle
from kodeord.plugins.addressbook.mailserver import ListHandler
from kodeord.plugins.addressbook.store import ListKeys
from kodeord.testing.fakekannel import FakeKannel, running
from kodeord.web.app import create_app
from kodeord.web.console import accounts
from kodeord.web.console.accounts import Role

from ..addressbook_rig import RULES
from ..conftest import free_port, kannel_gateways
from ..web.console.conftest import PASSWORD, log_in

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
        (
            b"From: asa@example.se\r\n"
            + b"".join(f'Content-Type: multipart/mixed; boundary="b{n}"\r\n\r\n--b{n}\r\n'.encode() for n in range(100))
            + b"Content-Type: text/plain\r\n\r\nhej\r\n",
            552,
            b"5.3.4 message nested more than 10 parts deep",
        ),
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


# -- from mail to broadcast -----------------------------------------------------------------------------------

WRITER, ANNA, BO = "skrivare@example.se", "+46701000001", "bo@example.se"


class Sink:
    """The relay Kodeord's mail goes out through: keeps what it is given."""

    def __init__(self) -> None:
        self.mails: list[email.message.EmailMessage] = []
        self.envelope_from: dict[str, str] = {}  # recipient -> the envelope sender of the last mail to it

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's name
        self.mails.append(email.message_from_bytes(envelope.content, policy=email.policy.default))  # type: ignore[arg-type]
        for rcpt in envelope.rcpt_tos:
            self.envelope_from[rcpt] = envelope.mail_from
        return "250 OK"

    def to(self, address: str) -> list[email.message.EmailMessage]:
        return [m for m in self.mails if m["To"] == address]


@dataclass
class Lists:
    platform: Platform
    port: int  # kodeord mail's
    sink: Sink
    kannel: FakeKannel

    def post(self, raw: bytes, to: str = LIST, sender: str = WRITER) -> tuple[int, bytes]:
        with smtplib.SMTP("127.0.0.1", self.port) as smtp:
            smtp.ehlo()
            smtp.mail(sender)
            smtp.rcpt(to)
            return smtp.data(raw)

    def work(self) -> list[str]:
        """Handle what was kept, then send what that queued; what each mail became."""
        done = []
        for entry in mailinbox.take(self.platform.redis, "test"):
            done.append(handle(self.platform, entry))
            mailinbox.done(self.platform.redis, entry)
        sender = Sender(self.platform)
        while sender.run_once():
            pass
        return done

    def sms(self, number: str) -> list[str]:
        return [m["text"] for m in self.kannel.accepted if m["to"] == number]


@pytest.fixture
def lists(make_platform: Callable[..., Platform], tmp_path: Path) -> Iterator[Lists]:
    sink, relay = Sink(), free_port()
    relay_server = Controller(sink, hostname="127.0.0.1", port=relay)
    relay_server.start()
    with running() as kannel:
        gateways = tmp_path / "gateways.yaml"
        gateways.write_text(kannel_gateways(kannel.url), encoding="utf-8")
        platform = make_platform(
            RULES,
            gateways=gateways,
            environ={"KODEORD_MAIL_DOMAIN": "lists.example.se", "KODEORD_SMTP_URL": f"smtp://127.0.0.1:{relay}"},
        )
        admin = ListAdmin(platform, "forening", by="test")
        admin.add_member("medlemmar", phone_raw=ANNA)
        admin.add_member("medlemmar", email_raw=BO)
        admin.set_role("medlemmar", "writers", WRITER, True)
        admin.set_role("medlemmar", "functionaries", "kansli@example.se", True)
        port = free_port()
        server = Controller(ListHandler(platform), hostname="127.0.0.1", port=port)
        server.start()
        try:
            yield Lists(platform, port, sink, kannel)
        finally:
            server.stop()
            relay_server.stop()


def written(body: str, subject: str = "Årsmöte", sender: str = WRITER, charset: str = "iso-8859-1") -> bytes:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = LIST
    message["Subject"] = subject
    message.set_content(body, charset=charset, cte="quoted-printable")
    return message.as_bytes(policy=email.policy.SMTP)


def test_a_writers_mail_is_sent_once_they_confirm_by_replying(lists: Lists) -> None:
    mail = EmailMessage()
    mail["From"] = WRITER
    mail["To"] = LIST
    mail["Subject"] = "Årsmöte på torsdag"
    mail.set_content(
        "Välkomna till årsmötet i Göteborg på torsdag kl 19!", charset="iso-8859-1", cte="quoted-printable"
    )
    mail.add_attachment(b"%PDF-1.4", maintype="application", subtype="pdf", filename="kallelse.pdf")
    assert lists.post(mail.as_bytes(policy=email.policy.SMTP))[0] == 250
    assert lists.work() == ["confirm"]
    [question] = lists.sink.to(WRITER)
    assert question["Subject"] == "Bekräfta: Årsmöte på torsdag"
    confirm = question["Reply-To"]
    assert confirm.startswith("confirm+") and confirm.endswith(".medlemmar.forening@lists.example.se")
    assert lists.sms(ANNA) == [] and lists.sink.to(BO) == []  # nothing goes out before the writer says so
    assert lists.post(written("", subject="Re: Bekräfta"), to=confirm)[0] == 250
    assert lists.work() == ["broadcast"]
    assert lists.sms(ANNA) == ["Välkomna till årsmötet i Göteborg på torsdag kl 19!"]
    [to_bo] = lists.sink.to(BO)
    assert to_bo["Subject"] == "Årsmöte på torsdag"
    assert to_bo.get_content().startswith("Välkomna till årsmötet i Göteborg på torsdag kl 19!")  # type: ignore[attr-defined]
    receipt = lists.sink.to(WRITER)[-1]
    assert receipt["Subject"] == "Skickat: Årsmöte på torsdag"
    assert receipt.get_content().strip() == (  # type: ignore[attr-defined]
        'Ditt utskick "Årsmöte på torsdag" till Föreningen gick till 2 mottagare. '
        "Bilagor skickas inte vidare: kallelse.pdf."
    )
    assert lists.post(written("", subject="Re: Bekräfta"), to=confirm)[0] == 250  # a second reply sends nothing
    assert lists.work() == ["dropped: no mail of this writer waits under that code"]
    assert len(lists.sms(ANNA)) == 1


def test_a_forged_from_gets_nothing_sent_and_a_stranger_reaches_only_the_functionaries(lists: Lists) -> None:
    assert lists.post(written("Köp billigt!", sender=WRITER), sender="spammer@example.net")[0] == 250
    assert lists.work() == ["confirm"]  # the question goes to the real writer, who does not reply
    assert lists.sms(ANNA) == [] and lists.sink.to(BO) == []
    assert lists.post(written("Hur går jag med?", sender="okand@example.se"))[0] == 250
    assert lists.work() == ["not-sent"]
    [notice] = lists.sink.to("kansli@example.se")
    assert notice.get_content().strip() == (  # type: ignore[attr-defined]
        "Meddelande ej skickat. Från okand@example.se till Föreningen: Hur går jag med?"
    )
    guess = "confirm+" + "0" * 24 + ".medlemmar.forening@lists.example.se"
    assert lists.post(written("", sender=WRITER), to=guess)[0] == 250  # a guessed code holds nothing
    assert lists.work() == ["dropped: no mail of this writer waits under that code"]


def test_the_lists_own_mail_coming_back_is_never_broadcast(lists: Lists) -> None:
    message = EmailMessage()
    message["From"] = WRITER
    message["List-Id"] = "Föreningen <medlemmar.forening.lists.example.se>"
    message["Subject"] = "Re: Årsmöte"
    message.set_content("Tack!")
    assert lists.post(message.as_bytes(policy=email.policy.SMTP))[0] == 250
    assert lists.work() == ["dropped: the list's own mail came back"]
    assert lists.sink.mails == []


def test_a_long_mail_is_cut_for_sms_with_a_mark(lists: Lists) -> None:
    footer = "/Föreningen. Svara STOPP för att avsluta."
    ListAdmin(lists.platform, "forening", by="test").set_options("medlemmar", {"footer": footer})
    long = " ".join(["Årsmötet"] * 200)
    lists.post(written(long))
    lists.work()
    confirm = lists.sink.to(WRITER)[0]["Reply-To"]
    lists.post(written("ja"), to=confirm)
    lists.work()
    [sms] = lists.sms(ANNA)
    assert sms.endswith(" [...]\n" + footer) and sms.count(footer) == 1 and analyse(sms).segments == 3
    assert lists.sink.to(BO)[0].get_content().startswith(long)  # type: ignore[attr-defined]


# -- writers known by their DKIM signature --------------------------------------------------------------------


@pytest.fixture
def signer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[bytes, str], bytes]:
    """``sign(raw, domain)``: the mail signed with a key made here, whose public half the DNS answers give."""
    key = tmp_path / "dkim.pem"
    subprocess.run(["openssl", "genrsa", "-out", str(key), "2048"], check=True, capture_output=True)
    public = subprocess.run(
        ["openssl", "rsa", "-in", str(key), "-pubout", "-outform", "DER"], check=True, capture_output=True
    ).stdout
    record = b"v=DKIM1; k=rsa; p=" + base64.b64encode(public)
    answers = {"sel._domainkey.example.se.": record}
    monkeypatch.setattr(
        mailauth, "resolve", lambda name, timeout=5: answers.get(name.decode() if isinstance(name, bytes) else name)
    )
    private = key.read_bytes()

    def sign(raw: bytes, domain: str) -> bytes:
        return dkim.sign(raw, b"sel", domain.encode(), private, include_headers=[b"from", b"subject", b"to"]) + raw

    return sign


def test_a_list_that_knows_writers_by_dkim_sends_a_signed_mail_at_once_and_refuses_a_forged_one(
    lists: Lists, signer: Callable[[bytes, str], bytes]
) -> None:
    ListAdmin(lists.platform, "forening", by="test").set_options("medlemmar", {"mail_writers": "dkim"})
    signed = signer(written("Styrelsemöte i kväll!", subject="Styrelsen"), "example.se")
    assert lists.post(signed)[0] == 250
    assert lists.work() == ["broadcast"]
    assert lists.sms(ANNA) == ["Styrelsemöte i kväll!"]
    forged = written("Köp billigt!", subject="Erbjudande")  # the writer's From, no signature
    assert lists.post(forged, sender="spammer@example.net")[0] == 250
    assert lists.work() == ["not-sent"]
    tampered = signer(written("Styrelsemöte i kväll!", subject="Styrelsen"), "example.se").replace(
        b"kv=E4ll", b"morgon"
    )
    assert lists.post(tampered)[0] == 250
    assert lists.work() == ["not-sent"]  # the signature no longer verifies
    assert lists.sms(ANNA) == ["Styrelsemöte i kväll!"]
    notices = [m.get_content().strip() for m in lists.sink.to("kansli@example.se")]  # type: ignore[attr-defined]
    assert len(notices) == 2 and all(n.startswith("Meddelande ej skickat. Från skrivare@example.se") for n in notices)


# -- kodeord mail, as it runs ---------------------------------------------------------------------------------


def test_kodeord_mail_takes_mail_over_starttls_and_handles_it(
    tmp_path: Path, kodeord_redis_url: str, kodeord_redis: Any
) -> None:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
         "-days", "1", "-subj", "/CN=lists.example.se"],
        check=True, capture_output=True,
    )  # fmt: skip
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES, encoding="utf-8")
    port = free_port()
    env = {
        **os.environ,
        "KODEORD_REDIS_URL": kodeord_redis_url,
        "KODEORD_RULES": str(rules),
        "KODEORD_DATA_DIR": str(tmp_path / "var"),
        "KODEORD_MAIL_DOMAIN": "lists.example.se",
        "KODEORD_MAIL_TLS_CERT": str(cert),
        "KODEORD_MAIL_TLS_KEY": str(key),
    }
    kodeord_redis.sadd(ListKeys("forening/medlemmar").writers, WRITER)
    process = subprocess.Popen(
        [str(Path(sys.executable).with_name("kodeord")), "mail", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                smtp = smtplib.SMTP("127.0.0.1", port, timeout=10)
                break
            except OSError:
                assert time.monotonic() < deadline and process.poll() is None, "kodeord mail did not start"
                time.sleep(0.2)
        with smtp:
            smtp.ehlo()
            assert smtp.has_extn("starttls")
            context = ssl.create_default_context(cafile=str(cert))
            context.check_hostname = False
            smtp.starttls(context=context)
            smtp.ehlo()
            smtp.mail(WRITER)
            assert smtp.rcpt("okand.forening@lists.example.se")[0] == 550
            assert smtp.rcpt(LIST)[0] == 250
            assert smtp.data(written("Årsmöte på torsdag"))[0] == 250
        held = ListKeys("forening/medlemmar").keys.key_for("held", "*")
        while not kodeord_redis.keys(held):  # handled: the writer's mail waits for their reply
            assert time.monotonic() < deadline, "the mail was not handled"
            time.sleep(0.2)
    finally:
        process.terminate()
        process.wait(10)


def test_kodeord_mail_needs_a_domain(tmp_path: Path, kodeord_redis_url: str) -> None:
    env = {**os.environ, "KODEORD_REDIS_URL": kodeord_redis_url, "KODEORD_DATA_DIR": str(tmp_path / "var")}
    env.pop("KODEORD_MAIL_DOMAIN", None)
    done = subprocess.run(
        [str(Path(sys.executable).with_name("kodeord")), "mail"], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 1 and "set KODEORD_MAIL_DOMAIN" in done.stderr


def bounce(to: str, status: str) -> bytes:
    """A delivery status notification (RFC 3464) as a receiving server writes one."""
    return (
        "From: Mail Delivery System <MAILER-DAEMON@mx.example.se>\r\n"
        f"To: {to}\r\nSubject: Undelivered Mail Returned to Sender\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="b"\r\n\r\n'
        "--b\r\nContent-Type: text/plain\r\n\r\nThe mail could not be delivered.\r\n"
        "--b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.se\r\n\r\n"
        f"Final-Recipient: rfc822; {BO}\r\nAction: failed\r\nStatus: {status}\r\n--b--\r\n"
    ).encode()


def test_list_mail_carries_its_list_headers_and_bounces_come_back_counted(lists: Lists) -> None:
    lists.post(written("Årsmöte på torsdag"))
    lists.work()
    lists.post(written("ja"), to=lists.sink.to(WRITER)[0]["Reply-To"])
    lists.work()
    [to_bo] = lists.sink.to(BO)
    assert to_bo["List-Id"] == "Föreningen <medlemmar.forening.lists.example.se>"
    assert to_bo["From"] == f"Föreningen <{LIST}>"  # a member's reply reaches the list (its functionaries)
    assert to_bo["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click" and to_bo["List-Unsubscribe"]
    return_path = lists.sink.envelope_from[BO]
    assert return_path.startswith("bounce+") and return_path.endswith(".medlemmar.forening@lists.example.se")
    assert lists.post(bounce(return_path, "4.2.2"), to=return_path, sender="")[0] == 250
    assert lists.work() == ["bounce: not a hard one, not counted"]
    for n in (1, 2):
        lists.post(bounce(return_path, "5.1.1"), to=return_path, sender="")
        assert lists.work() == [f"bounce: hard, {n} for {BO}"]
    lists.post(bounce(return_path, "5.1.1"), to=return_path, sender="")
    assert lists.work() == [f"bounce: hard, 3 for {BO}: address disabled"]
    admin = ListAdmin(lists.platform, "forening", by="test")
    assert BO not in [m["id"] for m in admin.members("medlemmar")["items"]]
    assert admin.consent("medlemmar", BO)[-1]["text"] == "email address disabled after 3 hard bounces"
    forged = return_path.replace("bounce+", "bounce+0")[: len(return_path)]
    lists.post(bounce(forged, "5.1.1"), to="bounce+" + "1" * 20 + ".medlemmar.forening@lists.example.se", sender="")
    assert lists.work() == ["dropped: a bounce for no member of the list"]


def test_the_console_and_lists_show_give_the_lists_address(
    make_platform: Callable[..., Platform], serve: Callable[..., str]
) -> None:
    platform = make_platform(RULES, environ={"KODEORD_MAIL_DOMAIN": "lists.example.se", "KODEORD_SECRET_KEY": "k"})
    assert ListAdmin(platform, "forening", by="test").show("medlemmar")["address"] == LIST
    accounts.create(platform.redis, "forening", "ordforande@example.se", PASSWORD, Role.OWNER)
    with httpx.Client(base_url=serve(create_app(platform))) as person:
        log_in(person, "ordforande@example.se")
        page = person.get("/console/lists/medlemmar")
    assert f"Skrivare skickar utskick med e-post till {LIST}." in page.text


@hypothesis_settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=st.binary(max_size=2000), rcpt=st.sampled_from([LIST, "x@lists.example.se", "<>", "a" * 300]))
def test_any_mail_gets_an_answer_and_the_server_stays_up(server: tuple[Platform, int], raw: bytes, rcpt: str) -> None:
    _, port = server
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
        smtp.ehlo()
        smtp.mail("a@example.se")
        code, _ = smtp.rcpt(rcpt)
        if code == 250:
            answer = smtp.data(raw.replace(b"\r", b"").replace(b"\n", b"\r\n"))
            assert answer[0] in (250, 451, 500, 550, 552, 554), answer
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as again:  # still answering
        assert again.noop()[0] == 250


def test_a_signed_mail_to_someone_else_or_a_broken_signature_sends_nothing(
    lists: Lists, signer: Callable[[bytes, str], bytes]
) -> None:
    ListAdmin(lists.platform, "forening", by="test").set_options("medlemmar", {"mail_writers": "dkim"})
    private = written("Hej Åsa, ses i morgon?", subject="Privat").replace(LIST.encode(), b"asa@example.se")
    resent = signer(private, "example.se")  # signed by the writer, to Åsa: sent on to the list by someone else
    assert lists.post(resent)[0] == 250
    assert lists.work() == ["not-sent"]
    broken = b"DKIM-Signature: v=1; a=rsa-sha256; d=ex..se; s=sel; h=from:to; bh=x; b=y\r\n" + written("Hej")
    assert lists.post(broken)[0] == 250
    assert lists.work() == ["not-sent"]  # a signature that cannot even be checked is not believed
    assert lists.sms(ANNA) == []


def test_a_list_whose_id_has_capitals_takes_mail_at_its_lower_case_address(server: tuple[Platform, int]) -> None:
    platform, port = server
    ListAdmin(platform, "forening", by="test").create("Styrelsen", {})
    with smtplib.SMTP("127.0.0.1", port) as smtp:
        smtp.ehlo()
        smtp.mail("asa@example.se")
        assert smtp.rcpt("styrelsen.forening@lists.example.se")[0] == 250
        assert smtp.data(letter())[0] == 250
    [entry] = list(mailinbox.take(platform.redis, "test"))
    assert entry.list_key == "forening/Styrelsen"


def test_the_same_mail_coming_again_starts_no_second_broadcast(
    lists: Lists, signer: Callable[[bytes, str], bytes]
) -> None:
    ListAdmin(lists.platform, "forening", by="test").set_options("medlemmar", {"mail_writers": "dkim"})
    message = EmailMessage()
    message["From"] = WRITER
    message["To"] = LIST
    message["Subject"] = "Styrelsen"
    message["Message-ID"] = "<styrelsen-1@example.se>"
    message.set_content("Styrelsemöte i kväll!")
    signed = signer(message.as_bytes(policy=email.policy.SMTP), "example.se")
    assert lists.post(signed)[0] == 250
    assert lists.post(signed)[0] == 250  # the writer's server tries again: a 250 it never saw
    assert lists.work() == ["broadcast", "dropped: sent already"]
    assert lists.sms(ANNA) == ["Styrelsemöte i kväll!"]


def test_a_writer_is_told_when_their_mail_cannot_become_a_broadcast(
    lists: Lists, signer: Callable[[bytes, str], bytes]
) -> None:
    admin = ListAdmin(lists.platform, "forening", by="test")
    admin.create("styrelsen", {"mail_writers": "dkim", "name": "Styrelsen"})  # a list without a number
    admin.set_role("styrelsen", "writers", WRITER, True)
    address = "styrelsen.forening@lists.example.se"
    signed = signer(written("Möte i kväll", subject="Möte").replace(LIST.encode(), address.encode()), "example.se")
    assert lists.post(signed, to=address)[0] == 250
    [what] = lists.work()
    assert what.startswith("dropped: list 'styrelsen' has no number")
    [told] = lists.sink.to(WRITER)
    assert told["Subject"] == "Inte skickat: Möte"
    assert told.get_content().startswith('Ditt utskick "Möte" till Styrelsen kunde inte skickas: list')  # type: ignore[attr-defined]

"""Email to a list: writers mail their lists over real SMTP, and every mail becomes a complete broadcast.

Starts, on loopback: an embedded Redis; a fake Kannel sendsms (in this process); a relay that takes the lists'
outgoing mail (aiosmtpd, in this process); the lists' mail server as ``kodeord mail`` runs it (aiosmtpd with
Kodeord's handler) and its handler of kept mail, in a thread; a sender draining the outbox, in a thread. The
lists know their writers by DKIM (``mail_writers: dkim``): each mail is signed with a key made for the run, and
the handler's DNS look-ups are answered with its public half.

    .venv/bin/python bench/email.py [--mails 600] [--lists 5] [--members 10] [--clients 8]

(``bench/email.py`` runs this file's ``main``.)

``--clients`` SMTP connections send ``--mails`` mails between them (one writer per list), signed before the
clock starts. Figures: accepted_per_s is mails answered 250 per second of sending; sms_sent and emails_sent are
the members' messages the fake Kannel and the relay took (receipts to writers not counted); lost is members'
messages expected and never taken (a list's SMS members and email members for each mail, once the handler and
the sender have run dry), duplicated is messages taken more than once.

Last line: mails=N accepted_per_s=N sms_sent=N emails_sent=N lost=N duplicated=N
"""

from __future__ import annotations

import argparse
import base64
import email
import email.policy
import smtplib
import subprocess
import sys
import threading
import time
from collections import Counter
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import dkim
from aiosmtpd.controller import Controller
from benchlib import embedded_redis, free_port, kannel_gateways

from kodeord.config.settings import Settings
from kodeord.outbound.sender import Sender
from kodeord.platform import Platform
from kodeord.plugins.addressbook import mailauth
from kodeord.plugins.addressbook.admin import ListAdmin
from kodeord.plugins.addressbook.mailrunner import work_once
from kodeord.plugins.addressbook.mailserver import ListHandler
from kodeord.testing.fakekannel import running

DOMAIN = "lists.example.se"
TENANT = "bench"


class Relay:
    """The relay the lists' mail goes out through: counts what it is given, by recipient and subject."""

    def __init__(self) -> None:
        self.taken: Counter[tuple[str, str]] = Counter()
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's name
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self.lock:
            for rcpt in envelope.rcpt_tos:
                self.taken[(rcpt, str(message["Subject"]))] += 1
        return "250 OK"


def rules(lists: int) -> str:
    numbers = "".join(f'  - {{number: "+4676686{2000 + n:04d}", type: dedicated}}\n' for n in range(lists))
    services = "".join(
        f'  - id: lista{n}\n    number: "+4676686{2000 + n:04d}"\n    catch_all: true\n    rules:\n'
        f"      - {{name: list, do: addressbook.inbox, with: {{name: Lista {n}, mail_writers: dkim}}}}\n"
        for n in range(lists)
    )
    return f"tenant: {{id: {TENANT}, name: Bench AB}}\nnumbers:\n{numbers}services:\n{services}"


def keys(tmp: Path) -> tuple[bytes, bytes]:
    """A DKIM key pair for the run: the private key (PEM) and the DNS record of its public half."""
    private = tmp / "dkim.pem"
    subprocess.run(["openssl", "genrsa", "-out", str(private), "2048"], check=True, capture_output=True)
    public = subprocess.run(
        ["openssl", "rsa", "-in", str(private), "-pubout", "-outform", "DER"], check=True, capture_output=True
    ).stdout
    return private.read_bytes(), b"v=DKIM1; k=rsa; p=" + base64.b64encode(public)


def mail(n: int, writer: str, to: str, key: bytes) -> bytes:
    message = EmailMessage()
    message["From"] = writer
    message["To"] = to
    message["Subject"] = f"Utskick {n}"
    message.set_content(f"Utskick nummer {n}: årsmötet är på torsdag. Välkomna!")
    raw = message.as_bytes(policy=email.policy.SMTP)
    return dkim.sign(raw, b"sel", b"example.se", key, include_headers=[b"from", b"subject", b"to"]) + raw


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mails", type=int, default=600)
    parser.add_argument("--lists", type=int, default=5)
    parser.add_argument("--members", type=int, default=10, help="SMS members and as many email members per list")
    parser.add_argument("--clients", type=int, default=8)
    args = parser.parse_args()
    with embedded_redis("kodeord-email-") as (server, tmp), running() as kannel:
        private, record = keys(tmp)
        mailauth.resolve = lambda name, timeout=5: record if b"sel._domainkey.example.se" in name else None  # noqa: ARG005
        relay, relay_port, port = Relay(), free_port(), free_port()
        (tmp / "rules.yaml").write_text(rules(args.lists), encoding="utf-8")
        (tmp / "gateways.yaml").write_text(kannel_gateways(kannel.url), encoding="utf-8")
        settings = Settings(
            environ={"KODEORD_MAIL_DOMAIN": DOMAIN, "KODEORD_SMTP_URL": f"smtp://127.0.0.1:{relay_port}"},
            redis_url=server.url,
            data_dir=tmp / "var",
            rules=(tmp / "rules.yaml",),
            gateways=tmp / "gateways.yaml",
            log_level="WARNING",
        )
        with Platform(settings) as platform:
            admin = ListAdmin(platform, TENANT, by="bench")
            writers = {}
            for n in range(args.lists):
                list_id = f"lista{n}"
                writers[list_id] = f"skrivare{n}@example.se"
                admin.set_role(list_id, "writers", writers[list_id], True)
                for m in range(args.members):
                    admin.add_member(list_id, phone_raw=f"+46702{n:02d}{m:04d}")
                    admin.add_member(list_id, email_raw=f"medlem{m}.{n}@example.se")
            print(f"{args.lists} lists of {2 * args.members} members; signing {args.mails} mails", file=sys.stderr)
            outbox = [(f"lista{n % args.lists}", n) for n in range(args.mails)]
            signed = [
                (writers[lst], f"{lst}.{TENANT}@{DOMAIN}", mail(n, writers[lst], f"{lst}.{TENANT}@{DOMAIN}", private))
                for lst, n in outbox
            ]
            relay_server = Controller(relay, hostname="127.0.0.1", port=relay_port)
            mail_server = Controller(
                ListHandler(platform), hostname="127.0.0.1", port=port, data_size_limit=settings.mail_max_bytes
            )
            relay_server.start()
            mail_server.start()
            stop = threading.Event()

            def handler() -> None:
                while not stop.is_set():
                    if not work_once(platform, "bench"):
                        stop.wait(0.05)

            def sender() -> None:
                drain = Sender(platform)
                while not stop.is_set():
                    if not drain.run_once():
                        stop.wait(0.05)

            threads = [threading.Thread(target=handler, daemon=True), threading.Thread(target=sender, daemon=True)]
            for thread in threads:
                thread.start()
            answers: Counter[int] = Counter()
            lock = threading.Lock()

            def client(share: list[tuple[str, str, bytes]]) -> None:
                with smtplib.SMTP("127.0.0.1", port) as smtp:
                    for writer, to, raw in share:
                        code = smtp.sendmail(writer, [to], raw) and 0 or 250
                        with lock:
                            answers[code] += 1

            shares = [signed[i :: args.clients] for i in range(args.clients)]
            started = time.perf_counter()
            clients = [threading.Thread(target=client, args=(share,)) for share in shares]
            for thread in clients:
                thread.start()
            for thread in clients:
                thread.join()
            sending_s = time.perf_counter() - started
            accepted = answers[250]
            print(f"{accepted} of {args.mails} mails accepted in {sending_s:.1f} s", file=sys.stderr)
            kannel_before = -1
            deadline = time.monotonic() + 600
            while time.monotonic() < deadline:  # until the handler and the sender have run dry
                now = len(kannel.accepted) + sum(relay.taken.values())
                if now == kannel_before:
                    break
                kannel_before = now
                time.sleep(3)
            stop.set()
            for thread in threads:
                thread.join(10)
            mail_server.stop()
            relay_server.stop()
        sms = Counter((m["to"], m["text"].split(":")[0]) for m in kannel.accepted)
        members_mail = {key: count for key, count in relay.taken.items() if key[0].startswith("medlem")}
        expected_sms = {
            (f"+46702{n % args.lists:02d}{m:04d}", f"Utskick nummer {n}")
            for n in range(args.mails)
            for m in range(args.members)
        }
        expected_mail = {
            (f"medlem{m}.{n % args.lists}@example.se", f"Utskick {n}")
            for n in range(args.mails)
            for m in range(args.members)
        }
        lost = len(expected_sms - set(sms)) + len(expected_mail - set(members_mail))
        duplicated = sum(c - 1 for c in sms.values() if c > 1) + sum(c - 1 for c in members_mail.values() if c > 1)
        print(
            f"mails={args.mails} accepted_per_s={accepted / sending_s:.0f} sms_sent={sum(sms.values())} "
            f"emails_sent={sum(members_mail.values())} lost={lost} duplicated={duplicated}"
        )


if __name__ == "__main__":
    main()

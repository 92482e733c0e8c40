"""The address book's JSON API and CLI over real HTTP and a real Redis, and broadcasts by email through a
real SMTP server (aiosmtpd)."""

from __future__ import annotations

import email
import email.policy
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kodeord.commit.keys import Keys
from kodeord.commit.records import Status
from kodeord.outbound import fanout, status
from kodeord.outbound.mailer import SmtpGateway
from kodeord.web import apikeys

from ..addressbook_rig import OPEN, RULES, Book
from ..conftest import free_port, on_terminal

ANNA, BERIT, WRITER = "+46701000001", "+46701000002", "+46709000001"
KODEORD = [sys.executable, "-c", "from kodeord.cli import main; main()"]


class Api:
    def __init__(self, book: Book, tenant: str = "forening") -> None:
        self.url = f"{book.url}/api/addressbook/lists"
        self.headers = {"Authorization": f"Bearer {apikeys.create(book.redis, tenant, 'test')}"}

    def __call__(self, method: str, path: str = "", body: Any = None, **params: str) -> httpx.Response:
        return httpx.request(method, self.url + path, json=body, params=params, headers=self.headers)


@pytest.fixture
def api(book: Book) -> Api:
    return Api(book)


def test_every_route_needs_a_key_of_the_lists_tenant(book: Book, api: Api) -> None:
    other = Api(book, "klubben")
    for method, path in [
        ("GET", ""),
        ("GET", "/medlemmar"),
        ("GET", "/medlemmar/members"),
        ("POST", "/medlemmar/members"),
        ("PATCH", "/medlemmar"),
    ]:
        assert httpx.request(method, api.url + path, json={}).status_code == 401
        wrong = httpx.request(method, api.url + path, json={}, headers={"Authorization": "Bearer kod_wrong"})
        assert wrong.status_code == 401 and wrong.headers["www-authenticate"] == "Bearer"
    assert [row["id"] for row in other("GET").json()["lists"]] == ["medlemmar"]  # klubben's own list only
    book.sms(ANNA, "START")
    assert other("GET", "/medlemmar/members").json()["items"] == []  # the same id, another tenant's list
    assert other("GET", "/kris").status_code == 404
    assert api("GET", "/medlemmar/members").json()["items"] == [{"id": ANNA, "phone": ANNA}]


def test_create_show_and_change_a_lists_options(api: Api) -> None:
    created = api("POST", body={"id": "nyhetsbrev", "options": {"approval": "manual", "name": "Nyhetsbrevet"}})
    assert created.status_code == 201, created.text
    assert created.json()["options"]["approval"] == "manual" and created.json()["number"] is None
    assert api("POST", body={"id": "nyhetsbrev"}).status_code == 409
    shown = api("GET", "/medlemmar").json()
    assert (shown["number"], shown["options"]["name"], shown["options"]["senders"]) == (OPEN, "Föreningen", "writers")
    changed = api("PATCH", "/medlemmar", {"senders": "members", "replies": {"joined": "Hej {{ list }}!"}})
    assert changed.json()["options"]["senders"] == "members"
    assert changed.json()["options"]["replies"]["joined"] == "Hej {{ list }}!"
    back = api("PATCH", "/medlemmar", {"senders": None})
    assert back.json()["options"]["senders"] == "writers"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"approval": "sometimes"}, "option 'approval': must be one of auto, manual"),
        ({"replies": {"joined": "Hej {{ lista }}"}}, "unknown variable 'lista'"),
        ({"replies": {"joined": "Hej {{ list"}}, "template syntax error"),
        ({"replies": {"joined": "{{ 'a' * 1000000000 }}"}}, "template would go over its budget"),
        ({"replies": {"joined": "{{ list.__class__ }}"}}, "template reaches for line 1: '__class__'"),
        ({"replies": {"welcome": "Hej"}}, "unknown reply 'welcome'"),
        ({"join_words": ["two words"]}, "'two words' is not a single word"),
        ({"colour": "red"}, "unknown option 'colour'"),
    ],
)
def test_bad_options_are_refused_with_the_reason_and_change_nothing(
    api: Api, options: dict[str, Any], message: str
) -> None:
    answer = api("PATCH", "/medlemmar", options)
    assert answer.status_code == 422 and message in answer.json()["error"]
    assert api("GET", "/medlemmar").json()["options"]["approval"] == "auto"


def test_members_pending_and_unsubscribed_through_the_api(book: Book, api: Api) -> None:
    added = api("POST", "/kris/members", {"phone": "070-100 00 01", "note": "paper form"})
    assert added.status_code == 201 and added.json()["id"] == ANNA
    assert api("POST", "/kris/members", {"phone": "08-123 456 78"}).status_code == 400  # not a mobile
    assert api("POST", "/kris/members", {}).json()["error"] == "a member needs a mobile number or an email address"
    book.sms(BERIT, "START", to="+46766861005")
    assert [r["id"] for r in api("GET", "/kris/members", state="pending").json()["items"]] == [BERIT]
    assert api("POST", f"/kris/pending/{BERIT}/approve").status_code == 200
    assert api("POST", f"/kris/pending/{BERIT}/approve").status_code == 404
    book.sms(ANNA, "STOPP", to="+46766861005")
    assert [r["id"] for r in api("GET", "/kris/members", state="unsubscribed").json()["items"]] == [ANNA]
    again = api("POST", "/kris/members", {"phone": ANNA})
    assert again.status_code == 409 and "only they can join again" in again.json()["error"]
    assert api("DELETE", f"/kris/members/{BERIT}").status_code == 204
    assert api("GET", "/kris/members").json()["items"] == []
    records = api("GET", f"/kris/members/{ANNA}/consent").json()["records"]
    assert [(r["event"], r["channel"], r["text"]) for r in records] == [
        ("added", "api", "paper form"),
        ("leave", "sms", "STOPP"),
    ]
    csv_text = api("GET", f"/kris/members/{ANNA}/consent", format="csv").text
    assert csv_text.splitlines()[0] == "at,event,channel,text,by,ref" and ",leave,sms,STOPP," in csv_text


def test_members_page_through_a_long_list(book: Book, api: Api) -> None:
    numbers = [f"+4670400{i:04d}" for i in range(25)]
    book.admin().import_members("medlemmar", [(n, "") for n in numbers], "import")
    seen: list[str] = []
    after = ""
    while True:
        page = api("GET", "/medlemmar/members", limit="10", after=after).json()
        seen += [row["id"] for row in page["items"]]
        if not page["next"]:
            break
        after = page["next"]
    assert seen == sorted(numbers)


def test_writers_and_functionaries_through_the_api(book: Book, api: Api) -> None:
    assert api("POST", "/medlemmar/writers", {"address": "0709000001"}).json() == {"writers": [WRITER]}
    assert api("POST", "/medlemmar/functionaries", {"address": "Kansli@Example.se"}).json() == {
        "functionaries": ["kansli@example.se"]
    }
    assert api("POST", "/medlemmar/writers", {"address": "nonsense"}).status_code == 400
    book.sms(ANNA, "START")
    book.sms(WRITER, "Hej medlemmar")
    book.send()
    assert book.inbox(ANNA)[-1] == "Hej medlemmar"
    assert api("DELETE", f"/medlemmar/writers/{WRITER}").json() == {"writers": []}
    assert api("DELETE", f"/medlemmar/writers/{WRITER}").status_code == 404


def test_a_broadcast_started_through_the_api_and_its_progress(book: Book, api: Api) -> None:
    book.sms(ANNA, "START")
    book.sms(BERIT, "START")
    started = api("POST", "/medlemmar/broadcasts", {"text": "Från webben"})
    assert started.status_code == 202
    book.send()
    assert book.inbox(ANNA)[-1] == book.inbox(BERIT)[-1] == "Från webben"
    progress = api("GET", f"/medlemmar/broadcasts/{started.json()['id']}").json()
    assert (progress["queued"], progress["state"]) == ("2", "done")
    assert api("POST", "/medlemmar/broadcasts", {"text": " "}).status_code == 400


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    body=st.one_of(
        st.binary(max_size=200),
        st.text(max_size=200).map(str.encode),
        st.dictionaries(st.text(max_size=10), st.text(max_size=20)).map(lambda d: json.dumps(d).encode()),
    )
)
def test_any_body_gets_a_clear_answer_never_a_500(api: Api, body: bytes) -> None:
    for path in ("/medlemmar/members", "/medlemmar/writers", "", "/medlemmar/broadcasts"):
        answer = httpx.post(api.url + path, content=body, headers={**api.headers, "Content-Type": "application/json"})
        assert answer.status_code < 500, (path, body, answer.text)
        if answer.status_code >= 400:
            assert answer.json()["error"]


# -- email ----------------------------------------------------------------------------------------------------


class Inbox:
    def __init__(self) -> None:
        self.messages: list[email.message.Message] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's name
        self.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox, port = Inbox(), free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


def test_members_with_email_get_broadcasts_by_mail_with_a_working_leave_link(
    book: Book, api: Api, smtp: tuple[Inbox, int]
) -> None:
    inbox, port = smtp
    book.platform.mailer = SmtpGateway(f"smtp://127.0.0.1:{port}", "Föreningen <lista@example.se>", timeout=5)
    api("POST", "/medlemmar/members", {"phone": ANNA, "email": "anna@example.se", "name": "Anna"})
    api("POST", "/medlemmar/members", {"email": "bo@example.se"})
    api("POST", "/medlemmar/writers", {"address": WRITER})
    book.sms(WRITER, "Årsmöte på torsdag")
    book.send()
    assert book.inbox(ANNA)[-1] == "Årsmöte på torsdag"
    mails = {m["To"]: m for m in inbox.messages}
    assert sorted(mails) == ["anna@example.se", "bo@example.se"]
    bo = mails["bo@example.se"]
    assert bo["Subject"] == "Föreningen" and bo["From"] == "Föreningen <lista@example.se>"
    body = bo.get_content()  # type: ignore[attr-defined]
    assert body.startswith("Årsmöte på torsdag")
    link = bo["List-Unsubscribe"].strip("<>")
    assert link in body and link.startswith(f"{book.url}/addressbook/leave/")
    assert book.inbox(WRITER)[-1] == "Ditt utskick skickas till 3 mottagare i Föreningen."
    assert httpx.get(link).status_code == 200  # a page with a button; nothing changed yet
    assert "bo@example.se" in [r["id"] for r in api("GET", "/medlemmar/members").json()["items"]]
    assert httpx.post(link, data={"List-Unsubscribe": "One-Click"}).status_code == 200
    assert [r["id"] for r in api("GET", "/medlemmar/members", state="unsubscribed").json()["items"]] == [
        "bo@example.se"
    ]
    book.sms(WRITER, "Nästa utskick")
    book.send()
    assert [m["To"] for m in inbox.messages].count("bo@example.se") == 1


def test_functionaries_with_email_get_passed_on_texts_by_mail(book: Book, api: Api, smtp: tuple[Inbox, int]) -> None:
    inbox, port = smtp
    book.platform.mailer = SmtpGateway(f"smtp://127.0.0.1:{port}", "lista@example.se", timeout=5)
    api("POST", "/medlemmar/functionaries", {"address": "kansli@example.se"})
    book.sms(BERIT, "Hur går jag med?")
    book.send()
    [mail] = inbox.messages
    assert mail["To"] == "kansli@example.se"
    assert mail.get_content().strip() == "Meddelande ej skickat. Från +46701000002 till Föreningen: Hur går jag med?"


def test_a_passed_on_text_of_several_lines_reaches_the_functionaries_by_mail(
    book: Book, api: Api, smtp: tuple[Inbox, int]
) -> None:
    inbox, port = smtp
    book.platform.mailer = SmtpGateway(f"smtp://127.0.0.1:{port}", "lista@example.se", timeout=5)
    api("POST", "/medlemmar/functionaries", {"address": "kansli@example.se"})
    book.sms(BERIT, "Hej!\nHur går jag med?")
    book.send()
    [mail] = inbox.messages  # the subject is the notice on one line: a line break never reaches a header
    assert mail["Subject"] == "Meddelande ej skickat. Från +46701000002 till Föreningen: Hej! Hur går jag med"[:78]


# -- the CLI --------------------------------------------------------------------------------------------------


def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*KODEORD, "lists", *args], env=env, capture_output=True, text=True, timeout=60)


def test_the_cli_manages_a_list(tmp_path: Path, kodeord_redis_url: str, kodeord_redis: Any) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES, encoding="utf-8")
    env = {
        **os.environ,
        "KODEORD_REDIS_URL": kodeord_redis_url,
        "KODEORD_RULES": str(rules),
        "KODEORD_LOG_LEVEL": "WARNING",
        "KODEORD_DATA_DIR": str(tmp_path / "var"),
    }
    name = "forening/medlemmar"
    assert cli(env, "add", name, "--phone", "0701000001", "--note", "form").returncode == 0
    csv_file = tmp_path / "members.csv"
    csv_file.write_text("phone,email,name\n0701000002,,Berit\n,cecilia@example.se,Cecilia\n", encoding="utf-8")
    imported = cli(env, "import", name, str(csv_file))
    assert imported.returncode == 0 and "imported 2 member(s)" in imported.stdout, imported.stderr
    bad = tmp_path / "bad.csv"
    bad.write_text("phone,email\n0701000003,\n12,\n", encoding="utf-8")
    refused = cli(env, "import", name, str(bad))
    assert refused.returncode == 1 and f"{bad}:3: " in refused.stderr
    listed = cli(env, "members", name).stdout.splitlines()
    assert [line.split("\t")[0] for line in listed] == [ANNA, BERIT, "cecilia@example.se"]
    assert cli(env, "writers", "add", name, "0709000001").stdout.strip() == WRITER
    assert cli(env, "set", name, "approval=manual", 'join_words=["START","JA"]').returncode == 0
    shown = json.loads(cli(env, "show", name).stdout)
    assert shown["options"]["join_words"] == ["START", "JA"] and shown["counts"]["members"] == 3
    consent = json.loads(cli(env, "consent", name, ANNA).stdout)
    assert [(r["event"], r["channel"], r["text"], r["by"]) for r in consent] == [("added", "cli", "form", "cli")]
    assert cli(env, "approve", name, ANNA).returncode == 1  # not pending: a clear error
    assert "not waiting for approval" in cli(env, "approve", name, ANNA).stderr
    assert cli(env, "show", "nolist").returncode == 2
    kodeord_redis.zadd(f"kodeord:{{s:{name}}}:addressbook:unsubscribed", {"+46701000009": int(time.time() * 1000)})
    again = cli(env, "add", name, "--phone", "+46701000009")
    assert again.returncode == 1 and "only they can join again" in again.stderr


def test_the_cli_imports_what_swedish_excel_saves(tmp_path: Path, kodeord_redis_url: str) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES, encoding="utf-8")
    env = {
        **os.environ,
        "KODEORD_REDIS_URL": kodeord_redis_url,
        "KODEORD_RULES": str(rules),
        "KODEORD_LOG_LEVEL": "WARNING",
        "KODEORD_DATA_DIR": str(tmp_path / "var"),
    }
    name = "forening/medlemmar"
    sheet = tmp_path / "medlemmar.csv"  # Excel's "CSV (semikolonavgränsad)": Windows-1252 and semicolons
    sheet.write_bytes("Phone;Email;Name\r\n0701000002;;Åsa Öberg\r\n;cecilia@example.se;Cecilia\r\n".encode("cp1252"))
    imported = cli(env, "import", name, str(sheet))
    assert imported.returncode == 0 and "imported 2 member(s)" in imported.stdout, imported.stderr
    listed = cli(env, "members", name).stdout
    assert BERIT in listed and "cecilia@example.se" in listed and "Åsa Öberg" in listed


def test_a_long_import_shows_its_progress_on_a_terminal(tmp_path: Path, kodeord_redis_url: str) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES, encoding="utf-8")
    env = {
        **os.environ,
        "KODEORD_REDIS_URL": kodeord_redis_url,
        "KODEORD_RULES": str(rules),
        "KODEORD_LOG_LEVEL": "WARNING",
        "KODEORD_DATA_DIR": str(tmp_path / "var"),
    }
    sheet = tmp_path / "members.csv"
    sheet.write_text("phone\n" + "".join(f"070{n:07d}\n" for n in range(1, 1201)), encoding="utf-8")
    code, out, shown = on_terminal([*KODEORD, "lists", "import", "forening/medlemmar", str(sheet)], env)
    assert code == 0 and "imported 1200 member(s)" in out
    assert b"checking members.csv" in shown and b"importing into forening/medlemmar" in shown and b"1200/1200" in shown


def test_a_broadcast_followed_from_the_cli_shows_it_go_out(
    tmp_path: Path, kodeord_redis_url: str, make_platform: Any
) -> None:
    import threading

    from kodeord.outbound.gateway import RecordingGateway
    from kodeord.outbound.sender import Sender

    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES, encoding="utf-8")
    env = {
        **os.environ,
        "KODEORD_REDIS_URL": kodeord_redis_url,
        "KODEORD_RULES": str(rules),
        "KODEORD_LOG_LEVEL": "WARNING",
        "KODEORD_DATA_DIR": str(tmp_path / "var"),
    }
    name = "forening/medlemmar"
    members = tmp_path / "members.csv"
    members.write_text("phone\n" + "".join(f"07010{n:05d}\n" for n in range(30)), encoding="utf-8")
    assert cli(env, "import", name, str(members)).returncode == 0
    gateway = RecordingGateway()
    gateway.fail["+46701000007"] = ("failed", "unknown subscriber")
    stop = threading.Event()
    sending = threading.Thread(target=Sender(make_platform(rules), gateway=gateway).run, args=(stop, 0.01))
    sending.start()
    try:
        followed = cli(env, "broadcast", name, "Årsmöte på torsdag", "--follow", "--reports-timeout", "0.5")
    finally:
        stop.set()
        sending.join(10)
    assert followed.returncode == 0, followed.stderr
    started, final = (json.loads(part) for part in followed.stdout.replace("}\n{", "}\x00{").split("\x00"))
    assert final["id"] == started["id"]
    assert (final["state"], final["queued"], final["sent"], final["failed"]) == ("done", "30", "29", "1")
    assert followed.stderr.splitlines()[-1].endswith("30 queued, 29 sent, 1 failed, 0 delivered, 0 not delivered")
    platform = make_platform(rules)
    scope = f"s:{name}"
    for _ in range(2):  # a report counts once, however often it comes
        status.apply_report(platform.redis, platform.retention, f"{scope}|{gateway.ids[0]}", Status.DELIVERED, "ok", 1)
    progress = fanout.read_progress(platform.redis, Keys(scope), started["id"])
    assert progress is not None and progress["delivered"] == "1"

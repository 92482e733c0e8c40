"""Address books by SMS, end to end: START, STOPP, approval, writers, functionaries, broadcasts and consent,
through the Kannel webhook over real HTTP, a fake Kannel sendsms and a real Redis."""

from __future__ import annotations

from collections import Counter

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kodeord.outbound.gateway import Outgoing, Report, Sent
from kodeord.outbound.sender import Sender
from kodeord.plugins.addressbook.admin import ListAdmin, ListError
from kodeord.plugins.addressbook.store import ListKeys
from kodeord.watch.messagelog import MessageLog, Query

from ..addressbook_rig import CLOSED, OPEN, OTHER, Book

ANNA, BERIT, CARL, DAVID = "+46701000001", "+46701000002", "+46701000003", "+46701000004"
WRITER, OFFICIAL = "+46709000001", "+46709000002"


def members(b: Book, list_id: str = "medlemmar", state: str = "members", tenant: str = "forening") -> list[str]:
    return [row["id"] for row in b.admin(tenant).members(list_id, state, "", 1000)["items"]]


# -- joining (AB-1, AB-2, AB-3) ------------------------------------------------------------------------------


def test_start_joins_and_start_again_gets_the_signed_up_reply_again(book: Book) -> None:
    book.sms(ANNA, "START")
    book.sms(ANNA, "start ")  # any case, surrounding spaces
    book.send()
    assert members(book) == [ANNA]
    assert book.inbox(ANNA) == [
        "Välkommen till Föreningen! Du får nu våra utskick. Svara STOPP för att avsluta.",
        "Du är redan anmäld till Föreningen. Svara STOPP för att avsluta.",
    ]


def test_only_the_join_word_joins_other_text_goes_to_the_functionaries_marked_not_sent(book: Book) -> None:
    book.admin().set_role("medlemmar", "functionaries", OFFICIAL, True)
    book.sms(ANNA, "START please")  # START with more text does not join (AB-3)
    book.send()
    assert members(book) == []
    assert book.inbox(OFFICIAL) == ["Meddelande ej skickat. Från +46701000001 till Föreningen: START please"]
    assert book.inbox(ANNA) == [
        "Ditt meddelande har skickats till funktionärerna i Föreningen. Skicka START för att gå med."
    ]


def test_a_list_has_its_own_words_and_replies(book: Book) -> None:
    book.admin().set_role("kris", "functionaries", OFFICIAL, True)
    book.sms(ANNA, "ja", to=CLOSED)  # the list's own join word; manual approval: pending
    book.sms(BERIT, "START", to=CLOSED)
    book.send()
    assert members(book, "kris", "pending") == [ANNA, BERIT]
    book.admin().decide("kris", ANNA, approve=True)
    book.sms(ANNA, "Sluta", to=CLOSED)  # the list's own leave word
    book.send()
    assert members(book, "kris", "unsubscribed") == [ANNA]
    assert book.inbox(OFFICIAL) == []


@pytest.mark.parametrize(
    ("number", "language", "joined"),
    [
        ("+47" + "41234567", "no", "Velkommen til Klubben!"),
        ("+46" + "701234567", "en", "Welcome to Klubben!"),
    ],
)
def test_replies_come_in_the_list_language(book: Book, number: str, language: str, joined: str) -> None:
    admin = book.admin("klubben")
    admin.set_options("medlemmar", {"name": "Klubben", "language": language})
    book.sms(number, "START", to=OTHER)
    book.send()
    assert book.inbox(number)[0].startswith(joined)


# -- approval (AB-4) ------------------------------------------------------------------------------------------


def test_approval_holds_joiners_until_an_administrator_decides_and_tells_them(book: Book) -> None:
    book.sms(ANNA, "START", to=CLOSED)
    book.sms(BERIT, "START", to=CLOSED)
    book.sms(ANNA, "START", to=CLOSED)  # still waiting
    book.send()
    assert members(book, "kris") == []
    assert book.inbox(ANNA) == ["Tack! Din anmälan till Krisgruppen väntar på att en administratör godkänner den."] * 2
    admin = book.admin()
    admin.decide("kris", ANNA, approve=True)
    admin.decide("kris", BERIT, approve=False)
    book.send()
    assert members(book, "kris") == [ANNA]
    assert members(book, "kris", "pending") == []
    assert book.inbox(ANNA)[-1] == "Din anmälan till Krisgruppen är godkänd. Välkommen! Svara STOPP för att avsluta."
    assert book.inbox(BERIT)[-1] == "Din anmälan till Krisgruppen godkändes inte."
    with pytest.raises(ListError) as refused:
        admin.decide("kris", BERIT, approve=True)  # no longer pending
    assert refused.value.http_status == 404
    assert [r["event"] for r in admin.consent("kris", ANNA)] == ["request", "approve"]


class StaleAdmin(ListAdmin):
    """Looks for a person once before an approval moves them: the first look says "pending"."""

    looked = False

    def _where(self, lk: ListKeys, member: str) -> str | None:
        if not self.looked:
            self.looked = True
            return lk.pending
        return super()._where(lk, member)


def test_a_removal_finds_the_person_where_an_approval_moved_them_meanwhile(book: Book) -> None:
    book.sms(ANNA, "ja", to=CLOSED)
    book.send()
    admin = book.admin()
    stale = StaleAdmin(admin.platform, admin.tenant, by="test")
    admin.decide("kris", ANNA, approve=True)  # a member now, where the stale look did not see them
    stale.remove_member("kris", ANNA)
    assert members(book, "kris") == [] and members(book, "kris", "pending") == []
    assert [r["event"] for r in admin.consent("kris", ANNA)] == ["request", "approve", "remove"]
    with pytest.raises(ListError, match=r"\+46701000001 is not on kris") as refused:
        admin.remove_member("kris", ANNA)
    assert refused.value.http_status == 404


# -- STOPP (AB-5) ---------------------------------------------------------------------------------------------


def test_stopp_unsubscribes_and_no_administrator_can_add_the_number_back(book: Book) -> None:
    admin = book.admin()
    admin.add_member("medlemmar", ANNA, note="signed a paper form")
    book.sms(ANNA, "STOPP")
    book.send()
    assert members(book) == []
    assert members(book, state="unsubscribed") == [ANNA]
    left = book.inbox(ANNA)[-1]
    assert left.startswith("Du är avanmäld från Föreningen och får inga fler utskick.")
    for attempt in (
        lambda: admin.add_member("medlemmar", ANNA),
        lambda: admin.import_members("medlemmar", [(ANNA, "")], "bulk"),
    ):
        try:
            skipped = attempt()
        except ListError as exc:
            assert exc.http_status == 409 and "only they can join again" in str(exc)
        else:
            assert skipped == [ANNA]
    assert members(book) == []
    book.sms(ANNA, "START")  # only the person can come back
    assert members(book) == [ANNA]
    assert [r["event"] for r in admin.consent("medlemmar", ANNA)] == ["added", "leave", "join"]


def test_a_stranger_saying_stopp_is_recorded_so_nobody_adds_them_later(book: Book) -> None:
    book.sms(CARL, "stop")
    with pytest.raises(ListError):
        book.admin().add_member("medlemmar", CARL)
    assert members(book, state="unsubscribed") == [CARL]


def test_the_signed_link_in_the_leave_reply_rejoins_only_that_person(book: Book) -> None:
    book.sms(ANNA, "START")
    book.sms(ANNA, "STOPP")
    book.send()
    link = book.inbox(ANNA)[-1].rsplit(" ", 1)[-1]
    assert link.startswith(f"{book.url}/addressbook/join/")
    page = httpx.get(link)  # opening the link changes nothing (mail scanners open links)
    assert page.status_code == 200 and "Gå med" in page.text
    assert members(book) == []
    tampered = link[:-3] + ("AAA" if not link.endswith("AAA") else "BBB")
    assert httpx.post(tampered).status_code == 404
    assert httpx.post(link).status_code == 200
    assert members(book) == [ANNA]
    record = book.admin().consent("medlemmar", ANNA)[-1]
    assert (record["event"], record["channel"], record["by"]) == ("join", "link", ANNA)


# -- writers and broadcasts (AB-7) ----------------------------------------------------------------------------


def test_a_writer_broadcasts_to_every_member_and_gets_a_receipt(book: Book) -> None:
    for number in (ANNA, BERIT, CARL):
        book.sms(number, "START")
    book.admin().set_role("medlemmar", "writers", WRITER, True)
    book.sms(WRITER, "Årsmöte på torsdag kl 19!")
    book.send()
    for number in (ANNA, BERIT, CARL):
        assert book.inbox(number)[-1] == "Årsmöte på torsdag kl 19!"
    assert book.inbox(WRITER) == ["Ditt utskick skickas till 3 mottagare i Föreningen."]


def test_in_a_writers_only_list_a_member_cannot_broadcast(book: Book) -> None:
    book.sms(ANNA, "START")
    book.sms(BERIT, "START")
    book.admin().set_role("medlemmar", "functionaries", OFFICIAL, True)
    book.sms(ANNA, "Hej alla!")
    book.send()
    assert "Hej alla!" not in book.inbox(BERIT)
    assert book.inbox(OFFICIAL) == ["Meddelande ej skickat. Från +46701000001 till Föreningen: Hej alla!"]
    # A member is not told to send START to join a list they are on.
    assert book.inbox(ANNA)[-1] == "Ditt meddelande har skickats till funktionärerna i Föreningen."


def test_in_a_members_list_every_member_broadcasts_to_the_others(book: Book) -> None:
    admin = book.admin()
    for number in (ANNA, BERIT, CARL):
        book.sms(number, "START", to=CLOSED)
        admin.decide("kris", number, approve=True)
    book.sms(ANNA, "Strömavbrott i hela kvarteret", to=CLOSED)
    book.sms(DAVID, "Jag är inte med", to=CLOSED)  # not a member: not broadcast
    book.send()
    assert book.inbox(BERIT)[-1] == book.inbox(CARL)[-1] == "Strömavbrott i hela kvarteret"
    assert "Strömavbrott i hela kvarteret" not in book.inbox(ANNA)  # not to the writer
    assert book.inbox(ANNA)[-1] == "Ditt utskick skickas till 2 mottagare i Krisgruppen."
    assert all("Jag är inte med" not in book.inbox(n)[-1] for n in (ANNA, BERIT, CARL))


def test_a_broadcast_to_many_members_goes_out_in_pages_once_each(book: Book) -> None:
    admin = book.admin()
    numbers = [f"+4670200{i:04d}" for i in range(100)]  # pages of 7: the last one is short
    admin.import_members("medlemmar", [(n, "") for n in numbers], "test import")
    admin.set_role("medlemmar", "writers", WRITER, True)
    book.sms(WRITER, "Till alla")
    book.send()
    got = Counter(m["to"] for m in book.kannel.accepted if m["text"] == "Till alla")
    assert got == Counter(numbers)
    assert book.inbox(WRITER) == ["Ditt utskick skickas till 100 mottagare i Föreningen."]
    assert book.redis.xlen(admin.keys("medlemmar").scope.bulk) == 0


class StopMidway:
    """A gateway during whose first page of a broadcast two members' STOPP arrives over HTTP."""

    id, charging, rate = "mid", False, 0.0

    def __init__(self, book: Book, stoppers: list[str]) -> None:
        self.book, self.stoppers, self.pages = book, stoppers, 0
        self.sent: list[tuple[str, str]] = []

    def send(self, batch: list[Outgoing], report: Report) -> None:
        if any(item.message.text == "Kallelse" for item in batch):
            self.pages += 1
            if self.pages == 1:
                for number in self.stoppers:
                    self.book.sms(number, "STOPP")
        self.sent += [(item.message.to, item.message.text) for item in batch]
        report(*(Sent.ok(item.id) for item in batch))


def test_stopp_in_the_middle_of_a_broadcast_stops_the_rest_of_it(book: Book) -> None:
    admin = book.admin()
    numbers = [f"+4670300{i:04d}" for i in range(30)]
    admin.import_members("medlemmar", [(n, "") for n in numbers], "test import")
    admin.set_role("medlemmar", "writers", WRITER, True)
    # Pages of 7: while page 1 is being sent, page 2 is already queued (its member is stopped when sending),
    # and the last page is not yet read from the list (its member is no longer on it).
    queued, later = numbers[8], numbers[-1]
    book.sms(WRITER, "Kallelse")
    gateway = StopMidway(book, [queued, later])
    book.send(Sender(book.platform, gateway=gateway))
    assert sorted(to for to, text in gateway.sent if text == "Kallelse") == sorted(set(numbers) - {queued, later})
    for number in (queued, later):
        assert [text[:14] for to, text in gateway.sent if to == number] == ["Du är avanmäld"]
    log = MessageLog.every_scope(book.redis, book.platform.retention)
    vetoed, _ = log.search(Query(status="failed"))
    assert [(m["to"], m["status"]) for m in vetoed] == [(queued, "failed")]
    assert "vetoed by" in vetoed[0]["reason"] and "no longer a member" in vetoed[0]["reason"]


def test_a_message_queued_to_someone_who_left_is_vetoed_at_send_time(book: Book) -> None:
    book.sms(ANNA, "START")
    book.sms(BERIT, "START")
    book.admin().set_role("medlemmar", "writers", WRITER, True)
    book.sms(WRITER, "Sista utskicket")
    book.sms(BERIT, "STOPP")  # after the broadcast was committed, before anything was sent
    book.send()
    assert book.inbox(ANNA)[-1] == "Sista utskicket"
    assert "Sista utskicket" not in book.inbox(BERIT)


# -- tenants ---------------------------------------------------------------------------------------------------


def test_one_tenant_cannot_reach_another_tenants_list(book: Book) -> None:
    book.sms(ANNA, "START", to=OTHER)
    with pytest.raises(ListError) as missing:
        book.admin("forening").members("klubben/medlemmar")
    assert missing.value.http_status == 404
    assert members(book) == []
    assert members(book, tenant="klubben") == [ANNA]


# -- any text ---------------------------------------------------------------------------------------------------


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(min_size=1, max_size=300))
def test_any_text_from_a_stranger_is_forwarded_or_is_a_word_and_never_broadcast(book: Book, text: str) -> None:
    book.admin().set_role("medlemmar", "functionaries", OFFICIAL, True)
    book.redis.delete(book.admin().keys("medlemmar").members)
    before = len(book.kannel.accepted)
    answer = httpx.get(
        f"{book.url}/gateways/k1/kannel",
        params={"from": DAVID, "to": OPEN, "text": text, "id": f"h-{next(book.ids)}", "secret": "s3cret"},
    )
    if answer.status_code == 400:  # text Kannel could never send (e.g. NUL); refused with a reason
        assert answer.text
        return
    assert answer.status_code == 200
    book.send()
    new = book.kannel.accepted[before:]
    word = text.strip().upper()
    if word in ("START", "STOPP", "STOP"):
        assert [m["to"] for m in new] == [DAVID]
    else:
        assert sorted(m["to"] for m in new) == sorted([OFFICIAL, DAVID])

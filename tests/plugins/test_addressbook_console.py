"""The address book's toolbox in the console (AB-10) over real HTTP and a real Redis: who sees which list and
may do what, approving and rejecting, adding members by hand, importing CSV and XLSX files with a preview,
broadcasting and watching it go out, exporting consent records, and the members report."""

from __future__ import annotations

import csv
import io
import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import openpyxl
import pytest
import xlsxwriter
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kodeord.commit.effects import Effects
from kodeord.platform import Platform
from kodeord.plugins.addressbook import store
from kodeord.support.errors import RuleFileError
from kodeord.web import apikeys
from kodeord.web.console import accounts
from kodeord.web.console.accounts import Role

from ..addressbook_rig import CLOSED, RULES, Book
from ..web.console.conftest import PASSWORD, TOKEN, log_in

ANNA, BERIT, CARL, DAVID = "+46701000001", "+46701000002", "+46701000003", "+46701000004"
SECRETARY, WRITER, READER = "sekreterare@example.se", "skribent@example.se", "lasare@example.se"
CHAIR, TREASURER, RIVAL = "ordforande@example.se", "kassor@example.se", "klubben@example.se"
LISTS = "/console/lists"


class Person:
    """A browser of the console as httpx drives it: logged in, with the session's cookie and CSRF token."""

    def __init__(self, book: Book, email: str) -> None:
        self.client = httpx.Client(base_url=book.url, timeout=30)
        assert log_in(self.client, email).status_code == 303
        token = TOKEN.search(self.client.get("/console").text)
        assert token is not None
        self.csrf = token.group(1)

    def get(self, path: str, **params: str) -> httpx.Response:
        return self.client.get(path, params=params or None)

    def post(self, path: str, data: dict[str, str], csrf: str | None = None) -> httpx.Response:
        return self.client.post(path, data={"csrf": self.csrf if csrf is None else csrf, **data})

    def upload(self, path: str, name: str, content: bytes, csrf: str | None = None, **fields: str) -> httpx.Response:
        data = {"csrf": self.csrf if csrf is None else csrf, **fields}
        return self.client.post(path, data=data, files={"file": (name, content, "application/octet-stream")})


@pytest.fixture
def toolbox(book: Book) -> Book:
    """The rig's lists with console accounts: the secretary and a read-only account administer
    ``medlemmar``, a writer may send to it, the chair owns the tenant, the treasurer is named nowhere, and
    the other tenant has an owner of its own."""
    admin = book.admin()
    admin.set_options("medlemmar", {"admins": [SECRETARY, "Lasare@Example.se"]})
    admin.set_role("medlemmar", "writers", WRITER, True)
    for email, tenant, role in [
        (SECRETARY, "forening", Role.EDITOR),
        (WRITER, "forening", Role.EDITOR),
        (READER, "forening", Role.VIEWER),
        (CHAIR, "forening", Role.OWNER),
        (TREASURER, "forening", Role.EDITOR),
        (RIVAL, "klubben", Role.OWNER),
    ]:
        accounts.create(book.redis, tenant, email, PASSWORD, role)
    return book


@pytest.fixture
def people(toolbox: Book) -> Iterator[Callable[[str], Person]]:
    """``people(email)``: that account logged in to the toolbox's console; logged off after the test."""
    made: list[Person] = []

    def person(email: str) -> Person:
        made.append(Person(toolbox, email))
        return made[-1]

    yield person
    for someone in made:
        someone.client.close()


@pytest.fixture
def secretary(people: Callable[[str], Person]) -> Person:
    """The secretary, logged in (once for every example of a property test)."""
    return people(SECRETARY)


def names(page: httpx.Response, table: str) -> list[list[str]]:
    """The text of each row of table ``id=table`` on a page (tags removed, spaces squeezed)."""
    found = re.search(rf'<table id="{table}">(.*?)</table>', page.text, re.S)
    assert found is not None, page.text
    rows = re.findall(r"<tr>(.*?)</tr>", found.group(1), re.S)[1:]  # without the header
    cells = [re.findall(r"<td[^>]*>(.*?)</td>", row, re.S) for row in rows]
    return [[re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", c)).strip() for c in row] for row in cells]


def members(book: Book, list_id: str = "medlemmar", state: str = "members") -> list[str]:
    return [row["id"] for row in book.admin().members(list_id, state, "", 1000)["items"]]


# -- who sees what ---------------------------------------------------------------------------------------------


def test_a_list_shows_only_to_those_under_its_access_and_another_tenants_lists_are_not_found(
    toolbox: Book, people: Callable[[str], Person]
) -> None:
    toolbox.sms(ANNA, "START")
    secretary, writer, reader = people(SECRETARY), people(WRITER), people(READER)
    chair, treasurer, rival = people(CHAIR), people(TREASURER), people(RIVAL)
    assert 'href="/console/lists/"' in secretary.get("/console").text  # the menu: the tenant has lists
    assert [row[0] for row in names(secretary.get(LISTS + "/"), "lists")] == ["Föreningen"]
    assert names(secretary.get(LISTS + "/"), "lists")[0][2:] == ["1", "0", "0", "administratör"]
    assert [row[0] for row in names(chair.get(LISTS + "/"), "lists")] == ["Krisgruppen", "Föreningen"]
    assert names(writer.get(LISTS + "/"), "lists")[0][-1] == "skribent"
    assert names(reader.get(LISTS + "/"), "lists")[0][-1] == "administratör (läser bara)"
    assert "Du har inga adressböcker här." in treasurer.get(LISTS + "/").text
    # Named nowhere, another tenant's list, a list that does not exist: all the same 404.
    for person, path in [(treasurer, "/medlemmar"), (secretary, "/kris"), (rival, "/kris"), (secretary, "/nolist")]:
        for page in ("", "/add", "/broadcast", "/consent", "/broadcasts/console:1"):
            assert person.get(LISTS + path + page).status_code == 404, (path, page)
    assert treasurer.post(LISTS + "/medlemmar/members", {"phone": BERIT}).status_code == 404
    # The other tenant's list of the same name is its own: none of this tenant's members.
    theirs = rival.get(LISTS + "/medlemmar")
    assert theirs.status_code == 200 and ANNA not in theirs.text
    assert ANNA in names(secretary.get(LISTS + "/medlemmar"), "people")[0]
    assert ANNA in names(chair.get(LISTS + "/medlemmar"), "people")[0]
    # A writer sees the list and may send to it, but not its people, and changes nothing else.
    mine = writer.get(LISTS + "/medlemmar", tab="members")
    assert 'id="people"' not in mine.text and ANNA not in mine.text and 'id="new-broadcast"' in mine.text
    for path in ("/add", "/consent"):
        assert writer.get(LISTS + "/medlemmar" + path).status_code == 403
    assert writer.post(LISTS + "/medlemmar/members", {"phone": BERIT}).status_code == 403
    assert writer.get(LISTS + "/medlemmar/broadcast").status_code == 200
    # A read-only account sees the people and changes nothing, and sends nothing.
    seen = reader.get(LISTS + "/medlemmar")
    assert ANNA in seen.text and 'id="add"' not in seen.text and 'id="new-broadcast"' not in seen.text
    assert reader.post(LISTS + "/medlemmar/members", {"phone": BERIT}).status_code == 403
    assert reader.get(LISTS + "/medlemmar/broadcast").status_code == 403
    assert members(toolbox) == [ANNA]
    # Without a session: to the login page, and back after.
    answer = httpx.get(toolbox.url + LISTS + "/medlemmar", follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/login?next=/console/lists/medlemmar"


def test_the_rule_file_names_a_lists_administrators_and_a_bad_address_is_refused_at_load(
    tmp_path: Path, make_platform: Any
) -> None:
    good = RULES.replace("with: {name: Föreningen}", "with: {name: Föreningen, admins: [Kansli@Example.se]}")
    platform: Platform = make_platform(good)
    from kodeord.plugins.addressbook.admin import ListAdmin

    assert ListAdmin(platform, "forening", by="test").options("medlemmar").admins == ("kansli@example.se",)
    bad = tmp_path / "bad.yaml"
    bad.write_text(RULES.replace("with: {name: Föreningen}", 'with: {name: Föreningen, admins: ["kansli"]}'))
    with pytest.raises(RuleFileError) as info:
        make_platform(bad)
    assert str(info.value) == (
        f"{bad}:12:9: parameter 'admins': invalid email address 'kansli': An email address must have an "
        "@-sign. (at services[0].rules[0].with)"
    )


def test_every_form_needs_the_pages_token(toolbox: Book, people: Callable[[str], Person]) -> None:
    toolbox.sms(ANNA, "START", to=CLOSED)
    chair = people(CHAIR)
    preview = chair.upload(LISTS + "/kris/import", "m.csv", b"telefon\n0701000002\n")
    token = re.search(r'/import/([A-Za-z0-9_-]+)"', preview.text)
    assert preview.status_code == 200 and token is not None
    for path, data in [
        ("/kris/members", {"phone": BERIT}),
        ("/kris/pending", {"member": ANNA, "decision": "approve"}),
        (f"/kris/import/{token.group(1)}", {}),
        ("/kris/broadcast", {"text": "Hej", "action": "send", "once": "a" * 24}),
    ]:
        for wrong in ("", "x" * 64):
            assert chair.post(LISTS + path, data, csrf=wrong).status_code == 403, path
    assert chair.upload(LISTS + "/kris/import", "m.csv", b"telefon\n0701000002\n", csrf="").status_code == 403
    assert members(toolbox, "kris") == [] and members(toolbox, "kris", "pending") == [ANNA]
    toolbox.send()
    assert toolbox.admin().broadcasts("kris") == []


# -- the tabs, approving and rejecting ------------------------------------------------------------------------


def test_pending_joiners_are_approved_and_rejected_from_the_pending_tab(
    toolbox: Book, people: Callable[[str], Person]
) -> None:
    toolbox.sms(ANNA, "START", to=CLOSED)
    toolbox.sms(BERIT, "START", to=CLOSED)
    toolbox.sms(CARL, "START", to=CLOSED)
    toolbox.sms(CARL, "STOPP", to=CLOSED)
    toolbox.send()
    chair = people(CHAIR)
    pending = chair.get(LISTS + "/kris", tab="pending")
    assert [row[0] for row in names(pending, "people")] == [ANNA, BERIT]
    assert 'name="decision" value="approve"' in pending.text
    approved = chair.post(LISTS + "/kris/pending", {"member": ANNA, "decision": "approve"})
    assert approved.status_code == 303 and approved.headers["location"].endswith(
        "tab=pending&done=approved&who=%2B46701000001"
    )
    shown = chair.get(approved.headers["location"])
    assert "+46701000001 är godkänd som medlem." in shown.text
    assert chair.post(LISTS + "/kris/pending", {"member": BERIT, "decision": "reject"}).status_code == 303
    again = chair.client.get(
        chair.post(LISTS + "/kris/pending", {"member": ANNA, "decision": "approve"}).headers["location"]
    )
    assert "+46701000001 väntar inte längre på godkännande." in again.text
    gone = chair.client.get(
        chair.post(LISTS + "/kris/pending", {"member": CARL, "decision": "approve"}).headers["location"]
    )
    assert "+46701000003 har avanmält sig. Bara personen själv kan gå med igen." in gone.text
    assert members(toolbox, "kris") == [ANNA] and members(toolbox, "kris", "pending") == []
    assert [row[0] for row in names(chair.get(LISTS + "/kris", tab="members"), "people")] == [ANNA]
    assert [row[0] for row in names(chair.get(LISTS + "/kris", tab="unsubscribed"), "people")] == [CARL]
    assert 'value="approve"' not in chair.get(LISTS + "/kris", tab="unsubscribed").text  # read-only
    toolbox.send()
    assert toolbox.inbox(ANNA)[-1] == "Din anmälan till Krisgruppen är godkänd. Välkommen! Svara STOPP för att avsluta."
    assert toolbox.inbox(BERIT)[-1] == "Din anmälan till Krisgruppen godkändes inte."
    records = toolbox.admin().consent("kris", ANNA)
    assert (records[-1]["event"], records[-1]["channel"], records[-1]["by"]) == (
        "approve",
        "console",
        f"console:{CHAIR}",
    )


def test_big_lists_are_searched_and_paged(toolbox: Book, people: Callable[[str], Person]) -> None:
    numbers = [f"+4670400{i:04d}" for i in range(120)]
    toolbox.admin().import_members("medlemmar", [(n, "") for n in numbers], "import")
    toolbox.admin().add_member("medlemmar", email_raw="asa@example.se", name="Åsa Öberg")
    secretary = people(SECRETARY)
    first = secretary.get(LISTS + "/medlemmar")
    assert len(names(first, "people")) == 50
    seen = [row[0] or row[1] for row in names(first, "people")]
    page_link = re.search(r'<a id="next" href="([^"]+)"', first.text)
    while page_link is not None:
        following = secretary.get(page_link.group(1).replace("&amp;", "&"))
        seen += [row[0] or row[1] for row in names(following, "people")]
        page_link = re.search(r'<a id="next" href="([^"]+)"', following.text)
    assert seen == [*numbers, "asa@example.se"]
    found = names(secretary.get(LISTS + "/medlemmar", q="070 400 011"), "people")
    assert [row[0] for row in found] == [f"+46704000{i:03d}" for i in range(110, 120)]
    assert names(secretary.get(LISTS + "/medlemmar", q="åsa"), "people")[0][1:3] == ["asa@example.se", "Åsa Öberg"]
    assert names(secretary.get(LISTS + "/medlemmar", q="ASA@example"), "people")[0][1] == "asa@example.se"
    assert "Ingen träff." in secretary.get(LISTS + "/medlemmar", q="0709").text
    assert "Ingen träff." in secretary.get(LISTS + "/medlemmar", q="*", tab="pending").text
    assert "Sidan finns inte längre" in secretary.get(LISTS + "/medlemmar", tab="pending", after="x").text
    secretary.client.cookies.set("kodeord_lang", "en")  # and in English
    english = secretary.get(LISTS + "/medlemmar", q="åsa")
    assert '<html lang="en">' in english.text and "Members (121)" in english.text and "Next page" not in english.text
    assert "Search by number, email or name" in english.text and "Medlemmar" not in english.text


# -- adding by hand ------------------------------------------------------------------------------------------


def test_members_are_added_by_number_or_email_and_someone_who_unsubscribed_is_refused(
    toolbox: Book, people: Callable[[str], Person]
) -> None:
    toolbox.sms(CARL, "START")
    toolbox.sms(CARL, "STOPP")
    secretary = people(SECRETARY)
    added = secretary.post(
        LISTS + "/medlemmar/members", {"phone": "070-100 00 01", "name": "Anna", "note": "blankett 2026-11-01"}
    )
    assert added.status_code == 303
    assert "+46701000001 är tillagd som medlem." in secretary.client.get(added.headers["location"]).text
    assert secretary.post(LISTS + "/medlemmar/members", {"email": "Berit@Example.SE"}).status_code == 303
    cases = [
        ({"phone": "12"}, 400, "Numret är inte ett giltigt telefonnummer."),
        ({"phone": "08-123 456 78"}, 400, "Numret är inte ett mobilnummer."),
        ({"email": "berit@exam ple.se"}, 400, "E-postadressen är inte giltig."),
        ({"phone": "", "email": ""}, 400, "Ange ett mobilnummer eller en e-postadress."),
        ({"phone": ANNA}, 400, "+46701000001 är redan medlem."),
        ({"phone": "0701000003"}, 409, "+46701000003 har avanmält sig. Bara personen själv kan gå med igen."),
    ]
    for fields, status, message in cases:
        refused = secretary.post(LISTS + "/medlemmar/members", fields)
        assert refused.status_code == status and message in refused.text, fields
    assert members(toolbox) == [ANNA, "berit@example.se"] and members(toolbox, state="unsubscribed") == [CARL]
    record = toolbox.admin().consent("medlemmar", ANNA)[0]
    assert (record["event"], record["channel"], record["text"], record["by"]) == (
        "added",
        "console",
        "blankett 2026-11-01",
        f"console:{SECRETARY}",
    )
    rows = names(secretary.get(LISTS + "/medlemmar"), "people")
    assert rows[0][:3] == [ANNA, "", "Anna"] and rows[0][3].startswith(str(date.today().year))


# -- importing --------------------------------------------------------------------------------------------------

HEADER = ["Mobilnummer", "E-post", "Namn"]
SHEET = [
    ["070-100 00 02", "", "Berit Ågren"],  # line 2: added
    ["0701000003", "", "Carl"],  # line 3: unsubscribed
    ["12345", "", "Fel"],  # line 4: not a number
    ["08-123 456 78", "", "Fast telefon"],  # line 5: not a mobile
    ["", "", ""],  # line 6: blank, skipped
    ["", "", "Ingen"],  # line 7: neither number nor address
    ["+46701000002", "", "Berit igen"],  # line 8: repeats line 2
    ["0701000001", "", "Anna"],  # line 9: already a member
    ["", "david@example.se", "Dävid"],  # line 10: added
    ["", "inte-en-adress", ""],  # line 11: not an address
]
REFUSED = [
    ["3", "0701000003", "avanmäld: bara personen själv kan gå med igen"],
    ["4", "12345", "ogiltigt nummer"],
    ["5", "08-123 456 78", "inte ett mobilnummer"],
    ["7", "", "varken nummer eller e-postadress"],
    ["8", "+46701000002", "finns redan på rad 2"],
    ["9", "0701000001", "redan medlem"],
    ["11", "inte-en-adress", "ogiltig e-postadress"],
]


def csv_bytes(delimiter: str, encoding: str) -> bytes:
    out = io.StringIO()
    csv.writer(out, delimiter=delimiter, lineterminator="\r\n").writerows([HEADER, *SHEET])
    return out.getvalue().encode(encoding)


def xlsx_bytes(tmp_path: Path) -> bytes:
    path = tmp_path / "medlemmar.xlsx"
    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet("Medlemmar")
    for r, row in enumerate([HEADER, *SHEET]):
        for c, value in enumerate(row):
            if r and c == 0 and value == "0701000001":
                sheet.write_number(r, c, 701000001)  # typed as a number: Excel drops the leading zero
            elif value:
                sheet.write_string(r, c, value)
    book.close()
    return path.read_bytes()


@pytest.mark.parametrize(
    ("name", "make", "nine"),
    [
        # Swedish Excel's "CSV": Windows-1252 (Latin-1) and semicolons
        ("semikolon.csv", lambda tmp: csv_bytes(";", "cp1252"), "0701000001"),
        # "CSV UTF-8": commas, and a byte-order mark
        ("utf8.csv", lambda tmp: b"\xef\xbb\xbf" + csv_bytes(",", "utf-8"), "0701000001"),
        # a sheet where one number was typed as a number: its leading zero is gone, and it still reads
        ("medlemmar.xlsx", xlsx_bytes, "701000001"),
    ],
)
def test_an_import_shows_what_it_adds_and_every_row_it_refuses_and_why_before_it_adds_them(
    toolbox: Book, tmp_path: Path, name: str, make: Any, nine: str, people: Callable[[str], Person]
) -> None:
    toolbox.sms(ANNA, "START")
    toolbox.sms(CARL, "STOPP")
    secretary = people(SECRETARY)
    preview = secretary.upload(LISTS + "/medlemmar/import", name, make(tmp_path), note="medlemsregistret 2026")
    assert preview.status_code == 200, preview.text
    assert re.search(r'<dd id="added">2</dd>', preview.text) and re.search(
        r'<dd id="refused-count">7</dd>', preview.text
    )
    assert names(preview, "first") == [["2", BERIT, "", "Berit Ågren"], ["10", "", "david@example.se", "Dävid"]]
    assert names(preview, "refused") == [[line, nine if line == "9" else given, why] for line, given, why in REFUSED]
    assert members(toolbox) == [ANNA]  # nothing yet
    token = re.search(r'action="/console/lists/medlemmar/import/([A-Za-z0-9_-]+)"', preview.text)
    assert token is not None
    refused_csv = secretary.get(f"{LISTS}/medlemmar/import/{token.group(1)}/refused", format="csv")
    assert refused_csv.content.decode("utf-8-sig").splitlines()[:2] == [
        "Rad;Nummer eller e-post;Skäl",
        "3;0701000003;avanmäld: bara personen själv kan gå med igen",
    ]
    done = secretary.post(f"{LISTS}/medlemmar/import/{token.group(1)}", {})
    assert done.status_code == 303 and "done=imported&n=2&skipped=0" in done.headers["location"]
    assert "Importerade medlemmar: 2." in secretary.client.get(done.headers["location"]).text
    assert members(toolbox) == [ANNA, BERIT, "david@example.se"]
    assert toolbox.admin().members("medlemmar")["items"][1] == {"id": BERIT, "phone": BERIT, "name": "Berit Ågren"}
    record = toolbox.admin().consent("medlemmar", "david@example.se")[0]
    assert (record["event"], record["text"], record["by"]) == ("added", "medlemsregistret 2026", f"console:{SECRETARY}")
    again = secretary.post(f"{LISTS}/medlemmar/import/{token.group(1)}", {})  # confirmed twice: imported once
    assert again.status_code == 410 and "Förhandsgranskningen finns inte längre" in again.text
    assert len(toolbox.admin().consent("medlemmar", BERIT)) == 1


def test_an_import_is_kept_for_its_own_session_and_list_and_leaves_out_who_left_meanwhile(
    toolbox: Book, people: Callable[[str], Person]
) -> None:
    secretary, chair = people(SECRETARY), people(CHAIR)
    preview = secretary.upload(LISTS + "/medlemmar/import", "m.csv", b"phone;name\n0701000001;A\n0701000002;B\n")
    token = re.search(r'/import/([A-Za-z0-9_-]+)"', preview.text)
    assert token is not None
    # Another person of the tenant (even its owner) cannot confirm it, nor confirm it for another list.
    assert chair.post(f"{LISTS}/medlemmar/import/{token.group(1)}", {}).status_code == 410
    assert chair.get(f"{LISTS}/medlemmar/import/{token.group(1)}/refused").status_code == 410
    assert secretary.post(f"{LISTS}/kris/import/{token.group(1)}", {}).status_code == 404
    assert secretary.post(f"{LISTS}/medlemmar/import/not-a-token", {}).status_code == 410
    toolbox.sms(BERIT, "STOPP")  # between the preview and the confirmation
    done = secretary.post(f"{LISTS}/medlemmar/import/{token.group(1)}", {})
    assert "done=imported&n=1&skipped=1" in done.headers["location"]
    assert "avanmälde sig efter förhandsgranskningen: 1." in secretary.client.get(done.headers["location"]).text
    assert members(toolbox) == [ANNA] and members(toolbox, state="unsubscribed") == [BERIT]


def far_sheet() -> bytes:
    """A workbook with a number in row 2 and another in row 150,000: a sheet's empty rows count."""
    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"in_memory": True})
    sheet = book.add_worksheet()
    for row, value in [(0, "Telefon"), (1, "0701000001"), (149_999, "0701000002")]:
        sheet.write_string(row, 0, value)
    book.close()
    return out.getvalue()


@pytest.mark.parametrize(
    ("content", "status", "message"),
    [
        (far_sheet(), 400, "Filen har fler än 100000 rader."),
        (b"x" * (5 * 1024 * 1024 + 1), 413, "Filen är större än 5 MB."),  # read, then found too big
        (b"x" * (6 * 1024 * 1024), 413, "Filen är större än 5 MB."),  # refused by its length, not parsed
        (b"", 400, "Filen är tom."),
        (b"namn;stad\nAnna;Lund\n", 400, "Rad 1: ingen kolumn för telefon eller e-post."),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100, 400, "Filen är i det gamla Excel-formatet (.xls)."),
        (b"PK\x03\x04 not really a zip", 400, "Filen går inte att läsa som CSV eller Excel (xlsx)."),
    ],
)
def test_a_file_that_cannot_be_imported_is_refused_with_the_reason(
    toolbox: Book, content: bytes, status: int, message: str, people: Callable[[str], Person]
) -> None:
    secretary = people(SECRETARY)
    answer = secretary.upload(LISTS + "/medlemmar/import", "fil.csv", content)
    assert answer.status_code == status and message in answer.text
    assert 'id="import-error"' in answer.text and members(toolbox) == []


def test_the_cli_imports_the_same_sheets_as_the_console(tmp_path: Path, kodeord_redis_url: str, book: Book) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES, encoding="utf-8")
    env = {
        **os.environ,
        "KODEORD_REDIS_URL": kodeord_redis_url,
        "KODEORD_RULES": str(rules),
        "KODEORD_LOG_LEVEL": "WARNING",
        "KODEORD_DATA_DIR": str(tmp_path / "var"),
    }
    sheet = tmp_path / "Medlemmar.XLSX"  # the name's case does not matter: the file is read for what it is
    workbook = xlsxwriter.Workbook(str(sheet))
    page = workbook.add_worksheet()
    for row, values in enumerate([["Förnamn", "Efternamn", "Mobil"], ["Åsa", "Öberg", "070-100 00 02"]]):
        page.write_row(row, 0, values)
    page.write_number(2, 2, 701000003)  # typed as a number
    workbook.close()
    command = [sys.executable, "-c", "from kodeord.cli import main; main()", "lists", "import", "forening/medlemmar"]
    imported = subprocess.run([*command, str(sheet)], env=env, capture_output=True, text=True, timeout=60)
    assert imported.returncode == 0 and "imported 2 member(s)" in imported.stdout, imported.stderr
    assert members(book) == [BERIT, CARL]
    assert book.admin().members("medlemmar")["items"][0]["name"] == "Åsa Öberg"
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"namn;stad\nAnna;Lund\n")
    refused = subprocess.run([*command, str(bad)], env=env, capture_output=True, text=True, timeout=60)
    assert refused.returncode == 1
    assert refused.stderr == f"error: {bad}:1: the header row needs a phone or an email column\n"


def test_an_upload_without_a_file_says_so(toolbox: Book, people: Callable[[str], Person]) -> None:
    secretary = people(SECRETARY)
    answer = secretary.client.post(
        LISTS + "/medlemmar/import", data={"csrf": secretary.csrf}, files={"other": ("x", b"", "text/plain")}
    )
    assert answer.status_code == 400 and "Välj en fil att importera." in answer.text


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    content=st.one_of(
        st.binary(max_size=400),
        st.builds(lambda rest: b"PK\x03\x04" + rest, st.binary(max_size=200)),
        st.lists(st.lists(st.text(max_size=15), max_size=4), max_size=6).map(
            lambda rows: "\n".join(";".join(r) for r in [["telefon", "e-post", "namn"], *rows]).encode("utf-8")
        ),
    )
)
def test_any_uploaded_bytes_get_a_page_never_a_500(secretary: Person, content: bytes) -> None:
    answer = secretary.upload(LISTS + "/medlemmar/import", "fil.csv", content)
    assert answer.status_code in (200, 400), answer.text
    assert "<h1>" in answer.text and ("Förhandsgranska import" in answer.text or 'id="import-error"' in answer.text)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    fields=st.fixed_dictionaries(
        {
            name: st.text(max_size=40) | st.sampled_from(["0701000009", "+4670", "a@b.se", "*", "%", "070 1"])
            for name in ("phone", "email", "name", "q")
        }
    )
)
def test_any_form_field_or_search_gets_a_page_never_a_500(secretary: Person, fields: dict[str, str]) -> None:
    added = secretary.post(LISTS + "/medlemmar/members", {k: v for k, v in fields.items() if k != "q"})
    assert added.status_code in (303, 400, 409), added.text
    for tab in ("members", "pending", "unsubscribed"):
        found = secretary.get(LISTS + "/medlemmar", tab=tab, q=fields["q"], after=fields["name"])
        assert found.status_code == 200 and "<h1>Föreningen</h1>" in found.text


# -- broadcasts ---------------------------------------------------------------------------------------------


def test_a_writer_previews_sends_and_follows_a_broadcast_to_the_end(
    toolbox: Book, people: Callable[[str], Person]
) -> None:
    toolbox.sms(ANNA, "START")
    toolbox.sms(BERIT, "START")
    toolbox.admin().add_member("medlemmar", email_raw="carl@example.se")
    writer = people(WRITER)
    form = writer.get(LISTS + "/medlemmar/broadcast")
    assert 'id="subject"' in form.text  # a member gets email: the email's subject may be given
    assert "adressbokens 3 medlemmar" in form.text
    empty = writer.post(LISTS + "/medlemmar/broadcast", {"text": " ", "action": "preview"})
    assert empty.status_code == 400 and "Skriv ett meddelande." in empty.text
    long = writer.post(LISTS + "/medlemmar/broadcast", {"text": "Årsmöte." * 30, "action": "preview"})
    assert "240 tecken: 2 sms-delar per mottagare." in long.text
    emoji = writer.post(LISTS + "/medlemmar/broadcast", {"text": "Hej 🙂", "action": "preview"})
    assert "5 tecken: 1 sms per mottagare." in emoji.text and "utanför sms-alfabetet" in emoji.text
    longest = writer.post(LISTS + "/medlemmar/broadcast", {"text": "🙂" * 1600, "action": "preview"})  # ~20 KB
    assert longest.status_code == 200 and "49 sms-delar per mottagare." in longest.text
    too_long = writer.post(LISTS + "/medlemmar/broadcast", {"text": "a" * 1601, "action": "preview"})
    assert too_long.status_code == 400 and "högst 1600 tecken" in too_long.text
    text = "Årsmötet flyttas till torsdag.\r\nVälkomna!"
    preview = writer.post(LISTS + "/medlemmar/broadcast", {"text": text, "subject": "Årsmöte", "action": "preview"})
    assert "Årsmötet flyttas till torsdag.\nVälkomna!</pre>" in preview.text
    once = re.search(r'name="once" value="([^"]+)"', preview.text)
    assert once is not None
    fields = {"text": text, "subject": "Årsmöte", "action": "send", "once": once.group(1)}
    sent = writer.post(LISTS + "/medlemmar/broadcast", fields)
    assert sent.status_code == 303
    again = writer.post(LISTS + "/medlemmar/broadcast", fields)  # a double click: the same broadcast
    assert again.headers["location"] == sent.headers["location"]
    progress = writer.client.get(sent.headers["location"])
    assert progress.status_code == 200 and '<meta http-equiv="refresh" content="2">' in progress.text
    assert "Väntar på att börja" in progress.text and f"av {WRITER}" in progress.text
    assert toolbox.send() > 0
    finished = writer.client.get(sent.headers["location"])
    assert "Klart: varje meddelande är skickat eller misslyckat." in finished.text
    assert 'http-equiv="refresh"' not in finished.text
    counts = dict(re.findall(r'<dd id="(\w+)">(\d+)', finished.text))
    assert counts == {"queued": "3", "sent": "2", "delivered": "0", "failed": "1"}  # no mail relay here
    assert toolbox.inbox(ANNA)[-1] == toolbox.inbox(BERIT)[-1] == "Årsmötet flyttas till torsdag.\nVälkomna!"
    assert [b["by"] for b in toolbox.admin().broadcasts("medlemmar")] == [f"console:{WRITER}"]
    listed = writer.get(LISTS + "/medlemmar")
    assert sent.headers["location"].replace(":", "%3A").split("/")[-1] in listed.text
    writer.client.cookies.set("kodeord_lang", "en")
    english = writer.post(LISTS + "/medlemmar/broadcast", {"text": "Årsmöte." * 30, "action": "preview"})
    assert "240 characters: 2 SMS parts per recipient." in english.text and "Send to 3 members" in english.text
    one = writer.post(LISTS + "/medlemmar/broadcast", {"text": "Hej", "action": "preview"})
    assert "3 characters: 1 SMS per recipient." in one.text


def test_a_broadcast_page_of_another_list_or_unknown_id_is_not_found(
    toolbox: Book, people: Callable[[str], Person]
) -> None:
    started = toolbox.admin().broadcast("kris", "Övning i kväll")
    secretary, chair = people(SECRETARY), people(CHAIR)
    assert chair.get(f"{LISTS}/kris/broadcasts/{started['id']}").status_code == 200
    assert chair.get(f"{LISTS}/medlemmar/broadcasts/{started['id']}").status_code == 404
    assert secretary.get(f"{LISTS}/kris/broadcasts/{started['id']}").status_code == 404


# -- consent records and the report -----------------------------------------------------------------------------


def test_consent_records_are_exported_as_csv_and_xlsx(toolbox: Book, people: Callable[[str], Person]) -> None:
    toolbox.sms(ANNA, "START")
    toolbox.sms(ANNA, "STOPP")
    toolbox.sms(BERIT, "START")
    secretary = people(SECRETARY)
    secretary.post(LISTS + "/medlemmar/members", {"email": "carl@example.se", "note": "mässan"})
    exported = secretary.get(LISTS + "/medlemmar/consent", format="csv")
    assert exported.status_code == 200 and "samtycken-medlemmar.csv" in exported.headers["content-disposition"]
    lines = list(csv.reader(io.StringIO(exported.content.decode("utf-8-sig")), delimiter=";"))
    assert lines[0] == ["Medlem", "Läge", "Tid", "Händelse", "Kanal", "Text", "Av", "Referens"]
    assert [(r[0], r[1], r[3], r[4], r[5]) for r in lines[1:]] == [
        (BERIT, "members", "join", "sms", "START"),
        ("carl@example.se", "members", "added", "console", "mässan"),
        (ANNA, "unsubscribed", "join", "sms", "START"),
        (ANNA, "unsubscribed", "leave", "sms", "STOPP"),
    ]
    workbook = secretary.get(LISTS + "/medlemmar/consent", format="xlsx", member=ANNA)
    sheet = openpyxl.load_workbook(io.BytesIO(workbook.content), read_only=True).worksheets[0]
    rows = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert [r[3] for r in rows[1:]] == ["join", "leave"] and isinstance(rows[1][2], datetime)


def test_the_members_report_counts_joins_leaves_and_members_per_day(
    toolbox: Book, people: Callable[[str], Person]
) -> None:
    admin, lk = toolbox.admin(), store.ListKeys("forening/medlemmar")
    zone = ZoneInfo("Europe/Stockholm")
    today = datetime.now(zone).date()

    def change(op: str, member: str, day: date, hour: int = 12) -> None:
        at = datetime.combine(day, datetime.min.time(), zone).replace(hour=hour).astimezone(UTC)
        event = {"add": "added", "join": "join", "leave": "leave"}[op]
        record = store.consent_record(event, "test", "test", "test", at=at)
        admin.commit(lk, Effects(writes=store.changed(lk, op, member, "", record)), f"test:{op}:{member}")

    toolbox.redis.zadd(lk.members, {"+46701000009": 0})  # a member from before consent was kept: always counted
    change("add", DAVID, today - timedelta(days=10))
    change("add", ANNA, today - timedelta(days=3))
    change("add", BERIT, today - timedelta(days=3))
    change("leave", ANNA, today - timedelta(days=2))
    change("add", CARL, today - timedelta(days=2), hour=0)  # 00:xx in Stockholm is still the day before in UTC
    change("leave", DAVID, today - timedelta(days=1))
    change("join", DAVID, today)  # back again, by START
    key = apikeys.create(toolbox.redis, "forening", "report")
    since, until = (today - timedelta(days=3)).isoformat(), today.isoformat()
    answer = httpx.get(
        f"{toolbox.url}/api/reports/addressbook.members",
        params={"since": since, "until": until, "format": "json"},
        headers={"Authorization": f"Bearer {key}"},
    )
    assert answer.status_code == 200, answer.text
    rows = [(r["day"], r["list"], r["joined"], r["left"], r["members"]) for r in answer.json()]
    days = [(today - timedelta(days=n)).isoformat() for n in (3, 2, 1, 0)]
    assert rows == [
        (days[0], "kris", 0, 0, 0),
        (days[1], "kris", 0, 0, 0),
        (days[2], "kris", 0, 0, 0),
        (days[3], "kris", 0, 0, 0),
        (days[0], "medlemmar", 2, 0, 4),
        (days[1], "medlemmar", 1, 1, 4),
        (days[2], "medlemmar", 0, 1, 3),
        (days[3], "medlemmar", 1, 0, 4),
    ]
    assert store.counts(toolbox.redis, lk)["members"] == 4  # the last day ends where the list is now
    klubben = apikeys.create(toolbox.redis, "klubben", "report")
    theirs = httpx.get(
        f"{toolbox.url}/api/reports/addressbook.members",
        params={"since": until, "until": until, "format": "json"},
        headers={"Authorization": f"Bearer {klubben}"},
    )
    assert [(r["list"], r["members"]) for r in theirs.json()] == [("medlemmar", 0)]
    shown = people(SECRETARY).get("/console/reports/addressbook.members", since=since, until=until)
    assert shown.status_code == 200 and "Adressböckernas medlemmar" in shown.text and "Gick ur" in shown.text

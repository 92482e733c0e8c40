"""The address book in the console (AB-10): ``/console/lists``, the toolbox of a tenant's lists.

- ``/console/lists/``: the lists the account sees (:mod:`.access`), with their counts;
- ``/console/lists/<list>``: the list, with the tabs Members, Pending and Unsubscribed (``?tab=``), a search
  and pages; approve or reject a pending joiner; recent broadcasts;
- ``/console/lists/<list>/add``: add a member by number or email address, or import a file
  (:mod:`.console_import`);
- ``/console/lists/<list>/broadcast``: write, check and send a broadcast, and watch it go out
  (:mod:`.console_broadcast`);
- ``/console/lists/<list>/consent``: the consent records as CSV or XLSX.

Each change goes through :class:`~.admin.ListAdmin`, as the API's and the CLI's do: nobody who unsubscribed
can be put back from here either.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import phonenumbers
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from kodeord.web import tables
from kodeord.web.console.i18n import N_
from kodeord.web.console.pages import form, page, signed_in
from kodeord.web.reports import download
from kodeord.web.tables import Column, Kind, Table

from . import console_broadcast, console_import, store
from .access import visible
from .admin import ListAdmin, ListError, MemberError
from .console_import import add_form
from .console_list import ListView, admin_for, open_list, open_to, render

if TYPE_CHECKING:
    from kodeord.platform import PluginHost

TABS = ("members", "pending", "unsubscribed")
PAGE_SIZE = 50
NUMBERISH = re.compile(r"\+?[0-9][0-9 ()-]*")
MEMBERISH = re.compile(r"\+[0-9]{6,16}|[^\s<>\"]{1,254}@[^\s<>\"]{1,254}")  # what a notice may name

# What a change did, or why it was not done, shown on the list page after it (``?done=``).
NOTICES = {
    "added": N_("%(who)s är tillagd som medlem."),
    "approved": N_("%(who)s är godkänd som medlem."),
    "rejected": N_("%(who)s är nekad."),
    "not_pending": N_("%(who)s väntar inte längre på godkännande."),
    "unsubscribed": N_("%(who)s har avanmält sig. Bara personen själv kan gå med igen."),
    "imported": N_("Importerade medlemmar: %(n)s."),
}
# Why a member cannot be added (MemberError.problem), in the page's language.
PROBLEMS = {
    "phone": N_("Numret är inte ett giltigt telefonnummer."),
    "not_mobile": N_("Numret är inte ett mobilnummer."),
    "email": N_("E-postadressen är inte giltig."),
    "name": N_("Namnet får vara högst 100 tecken."),
    "missing": N_("Ange ett mobilnummer eller en e-postadress."),
}
CONSENT_COLUMNS = (
    Column("member", "Medlem", Kind.PHONE, 28),
    Column("state", "Läge", Kind.TEXT, 14),
    Column("at", "Tid", Kind.DATETIME),
    Column("event", "Händelse", Kind.TEXT, 10),
    Column("channel", "Kanal", Kind.TEXT, 10),
    Column("text", "Text", Kind.TEXT, 40),
    Column("by", "Av", Kind.TEXT, 28),
    Column("ref", "Referens", Kind.TEXT, 24),
)


def shown(host: PluginHost, tenant: str) -> bool:
    """Whether ``tenant`` has lists (the menu shows the section only then)."""
    return bool(ListAdmin(host, tenant, by="").ids())


def number_prefix(query: str, regions: Sequence[str]) -> str | None:
    """The start of an E.164 number that ``query`` is the start of (``070 12`` -> ``+467012``), or None when
    ``query`` is no number."""
    if not NUMBERISH.fullmatch(query):
        return None
    digits = re.sub(r"\D", "", query)
    if query.startswith("+"):
        return "+" + digits
    if digits.startswith("00"):
        return "+" + digits[2:]
    if digits.startswith("0"):
        return f"+{phonenumbers.country_code_for_region(regions[0] if regions else 'SE')}{digits[1:]}"
    return "+" + digits


# -- the lists ------------------------------------------------------------------------------------------------


async def index(request: Request) -> Response:
    """The lists the account sees, with their numbers and counts."""
    session = await signed_in(request)
    if isinstance(session, Response):
        return session
    admin = admin_for(request, session)

    def read() -> list[dict[str, Any]]:
        return [{"access": access, **admin.show(list_id)} for list_id, access in visible(admin, session.account)]

    lists = await run_in_threadpool(read)
    return page(request, "lists/lists.html", title=N_("Adressböcker"), session=session, lists=lists)


def _notice(params: Any) -> tuple[str, dict[str, str]] | None:
    """The notice a change's redirect asked for, if it is one of ours (nothing else from the address is shown)."""
    done = params.get("done", "")
    if done not in NOTICES:
        return None
    who = params.get("who", "")
    n = params.get("n", "")
    if done == "imported":
        return (NOTICES[done], {"n": n}) if n.isdigit() else None
    return (NOTICES[done], {"who": who}) if MEMBERISH.fullmatch(who) else None


async def show(request: Request) -> Response:
    """A list: its counts and, for its administrators, the tab asked for (``?tab=``), searched (``?q=``) and
    paged (``?after=``)."""
    view = await open_list(request)
    if isinstance(view, Response):
        return view
    params = request.query_params
    tab = params.get("tab", "members")
    tab = tab if tab in TABS else "members"
    query = params.get("q", "").strip()[:100]
    after = params.get("after", "")[:400]
    values = await run_in_threadpool(_read, view, tab, query, after)
    skipped = params.get("skipped", "")
    return render(
        request,
        view,
        "list.html",
        tab=tab,
        query=query,
        notice=_notice(params),
        skipped=int(skipped) if skipped.isdigit() else 0,
        paged=bool(after),
        **values,
    )


def _read(view: ListView, tab: str, query: str, after: str) -> dict[str, Any]:
    """What the list's page shows: counts, recent broadcasts and, to an administrator, a page of a tab."""
    admin, list_id = view.admin, view.list_id
    lk = admin.keys(list_id)
    summary = admin.show(list_id)
    values: dict[str, Any] = {
        "counts": summary["counts"],
        "number": summary["number"],
        "address": summary["address"],
        "broadcasts": admin.broadcasts(list_id)[:10],
        "rows": [],
        "following": None,
        "more": False,
        "error": "",
    }
    if not view.access.manages:
        return values
    try:
        if query:
            prefix = number_prefix(query, tuple(admin.platform.settings.regions))
            needle = prefix or query.lower()
            ids, following, more = store.search(admin.redis, lk, tab, needle, prefix is not None, after, PAGE_SIZE)
            details = store.contacts(admin.redis, lk, ids)
            items = [{"id": i, **_address(i), **d} for i, d in zip(ids, details, strict=True)]
        else:
            found = admin.members(list_id, tab, after, PAGE_SIZE)
            items, following, more = found["items"], found["next"], False
    except ListError:
        values["error"] = N_("Sidan finns inte längre. Börja om från första sidan.")
        return values
    ids = [item["id"] for item in items]
    if tab == "members":
        times = [view.local(at) for at in store.joined(admin.redis, lk, ids)]
    else:
        times = [view.local(ms) for ms in store.asked(admin.redis, lk, tab, ids)]
    values["rows"] = [{**item, "time": time} for item, time in zip(items, times, strict=True)]
    if following:
        values["following"] = f"{view.url}?" + urlencode({"tab": tab, "q": query, "after": following})
    values["more"] = more
    return values


def _address(member: str) -> dict[str, str]:
    """A member's id as the number or the email address it is."""
    return {"phone": member} if member.startswith("+") else {"email": member}


def _back(view: ListView, tab: str, **done: str | int) -> RedirectResponse:
    """303 to the list's tab, with a notice of what was done."""
    return RedirectResponse(f"{view.url}?" + urlencode({"tab": tab, **done}), status_code=303)


async def decide(request: Request) -> Response:
    """POST: approve or reject a pending joiner (``member``, ``decision``); the person is told by SMS."""
    fields = await form(request)
    view = await open_to(request, lambda access: access.changes_members, fields)
    if isinstance(view, Response):
        return view
    member, approve = fields.get("member", "")[:320], fields.get("decision") == "approve"
    try:
        await run_in_threadpool(view.admin.decide, view.list_id, member, approve)
    except ListError as exc:
        reason = "unsubscribed" if exc.http_status == 409 else "not_pending"
        return _back(view, "pending", done=reason, who=member)
    return _back(view, "pending", done="approved" if approve else "rejected", who=member)


# -- adding members -------------------------------------------------------------------------------------------


async def add_page(request: Request) -> Response:
    """The forms to add one member and to import a file."""
    view = await open_to(request, lambda access: access.changes_members)
    if isinstance(view, Response):
        return view
    return add_form(request, view)


async def add(request: Request) -> Response:
    """POST: add a member by number and/or email address (with a name and a note for the consent record)."""
    fields = await form(request)
    view = await open_to(request, lambda access: access.changes_members, fields)
    if isinstance(view, Response):
        return view
    given = {name: fields.get(name, "").strip()[:320] for name in ("phone", "email", "name", "note")}

    def change() -> tuple[str, dict[str, str]] | str:
        admin, lk = view.admin, view.admin.keys(view.list_id)
        try:
            member, _ = admin.member_row(given["phone"], given["email"], given["name"])
        except MemberError as exc:
            return PROBLEMS.get(exc.problem, PROBLEMS["missing"]), {}
        if admin.redis.zscore(lk.members, member) is not None:
            return N_("%(who)s är redan medlem."), {"who": member}
        try:
            added = admin.add_member(view.list_id, given["phone"], given["email"], given["name"], given["note"])
            return str(added["id"])
        except ListError as exc:
            if exc.http_status == 409:  # they unsubscribed: only they can join again
                return NOTICES["unsubscribed"], {"who": member}
            raise

    result = await run_in_threadpool(change)
    if isinstance(result, str):
        return _back(view, "members", done="added", who=result)
    status = 409 if result[0] == NOTICES["unsubscribed"] else 400
    return add_form(request, view, status, given=given, error=result)


# -- consent records ------------------------------------------------------------------------------------------


def consent_rows(admin: ListAdmin, list_id: str, member: str = "") -> Iterator[Sequence[Any]]:
    """Every consent record of the list's members, pending joiners and unsubscribed people (or of ``member``),
    a row each, oldest first per person; read a thousand people at a time."""
    lk = admin.keys(list_id)
    for state in store.STATES:
        after = ""
        while True:
            if member:
                ids = [member] if admin.redis.zscore(lk.of_state(state), member) is not None else []
                following = None
            else:
                ids = store.page(admin.redis, lk, state, after, 1000)
                following = store.next_cursor(state, after, ids) if len(ids) == 1000 else None
            pipe = admin.redis.pipeline(transaction=False)
            for person in ids:
                pipe.lrange(lk.consent(person), 0, -1)
            for person, records in zip(ids, pipe.execute() if ids else [], strict=True):
                for raw in records:
                    record = json.loads(raw)
                    at = datetime.fromisoformat(record["at"]) if record.get("at") else None
                    yield (person, state, at, *(record.get(k, "") for k in store.CONSENT_FIELDS[1:]))
            if not following:
                break
            after = following


async def consent(request: Request) -> Response:
    """The consent records as a file (``?format=csv`` or ``xlsx``; ``?member=`` for one person's)."""
    view = await open_to(request, lambda access: access.manages)
    if isinstance(view, Response):
        return view
    fmt = request.query_params.get("format", "csv")
    fmt = fmt if fmt in tables.FORMATS else "csv"
    member = request.query_params.get("member", "")[:320]
    table = Table(CONSENT_COLUMNS, consent_rows(view.admin, view.list_id, member), view.zone, "Samtycken")
    suffix = re.sub(r"[^0-9A-Za-z@._-]", "", member)
    return download(table, fmt, f"samtycken-{view.list_id}" + (f"-{suffix}" if suffix else ""))


def routes() -> list[Route]:
    """The section's routes, under /console/lists."""
    one = "/{list_id}"
    return [
        Route("/", index),
        Route(one, show),
        Route(one + "/pending", decide, methods=["POST"]),
        Route(one + "/add", add_page),
        Route(one + "/members", add, methods=["POST"]),
        Route(one + "/consent", consent),
        *console_import.routes(one),
        *console_broadcast.routes(one),
    ]

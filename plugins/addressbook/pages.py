"""The pages behind the signed links in a list's messages: join again, and leave.

A link names one person on one list and is signed with the platform's key, so only the person who got it
can use it. Opening a link only shows a page; the change happens when the person presses the button (a
POST), so mail scanners that follow links change nothing. The leave link also answers one-click
unsubscribe (RFC 8058: ``List-Unsubscribe-Post``) from mail programs.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from kodeord.commit.effects import Effects
from kodeord.web.apiauth import host_of

from . import store
from .admin import ListAdmin, ListError
from .broadcast import LEAVE_PATH
from .inbox import JOIN_PATH

PAGE = """<!doctype html>
<html lang="sv"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>{title}</title></head>
<body style="font-family: sans-serif; max-width: 32em; margin: 3em auto; padding: 0 1em">
<h1>{title}</h1><p>{text}</p>{form}</body></html>"""
FORM = '<form method="post"><button type="submit">{label}</button></form>'


def _page(title: str, text: str, label: str = "", status: int = 200) -> HTMLResponse:
    form = FORM.format(label=html.escape(label)) if label else ""
    return HTMLResponse(PAGE.format(title=html.escape(title), text=html.escape(text), form=form), status_code=status)


def _target(request: Request, purpose: str) -> tuple[ListAdmin, str, str] | None:
    """(the list's admin view, list id, member) of a genuine link, or None."""
    payload: Any = host_of(request).links.load(purpose, request.path_params["token"])
    if not (isinstance(payload, list) and len(payload) == 2 and all(isinstance(p, str) for p in payload)):
        return None
    list_key, member = payload
    tenant, _, list_id = list_key.partition("/")
    admin = ListAdmin(host_of(request), tenant, by=member, channel="link")
    try:
        admin.keys(list_id)
    except ListError:
        return None
    return admin, list_id, member


def _rejoin(admin: ListAdmin, list_id: str, member: str) -> str:
    """Join again as the person themselves; returns members or pending."""
    lk = admin.keys(list_id)
    options = admin.options(list_id)
    op = "request" if options.approval == "manual" else "join"
    record = store.consent_record(
        op, "link", "joined again through the signed link", member, marketing=options.marketing
    )
    admin.commit(lk, Effects(writes=store.changed(lk, op, member, "", record)), f"link:{op}:{member}")
    return "pending" if op == "request" else "members"


def _leave(admin: ListAdmin, list_id: str, member: str) -> None:
    """Leave as the person themselves; returns once nothing vetted before can still reach them."""
    lk = admin.keys(list_id)
    record = store.consent_record("leave", "link", "left through the signed link", member)
    settle = store.addresses(admin.redis, lk, member)
    admin.commit(
        lk, Effects(writes=store.changed(lk, "leave", member, "", record), settle=settle), f"link:leave:{member}"
    )


async def _link(
    request: Request,
    purpose: str,
    ask: tuple[str, str, str],
    change: Callable[[ListAdmin, str, str], str | None],
    done: dict[str | None, tuple[str, str]],
) -> Response:
    """A link's page: GET asks (title, question, button), POST makes the change and shows what it did."""
    found = _target(request, purpose)
    if found is None:
        return _page("Länken fungerar inte", "Länken är felaktig eller listan finns inte längre.", status=404)
    admin, list_id, member = found
    names = {"name": admin.options(list_id).name, "member": member}
    if request.method == "GET":
        title, question, button = ask
        return _page(title.format(**names), question.format(**names), button)
    title, text = done[await run_in_threadpool(change, admin, list_id, member)]
    return _page(title.format(**names), text.format(**names))


async def join(request: Request) -> Response:
    return await _link(
        request,
        "addressbook-join",
        ("Gå med i {name} igen", "Vill du att {member} ska få utskick från {name} igen?", "Gå med"),
        _rejoin,
        {
            "pending": ("Tack!", "Din anmälan till {name} väntar på att en administratör godkänner den."),
            "members": ("Välkommen tillbaka!", "{member} får nu utskick från {name} igen."),
        },
    )


async def leave(request: Request) -> Response:
    return await _link(
        request,
        "addressbook-leave",
        ("Lämna {name}", "Vill du att {member} inte längre ska få utskick från {name}?", "Avanmäl"),
        _leave,
        {None: ("Du är avanmäld", "{member} får inga fler utskick från {name}.")},
    )


def routes() -> list[Route]:
    """The two link pages."""
    return [
        Route(JOIN_PATH + "/{token}", join, methods=["GET", "POST"]),
        Route(LEAVE_PATH + "/{token}", leave, methods=["GET", "POST"]),
    ]

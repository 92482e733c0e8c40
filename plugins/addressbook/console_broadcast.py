"""Broadcasts from the console (AB-10): write the message, see it as members will get it and how many SMS
parts it takes, send it, and watch it go out.

Sending goes through :meth:`ListAdmin.broadcast`, the API's and the CLI's way: a core fan-out that pages
through the members, checks each one again just before their message is handed over, and counts what was
sent, delivered and failed. The preview carries a one-time token; the broadcast it starts is kept under that
token, so a form sent twice (a double click, a reload) starts one broadcast and shows it.

The progress page reloads itself every two seconds (``<meta http-equiv="refresh">``, no JavaScript) until
every message is sent or has failed.
"""

from __future__ import annotations

import secrets
import time
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from kodeord.inbound.encoding import Encoding, analyse
from kodeord.outbound import fanout
from kodeord.web.console.i18n import N_

from . import store
from .admin import MAX_SUBJECT, MAX_TEXT, ListError
from .console_list import ListView, not_found, open_list, open_to, render

SENT_TTL = 24 * 3600  # seconds a form's token remembers the broadcast it started
REFRESH_S = 2
MAX_FIELD = 64 * 1024  # bytes of one field of the form, URL-encoded
COUNTS = ("queued", "sent", "delivered", "failed", "undelivered")


async def _fields(request: Request) -> dict[str, str]:
    """The broadcast form's fields. Not the console's small-form reader: 1600 characters of emoji or Chinese
    are about 20 KB once URL-encoded, more than it takes. Each field at most ``MAX_FIELD`` bytes, ten fields."""
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/x-www-form-urlencoded":
        return {}
    try:
        found = await request.form(max_fields=10, max_part_size=MAX_FIELD)
    except (HTTPException, MultiPartException):
        return {}
    return {name: value for name, value in found.items() if isinstance(value, str)}


def _compose(request: Request, view: ListView, status: int = 200, **values: Any) -> Response:
    """The broadcast page: the form, or (with ``preview``) the message as it goes out and the send button."""
    values.setdefault("text", "")
    values.setdefault("subject", "")
    values.setdefault("error", None)
    values.setdefault("preview", None)
    return render(request, view, "broadcast.html", status, title=N_("Nytt utskick"), max_text=MAX_TEXT, **values)


def _situation(view: ListView) -> dict[str, Any]:
    """What the form needs to know of the list: its members, and whether any get email (a subject, then)."""
    lk = view.admin.keys(view.list_id)
    counts = store.counts(view.admin.redis, lk)
    return {"members": counts["members"], "email": store.has_email(view.admin.redis, lk)}


async def compose(request: Request) -> Response:
    """GET: the form to write a broadcast."""
    view = await open_to(request, lambda access: access.sends)
    if isinstance(view, Response):
        return view
    return _compose(request, view, situation=await run_in_threadpool(_situation, view))


async def submit(request: Request) -> Response:
    """POST: ``action=preview`` shows the message as it goes out; ``edit`` goes back to the form with it;
    ``send`` (with the preview's one-time token) starts it and goes to its progress page."""
    fields = await _fields(request)
    view = await open_to(request, lambda access: access.sends, fields)
    if isinstance(view, Response):
        return view
    text = fields.get("text", "").replace("\r\n", "\n")  # a browser sends a textarea's lines with CR LF
    subject = fields.get("subject", "").strip()
    marketing = fields.get("marketing") == "1" and view.options.marketing
    situation = await run_in_threadpool(_situation, view)
    values: dict[str, Any] = {"text": text, "subject": subject, "situation": situation, "marketing": marketing}
    if not text.strip():
        return _compose(request, view, 400, error=(N_("Skriv ett meddelande."), {}), **values)
    if len(text) > MAX_TEXT or len(subject) > MAX_SUBJECT:
        limits = {"text": MAX_TEXT, "subject": MAX_SUBJECT}
        error = N_("Meddelandet får vara högst %(text)s tecken och ämnet högst %(subject)s.")
        return _compose(request, view, 400, error=(error, limits), **values)
    action = fields.get("action", "")
    if action == "send":
        once = fields.get("once", "")
        if not store.TOKEN.fullmatch(once):
            return _compose(request, view, 400, error=(N_("Förhandsgranska utskicket först."), {}), **values)
        try:
            started = await run_in_threadpool(_start, view, text, subject, once, marketing)
        except ListError as exc:
            if exc.http_status == 409:
                error = (N_("Adressboken har inget nummer att skicka från ännu."), {})
            else:
                error = (N_("Utskicket gick inte att starta: %(why)s"), {"why": str(exc)})
            return _compose(request, view, exc.http_status, error=error, **values)
        return RedirectResponse(f"{view.url}/broadcasts/{started}", status_code=303)
    if action == "preview":
        body = await run_in_threadpool(view.admin.body, view.list_id, text)
        info = analyse(body)
        preview = {
            "body": body,
            "segments": info.segments,
            "characters": len(body),
            "unicode": info.encoding is Encoding.UCS2,
            "once": secrets.token_urlsafe(18),
        }
        return _compose(request, view, preview=preview, **values)
    return _compose(request, view, **values)


def _start(view: ListView, text: str, subject: str, once: str, marketing: bool = False) -> str:
    """Start the broadcast (once per ``once``), as marketing if ``marketing``; its id."""
    redis, lk = view.admin.redis, view.admin.keys(view.list_id)
    planned = f"console:{time.time_ns()}"
    if not redis.set(lk.sent(once), planned, nx=True, ex=SENT_TTL):
        earlier = redis.get(lk.sent(once))
        if isinstance(earlier, bytes):
            return earlier.decode()
    try:
        view.admin.broadcast(view.list_id, text, subject, fanout_id=planned, marketing=marketing)
    except ListError:
        redis.delete(lk.sent(once))
        raise
    return planned


async def progress(request: Request) -> Response:
    """A broadcast's progress: members queued, messages sent, delivered and failed; reloading until done."""
    view = await open_list(request)
    if isinstance(view, Response):
        return view
    broadcast_id = request.path_params["broadcast_id"][:100]

    def read() -> tuple[dict[str, str] | None, dict[str, str] | None]:
        found = fanout.read_progress(view.admin.redis, view.admin.keys(view.list_id).scope, broadcast_id)
        logged = next((b for b in view.admin.broadcasts(view.list_id) if b["id"] == broadcast_id), None)
        return found, logged

    found, logged = await run_in_threadpool(read)
    if found is None and logged is None:
        return not_found(request, view.session)
    counts = {name: int((found or {}).get(name, 0)) for name in COUNTS}
    paged = found is not None and found.get("state") == "done"
    done = paged and counts["sent"] + counts["failed"] >= counts["queued"]
    state = "done" if done else "running" if found is not None else "waiting"
    return render(
        request,
        view,
        "progress.html",
        title=N_("Utskick"),
        broadcast_id=broadcast_id,
        logged=logged,
        counts=counts,
        state=state,
        all_queued=paged,
        refresh=None if done else REFRESH_S,
    )


def routes(one: str) -> list[Route]:
    """The broadcast routes, below a list's path ``one``."""
    return [
        Route(one + "/broadcast", compose, methods=["GET"]),
        Route(one + "/broadcast", submit, methods=["POST"]),
        Route(one + "/broadcasts/{broadcast_id}", progress),
    ]

"""The console's "rules at a glance": the tenant's numbers, services, keywords and rules, read-only, and a
"try a message" box that runs the rules as ``kodeord rules try`` does (a dry run: nothing is stored or sent).
"""

from __future__ import annotations

import uuid
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from kodeord.config.model import Condition
from kodeord.inbound.messages import Inbound
from kodeord.support.errors import KodeordError
from kodeord.web.console.pages import csrf_refused, form, page, session_of, to_login

DAYS = ("mån", "tis", "ons", "tor", "fre", "lör", "sön")


def when(condition: Condition) -> list[str]:
    """A rule's condition as short Swedish phrases ("alltid" when it has none)."""
    parts = []
    if condition.reserved:
        parts.append("reserverat ord: " + ", ".join(sorted(condition.reserved)))
    if condition.keywords:
        parts.append("nyckelord: " + ", ".join(sorted(condition.keywords)))
    if condition.args is not None:
        parts.append(f"text efter nyckelordet: {condition.args.pattern}")
    if condition.roles:
        parts.append("avsändare: " + ", ".join(sorted(condition.roles)))
    if condition.channels:
        parts.append("kanal: " + ", ".join(sorted(c.value for c in condition.channels)))
    if condition.start is not None or condition.end is not None:
        start = condition.start.isoformat(" ", "minutes") if condition.start else "…"
        end = condition.end.isoformat(" ", "minutes") if condition.end else "…"
        parts.append(f"tid: {start} – {end}")
    if condition.hours is not None:
        begin, until = condition.hours
        parts.append(f"klockan {begin // 60:02d}:{begin % 60:02d}–{until // 60:02d}:{until % 60:02d}")
    if condition.days:
        parts.append("dagar: " + ", ".join(DAYS[d] for d in sorted(condition.days)))
    return parts or ["alltid"]


async def rules(request: Request) -> Response:
    """GET: the tenant's rules and the try box. POST: try a message, shown under the box."""
    session = await session_of(request)
    if session is None:
        return to_login(request)
    services = request.app.state.platform.catalog.config.of_tenant(session.account.tenant)
    numbers = sorted({s.number for s in services})
    values: dict[str, Any] = {"to": numbers[0] if numbers else "", "sender": "+46701234567", "text": ""}
    result: dict[str, Any] | None = None
    status = 200
    if request.method == "POST":
        fields = await form(request)
        if (refused := csrf_refused(request, session, fields)) is not None:
            return refused
        values = {"to": fields.get("to", ""), "sender": fields.get("sender", ""), "text": fields.get("text", "")[:1600]}
        if values["to"] not in numbers:  # another tenant's number is as unknown here as a made-up one
            return page(request, "notfound.html", 404, title="Hittades inte", session=session)
        result, status = await run_in_threadpool(_try, request, session.account.tenant, values)
    return page(
        request,
        "rules.html",
        status,
        title="Regler",
        session=session,
        services=services,
        numbers=numbers,
        when=when,
        values=values,
        result=result,
    )


def _try(request: Request, tenant: str, values: dict[str, Any]) -> tuple[dict[str, Any], int]:
    """A dry run of ``values`` (to, sender, text), routed only to ``tenant``'s own services."""
    platform = request.app.state.platform
    try:
        inbound = Inbound.create(
            sender=values["sender"],
            recipient=values["to"],
            text=values["text"],
            gateway="console",
            message_id=uuid.uuid4().hex,
            regions=platform.settings.regions,
        )
    except KodeordError as exc:
        return {"error": str(exc)}, 400
    route = platform.catalog.index.route(inbound.recipient, inbound.text)
    if route.service is not None and route.service.tenant != tenant:
        # A shared short code: the keyword is another customer's, whose service is none of this one's business.
        return {"error": "Meddelandet går till en tjänst som inte är kundens."}, 200
    try:
        outcome = platform.handle(inbound, dry_run=True, route=route)
    except KodeordError as exc:
        return {"error": str(exc)}, 200
    return {"outcome": outcome}, 200

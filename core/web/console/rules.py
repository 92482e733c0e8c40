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
from kodeord.web.console.i18n import N_
from kodeord.web.console.i18n import gettext as _
from kodeord.web.console.messages import status_name
from kodeord.web.console.pages import csrf_refused, form, page, session_of, to_login

DAYS = (N_("mån"), N_("tis"), N_("ons"), N_("tor"), N_("fre"), N_("lör"), N_("sön"))


def when(condition: Condition) -> list[str]:
    """A rule's condition as short phrases in the page's language ("alltid" when it has none); a template calls
    it while it renders, so :func:`~kodeord.web.console.i18n.gettext` knows the language."""
    parts = []
    if condition.reserved:
        parts.append(_("reserverat ord: %(words)s") % {"words": ", ".join(sorted(condition.reserved))})
    if condition.keywords:
        parts.append(_("nyckelord: %(words)s") % {"words": ", ".join(sorted(condition.keywords))})
    if condition.args is not None:
        parts.append(_("text efter nyckelordet: %(pattern)s") % {"pattern": condition.args.pattern})
    if condition.roles:
        parts.append(_("avsändare: %(roles)s") % {"roles": ", ".join(sorted(condition.roles))})
    if condition.channels:
        parts.append(_("kanal: %(channels)s") % {"channels": ", ".join(sorted(c.value for c in condition.channels))})
    if condition.start is not None or condition.end is not None:
        start = condition.start.isoformat(" ", "minutes") if condition.start else "…"
        end = condition.end.isoformat(" ", "minutes") if condition.end else "…"
        parts.append(_("tid: %(start)s – %(end)s") % {"start": start, "end": end})
    if condition.hours is not None:
        begin, until = condition.hours
        hours = {"begin": f"{begin // 60:02d}:{begin % 60:02d}", "until": f"{until // 60:02d}:{until % 60:02d}"}
        parts.append(_("klockan %(begin)s–%(until)s") % hours)
    if condition.days:
        parts.append(_("dagar: %(days)s") % {"days": ", ".join(_(DAYS[d]) for d in sorted(condition.days))})
    return parts or [_("alltid")]


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
            return page(request, "notfound.html", 404, title=N_("Hittades inte"), session=session)
        result, status = await run_in_threadpool(_try, request, session.account.tenant, values)
    return page(
        request,
        "rules.html",
        status,
        title=N_("Regler"),
        session=session,
        services=services,
        numbers=numbers,
        when=when,
        status_name=status_name,
        values=values,
        result=result,
    )


def _try(request: Request, tenant: str, values: dict[str, Any]) -> tuple[dict[str, Any], int]:
    """A dry run of ``values`` (to, sender, text), routed only to ``tenant``'s own services: its outcome, or an
    error as a text to translate and the values to fill in."""
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
        return {"error": (N_("Meddelandet kan inte provas: %(why)s"), {"why": str(exc)})}, 400
    route = platform.catalog.index.route(inbound.recipient, inbound.text)
    if route.service is not None and route.service.tenant != tenant:
        # A shared short code: the keyword is another customer's, whose service is none of this one's business.
        return {"error": (N_("Meddelandet går till en tjänst som inte är kundens."), {})}, 200
    try:
        outcome = platform.handle(inbound, dry_run=True, route=route)
    except KodeordError as exc:
        return {"error": (N_("Reglerna gav ett fel: %(why)s"), {"why": str(exc)})}, 200
    return {"outcome": outcome}, 200

"""The console's message log: search the tenant's messages by number, service, direction, status and time,
and open one to see its text, route, price and history (the JSON API's ``/api/messages``, for people)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from kodeord.watch.messagelog import Query, QueryError
from kodeord.web.console import i18n
from kodeord.web.console.i18n import N_
from kodeord.web.console.i18n import gettext as _
from kodeord.web.console.pages import language, page, session_of, to_login
from kodeord.web.messages import export_query, export_table, tenant_log
from kodeord.web.reports import ReportError, download
from kodeord.web.tables import FORMATS

PAGE_SIZE = 50
FILTERS = ("to", "from", "service", "status", "since")
STATUS_NAMES = {
    "queued": N_("köad"),
    "sent": N_("skickad"),
    "delivered": N_("levererad"),
    "failed": N_("misslyckad"),
    "handled": N_("hanterad"),
    "fallback": N_("reservsvar"),
    "reserved": N_("reserverat ord"),
    "unknown-keyword": N_("okänt nyckelord"),
    "unknown-number": N_("okänt nummer"),
    "error": N_("fel"),
}
ROUTE_NAMES = {  # the parts of a message's route, as the log names them
    "gateway": N_("gateway"),
    "operator": N_("operatörsnät"),
    "cost": N_("kostnad"),
    "gateway_ref": N_("gatewayens referens"),
}


def status_name(status: str | None) -> str:
    """A status (of a message, or a rule's outcome) in the page's language; one without a name as it is."""
    if status is not None and status in STATUS_NAMES:
        return _(STATUS_NAMES[status])
    return status or ""


def route_name(part: str) -> str:
    """A part of a message's route in the page's language; one without a name as it is."""
    return _(ROUTE_NAMES[part]) if part in ROUTE_NAMES else part


def local_time(iso: str, zone: str) -> str:
    """An ISO time from the log as the tenant's clock shows it: ``2026-12-01 19:05:03``."""
    if not iso:
        return ""
    return datetime.fromisoformat(iso).astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M:%S")


def _zone(request: Request, tenant: str) -> str:
    found = request.app.state.platform.catalog.config.tenants.get(tenant)
    return found.timezone if found is not None else "Europe/Stockholm"


async def messages(request: Request) -> Response:
    """A page of the tenant's messages matching the filters in the query string (newest first)."""
    session = await session_of(request)
    if session is None:
        return to_login(request)
    platform, tenant = request.app.state.platform, session.account.tenant
    params = request.query_params
    given = {name: params.get(name, "").strip()[:100] for name in FILTERS}
    services = sorted(s.key for s in platform.catalog.config.of_tenant(tenant))
    rows: list[dict[str, Any]] = []
    following, status = "", 200
    error: tuple[str, dict[str, str]] | None = None  # a text to translate and the values to fill in
    if given["service"] and given["service"] not in services:
        error, status = (N_("Kunden har ingen sådan tjänst."), {}), 404
    else:
        filters = {("sender" if k == "from" else k): v for k, v in given.items() if v}
        try:
            query = Query.parse(platform.settings.regions, **filters)
            log = tenant_log(platform, tenant)
            rows, following = await run_in_threadpool(log.search, query, PAGE_SIZE, params.get("cursor", "")[:200])
        except QueryError as exc:
            error, status = (N_("Filtret går inte att använda: %(why)s"), {"why": str(exc)}), 400
    chosen = {k: v for k, v in given.items() if v}
    more = f"/console/messages?{urlencode(chosen | {'cursor': following})}"
    downloads = {f: f"/console/messages/export?{urlencode(chosen | {'format': f})}" for f in FORMATS}
    return page(
        request,
        "messages.html",
        status,
        title=N_("Meddelanden"),
        session=session,
        given=given,
        services=services,
        rows=rows,
        more=more if following else "",
        downloads=downloads if error is None else {},
        error=error,
        zone=_zone(request, tenant),
        local_time=local_time,
        status_names=STATUS_NAMES,
        status_name=status_name,
    )


async def export(request: Request) -> Response:
    """Every message the filters find, as a file (``format=xlsx|csv|json``) in the user's language."""
    session = await session_of(request)
    if session is None:
        return to_login(request)
    platform, tenant = request.app.state.platform, session.account.tenant
    filters = {k: request.query_params[k][:100] for k in FILTERS if k in request.query_params}
    if filters.get("service") and filters["service"] not in {s.key for s in platform.services_of(tenant)}:
        return page(request, "notfound.html", 404, title=N_("Hittades inte"), session=session)
    try:
        query = export_query(platform, tenant, filters)
        i18n.use(language(request))
        table = export_table(platform, tenant, query).worded(i18n.gettext)
        return download(table, request.query_params.get("format", "xlsx"), f"messages_{tenant}")
    except (QueryError, ReportError):  # the log's page says what is wrong with the filters
        return RedirectResponse(f"/console/messages?{urlencode(filters)}", status_code=303)


async def message(request: Request) -> Response:
    """One of the tenant's messages; 404 for one it does not have, whoever's it is."""
    session = await session_of(request)
    if session is None:
        return to_login(request)
    platform, tenant = request.app.state.platform, session.account.tenant
    ident = request.path_params["id"][:300]
    found = await run_in_threadpool(tenant_log(platform, tenant).show, ident)
    if found is None:
        return page(request, "notfound.html", 404, title=N_("Hittades inte"), session=session)
    return page(
        request,
        "message.html",
        title=N_("Meddelande"),
        session=session,
        m=found,
        route_name=route_name,
        zone=_zone(request, tenant),
        local_time=local_time,
        status_names=STATUS_NAMES,
        status_name=status_name,
    )

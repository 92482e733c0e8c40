"""The console's message log: search the tenant's messages by number, service, direction, status and time,
and open one to see its text, route, price and history (the JSON API's ``/api/messages``, for people)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from kodeord.watch.messagelog import Query, QueryError
from kodeord.web.console.pages import page, session_of, to_login
from kodeord.web.messages import tenant_log

PAGE_SIZE = 50
FILTERS = ("to", "from", "service", "status", "since")
STATUS_NAMES = {
    "queued": "köad",
    "sent": "skickad",
    "delivered": "levererad",
    "failed": "misslyckad",
    "handled": "hanterad",
    "fallback": "reservsvar",
    "reserved": "reserverat ord",
    "unknown-keyword": "okänt nyckelord",
    "unknown-number": "okänt nummer",
    "error": "fel",
}


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
    following, error, status = "", "", 200
    if given["service"] and given["service"] not in services:
        error, status = "Kunden har ingen sådan tjänst.", 404
    else:
        filters = {("sender" if k == "from" else k): v for k, v in given.items() if v}
        try:
            query = Query.parse(platform.settings.regions, **filters)
            log = tenant_log(platform, tenant)
            rows, following = await run_in_threadpool(log.search, query, PAGE_SIZE, params.get("cursor", "")[:200])
        except QueryError as exc:
            error, status = str(exc), 400
    more = f"/console/messages?{urlencode({k: v for k, v in given.items() if v} | {'cursor': following})}"
    return page(
        request,
        "messages.html",
        status,
        title="Meddelanden",
        session=session,
        given=given,
        services=services,
        rows=rows,
        more=more if following else "",
        error=error,
        zone=_zone(request, tenant),
        local_time=local_time,
        status_names=STATUS_NAMES,
    )


async def message(request: Request) -> Response:
    """One of the tenant's messages; 404 for one it does not have, whoever's it is."""
    session = await session_of(request)
    if session is None:
        return to_login(request)
    platform, tenant = request.app.state.platform, session.account.tenant
    ident = request.path_params["id"][:300]
    found = await run_in_threadpool(tenant_log(platform, tenant).show, ident)
    if found is None:
        return page(request, "notfound.html", 404, title="Hittades inte", session=session)
    return page(
        request,
        "message.html",
        title="Meddelande",
        session=session,
        m=found,
        zone=_zone(request, tenant),
        local_time=local_time,
        status_names=STATUS_NAMES,
    )

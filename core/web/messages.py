"""``/api/messages``: a tenant's message log over the JSON API (docs/api.md#messages), and its export as a
table (``/api/messages/export?format=xlsx|csv|json``, and the console's download).

A key sees the messages of its tenant's services only: another tenant's message answers 404, exactly like one
that does not exist.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.routing import BaseRoute, Route

from kodeord.platform import Platform
from kodeord.watch.messagelog import MAX_LIMIT, MessageLog, Query, QueryError
from kodeord.web.apiauth import tenant_endpoint
from kodeord.web.console.i18n import N_
from kodeord.web.params import parse_whole
from kodeord.web.reports import download, zone_of
from kodeord.web.tables import Column, Kind, Table

FILTERS = {"to": "to", "from": "sender", "service": "service", "status": "status", "since": "since"}


def tenant_log(platform: Platform, tenant: str) -> MessageLog:
    """The message log of ``tenant``'s services only."""
    scopes = [f"s:{s.key}" for s in platform.catalog.config.of_tenant(tenant)]
    return MessageLog(platform.redis, platform.retention, scopes)


async def search(request: Request, platform: Platform, tenant: str) -> dict[str, Any]:
    """``GET /api/messages?to=&from=&service=&status=&since=&limit=&cursor=``: a page of messages."""
    params = request.query_params
    unknown = sorted(set(params) - set(FILTERS) - {"limit", "cursor"})
    if unknown:
        raise HTTPException(
            400, f"unknown parameter {unknown[0][:40]!r}; use {', '.join([*FILTERS, 'limit', 'cursor'])}"
        )
    limit = parse_whole(params.get("limit", "50"), MAX_LIMIT)
    if not limit:
        raise HTTPException(400, f"limit must be a whole number from 1 to {MAX_LIMIT}")
    try:
        query = Query.parse(platform.settings.regions, **{FILTERS[k]: v for k, v in params.items() if k in FILTERS})
        found, following = await run_in_threadpool(
            tenant_log(platform, tenant).search, query, limit, params.get("cursor", "")
        )
    except QueryError as exc:
        raise HTTPException(400, str(exc)) from None
    return {"messages": found, "cursor": following}


async def show(request: Request, platform: Platform, tenant: str) -> dict[str, Any]:
    """``GET /api/messages/{id}``: one message, with its replies if it came in; 404 if the tenant has none."""
    ident = request.path_params["id"]
    found = await run_in_threadpool(tenant_log(platform, tenant).show, ident[:300])
    if found is None:
        raise HTTPException(404, f"no message {ident[:40]!r}")
    return found


EXPORT_COLUMNS = (
    Column("time", N_("Tid"), Kind.DATETIME),
    Column("direction", N_("Riktning"), Kind.TEXT, 9),
    Column("service", N_("Tjänst"), Kind.TEXT, 22),
    Column("from", N_("Från"), Kind.PHONE),
    Column("to", N_("Till"), Kind.PHONE),
    Column("status", N_("Status"), Kind.TEXT, 14),
    Column("text", N_("Text"), Kind.TEXT, 50),
    Column("price", N_("Pris"), Kind.DECIMAL),
    Column("gateway", N_("Gateway"), Kind.TEXT, 12),
    Column("operator", N_("Operatör"), Kind.TEXT, 12),
    Column("cost", N_("Kostnad"), Kind.DECIMAL),
    Column("reason", N_("Orsak"), Kind.TEXT, 30),
    Column("id", N_("Id"), Kind.TEXT, 30),
)


def _decimal(value: str) -> Decimal | None:
    try:
        return Decimal(value) if value else None
    except InvalidOperation:
        return None


def export_rows(log: MessageLog, query: Query) -> Iterator[Sequence[Any]]:
    """The messages ``query`` finds as rows of ``EXPORT_COLUMNS``."""
    for m in log.every(query):
        route: Mapping[str, str] = m.get("route", {})
        yield (
            datetime.fromisoformat(m["time"]) if m["time"] else None,
            m["direction"],
            m["service"],
            m["from"],
            m["to"],
            m["status"],
            m["text"],
            _decimal(m.get("price", "")),
            route.get("gateway", ""),
            route.get("operator", ""),
            _decimal(route.get("cost", "")),
            m.get("reason", ""),
            m["id"],
        )


def export_table(platform: Platform, tenant: str, query: Query) -> Table:
    """``tenant``'s messages that ``query`` finds, as a table to download."""
    rows = export_rows(tenant_log(platform, tenant), query)
    return Table(EXPORT_COLUMNS, rows, zone_of(platform, tenant), "Meddelanden")


def export_query(platform: Platform, tenant: str, params: Mapping[str, str]) -> Query:
    """The query of an export's filters (the search's, without paging); QueryError if one is wrong or names a
    service the tenant does not have."""
    service = params.get("service", "")
    if service and service not in {s.key for s in platform.catalog.config.of_tenant(tenant)}:
        raise QueryError(f"no service {service[:60]!r}")
    return Query.parse(platform.settings.regions, **{FILTERS[k]: v[:200] for k, v in params.items() if k in FILTERS})


async def export(request: Request, platform: Platform, tenant: str) -> Any:
    """``GET /api/messages/export?to=&from=&service=&status=&since=&format=``: every message found, as a file."""
    params = request.query_params
    unknown = sorted(set(params) - set(FILTERS) - {"format"})
    if unknown:
        raise HTTPException(400, f"unknown parameter {unknown[0][:40]!r}; use {', '.join([*FILTERS, 'format'])}")
    try:
        query = export_query(platform, tenant, params)
    except QueryError as exc:
        raise HTTPException(400, str(exc)) from None
    return download(export_table(platform, tenant, query), params.get("format", "json"), f"messages_{tenant}")


def routes() -> list[BaseRoute]:
    """The message log's routes."""
    return [
        Route("/api/messages", tenant_endpoint(search)),
        Route("/api/messages/export", tenant_endpoint(export)),
        Route("/api/messages/{id:path}", tenant_endpoint(show)),
    ]

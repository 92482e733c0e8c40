"""``/api/messages``: a tenant's message log over the JSON API (docs/api.md#messages).

A key sees the messages of its tenant's services only: another tenant's message answers 404, exactly like one
that does not exist.
"""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.routing import BaseRoute, Route

from kodeord.platform import Platform
from kodeord.watch.messagelog import MAX_LIMIT, MessageLog, Query, QueryError
from kodeord.web.apiauth import tenant_endpoint
from kodeord.web.params import parse_whole

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


def routes() -> list[BaseRoute]:
    """The message log's routes."""
    return [
        Route("/api/messages", tenant_endpoint(search)),
        Route("/api/messages/{id:path}", tenant_endpoint(show)),
    ]

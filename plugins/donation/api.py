"""The donation JSON API under ``/api/donation/`` (an API key per tenant; see docs/televoting.md).

The key decides the tenant; only that tenant's donation services are read.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from kodeord.web.apiauth import tenant_endpoint
from kodeord.web.download import attachment

from . import report
from .campaign import DonationError

if TYPE_CHECKING:
    from kodeord.platform import PluginHost

PREFIX = "/api/donation"


def _period(request: Request) -> tuple[date | None, date | None]:
    query = request.query_params
    return report.parse_day("from", query.get("from")), report.parse_day("until", query.get("until"))


async def totals(request: Request, platform: PluginHost, tenant: str) -> Any:
    start, until = _period(request)
    return await run_in_threadpool(report.report, platform, tenant, start, until, False)


async def settlement(request: Request, platform: PluginHost, tenant: str) -> Any:
    start, until = _period(request)
    kind = request.query_params.get("format", "json")
    if kind not in ("json", "csv"):
        raise DonationError(f"format must be csv or json, got {kind!r}")
    result = await run_in_threadpool(report.report, platform, tenant, start, until)
    if kind == "json":
        return result
    name = "-".join(["donations", tenant, *(part for part in (result["from"], result["until"]) if part)])
    return Response(report.to_csv(result), media_type="text/csv; charset=utf-8", headers=attachment(f"{name}.csv"))


def routes() -> list[Route]:
    """Every donation route."""
    return [
        Route(PREFIX + "/totals", tenant_endpoint(totals), methods=["GET"]),
        Route(PREFIX + "/settlement", tenant_endpoint(settlement), methods=["GET"]),
    ]

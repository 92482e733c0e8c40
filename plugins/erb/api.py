"""``GET /api/erb/report``: where each of the key's tenant's services stands against the ERB's rules, and the
messages the rules stopped when sending (see docs/erb.md).

The rules the platform runs have passed the ERB's checks as they loaded, so each of their services is compliant;
the answer lists the rules that apply to each service and, per rule, how many marketing messages were stopped.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.routing import Route

from kodeord.outbound import status
from kodeord.web.apiauth import tenant_endpoint

from .report import statuses
from .rules import RULES

if TYPE_CHECKING:
    from kodeord.platform import PluginHost

CODES = (*RULES, "error")


def stopped(platform: PluginHost, tenant: str) -> dict[str, dict[str, int]]:
    """Per service of ``tenant``, the messages the rules stopped when sending, by rule."""
    found = {}
    for service in platform.services_of(tenant):
        counted = status.vetoed(platform.redis, service.key, "erb", CODES)
        found[service.key] = {code: sum(days.values()) for code, days in counted.items()}
    return found


def tenant_report(platform: PluginHost, tenant: str) -> list[dict[str, Any]]:
    """The tenant's services as the report gives them."""
    return [s.as_json() for s in statuses(platform.config, tenant, {}, stopped(platform, tenant))]


async def report(request: Request, platform: PluginHost, tenant: str) -> Any:
    return {"tenant": tenant, "services": await run_in_threadpool(tenant_report, platform, tenant)}


def routes() -> list[Route]:
    """The ERB routes."""
    return [Route("/api/erb/report", tenant_endpoint(report), methods=["GET"])]

"""The ERB's rules in the console: ``/console/erb/``, where each of the tenant's services stands (the rules that
apply to it, compliant or what breaks them) and the marketing messages the rules stopped when sending, by rule,
as ``kodeord erb report`` and ``GET /api/erb/report`` give it."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from kodeord.web.apiauth import host_of
from kodeord.web.console.i18n import N_
from kodeord.web.console.pages import page, signed_in

from .api import tenant_report
from .rules import RULES


async def index(request: Request) -> Response:
    """Each service's standing and what the rules stopped."""
    session = await signed_in(request)
    if isinstance(session, Response):
        return session
    services = await run_in_threadpool(tenant_report, host_of(request), session.account.tenant)
    return page(request, "erb/index.html", title=N_("ERB-regler"), session=session, services=services, rules=RULES)


def routes() -> list[Route]:
    """The section's routes, under ``/console/erb``."""
    return [Route("/", index)]

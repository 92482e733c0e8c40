"""``/gateways/<gateway id>/<sub-path>``: the webhook endpoints of configured gateways.

Each gateway type names its endpoints (``kannel``, ``kannel/dlr``, ...); this module finds the gateway's
handler, runs it, and turns a :class:`kodeord.inbound.webhooks.Refused` into its answer (a 4xx saying what was wrong).
Anything else a handler raises is a defect: Starlette logs it and answers 500 without details, and the
fuzz tests (tests/inbound/test_fuzz.py) fail on it.
"""

from __future__ import annotations

import logging

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from kodeord.inbound.webhooks import Refused, text
from kodeord.platform import Platform

log = logging.getLogger(__name__)


async def dispatch(request: Request) -> Response:
    """Run the endpoint of gateway ``{gateway}`` named ``{path}``; 404 if there is none."""
    platform: Platform = request.app.state.platform
    gateway_id, path = request.path_params["gateway"], request.path_params["path"].strip("/")
    handler = platform.endpoints.get(gateway_id, {}).get(path)
    if handler is None:
        response = text(404, f"no endpoint {path!r} for gateway {gateway_id!r}")
    else:
        try:
            response = await handler(request, platform)
        except Refused as refused:
            response = refused.response
    if response.status_code >= 400:
        platform.metrics.inc("kodeord_requests_refused_total", endpoint="gateway", reason=str(response.status_code))
    return response


def routes() -> list[BaseRoute]:
    """The gateway endpoints' route."""
    return [Route("/gateways/{gateway}/{path:path}", dispatch, methods=["GET", "POST"])]

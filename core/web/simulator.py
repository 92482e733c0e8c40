"""The phone simulator: type an SMS as a phone would and see the reply.

Only mounted by ``kodeord demo`` (or with ``KODEORD_SIMULATOR=1``): it lets
anyone inject messages, so it never runs on a production server.
"""

from __future__ import annotations

import json
import uuid
from importlib.resources import files

import jinja2
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Route

from kodeord.inbound.messages import Inbound
from kodeord.outbound.gateway import console_inbox_key
from kodeord.platform import Platform
from kodeord.support.errors import KodeordError

_pages = jinja2.Environment(
    loader=jinja2.FileSystemLoader(str(files("kodeord.templates"))),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
)
DEFAULT_PHONE = "+46701234567"
GATEWAY = "simulator"


async def page(request: Request) -> Response:
    """The simulator page."""
    platform: Platform = request.app.state.platform
    numbers = sorted(platform.catalog.config.numbers.values(), key=lambda n: n.address)
    services = sorted(platform.catalog.config.services.values(), key=lambda s: s.key)
    html = _pages.get_template("simulator.html").render(numbers=numbers, services=services, phone=DEFAULT_PHONE)
    return HTMLResponse(html)


async def send(request: Request) -> Response:
    """POST JSON ``{"from", "to", "text"}``: route it and return the outcome."""
    platform: Platform = request.app.state.platform
    try:
        body = await request.json()
    except (ValueError, RecursionError):  # not JSON (or not UTF-8), or nested too deeply
        return JSONResponse({"error": "body must be JSON"}, status_code=400)
    if not isinstance(body, dict) or not all(isinstance(body.get(k), str) for k in ("from", "to", "text")):
        return JSONResponse({"error": "give from, to and text as strings"}, status_code=400)
    try:
        inbound = Inbound.create(
            sender=body["from"],
            recipient=body["to"],
            text=body["text"],
            gateway=GATEWAY,
            message_id=uuid.uuid4().hex,
            regions=platform.settings.regions,
        )
    except KodeordError as exc:
        return JSONResponse({"error": str(exc)}, status_code=400)
    outcome = await run_in_threadpool(platform.handle, inbound)
    return JSONResponse(outcome.to_dict())


async def inbox(request: Request) -> Response:
    """Messages the console gateway delivered to ``?phone=``, newest first."""
    platform: Platform = request.app.state.platform
    phone = request.query_params.get("phone", "")
    try:
        address = Inbound.create(sender=phone, recipient=phone, gateway=GATEWAY, message_id="x").sender
    except KodeordError as exc:
        return JSONResponse({"error": str(exc)}, status_code=400)
    raw = platform.redis.lrange(console_inbox_key(address), 0, -1)
    return JSONResponse({"phone": address, "messages": [json.loads(m) for m in raw]})


def routes() -> list[BaseRoute]:
    """The simulator's routes."""
    return [
        Route("/simulator", page),
        Route("/simulator/send", send, methods=["POST"]),
        Route("/simulator/inbox", inbox),
    ]

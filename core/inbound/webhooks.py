"""What every gateway's webhook endpoints share: authentication answers, raw query parsing, taking an
inbound message into the router, and applying a delivery report.

Endpoints run the router directly on the event loop: the router's Redis calls are short round trips to a
nearby Redis, and a thread hand-off would cost more than they do (run several web processes instead).
"""

from __future__ import annotations

import base64
import logging
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote_to_bytes

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from kodeord.commit.records import Status
from kodeord.config.schema import Field, Text
from kodeord.inbound import signing
from kodeord.inbound.messages import Inbound
from kodeord.outbound import status
from kodeord.support.errors import KodeordError
from kodeord.support.redis_client import REDIS_ERRORS

if TYPE_CHECKING:
    from kodeord.decide.router import Outcome
    from kodeord.platform import Platform

log = logging.getLogger(__name__)


class Refused(Exception):
    """Stop handling a webhook with this HTTP answer."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status_code)
        self.response = response


def text(code: int, message: str, headers: Mapping[str, str] | None = None) -> Response:
    """A plain-text answer (what gateways log)."""
    return PlainTextResponse(message + "\n", status_code=code, headers=dict(headers or {}))


def unauthorized(request: Request, gateway_id: str, why: str, *, basic: bool = False) -> Refused:
    """401, logged with the caller's address; nothing else happens. ``basic``: invite HTTP basic auth."""
    client = request.client.host if request.client else "?"
    log.warning("gateway %s: refused %s %s from %s: %s", gateway_id, request.method, request.url.path, client, why)
    challenge = {"WWW-Authenticate": f'Basic realm="kodeord {gateway_id}"'} if basic else {}
    return Refused(text(401, f"unauthorized: {why}", challenge))


def bad_request(reason: str) -> Refused:
    """400 with the reason."""
    return Refused(text(400, reason))


def only_post(request: Request) -> None:
    """405 unless the request is a POST."""
    if request.method != "POST":
        raise Refused(text(405, "use POST", {"Allow": "POST"}))


async def read_limited(request: Request, limit: int) -> bytes | None:
    """The request body, or None as soon as it is declared or grows longer than ``limit`` bytes."""
    declared = request.headers.get("content-length", "").strip()
    # ASCII digits only ("²".isdigit() too), and never int() of thousands of them (Python refuses that).
    if declared.isascii() and declared.isdigit() and (len(declared) > 20 or int(declared) > limit):
        return None
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            return None
    return bytes(body)


async def read_body(request: Request, limit: int) -> bytes:
    """The request body; 413 as soon as it is declared or grows longer than ``limit`` bytes."""
    body = await read_limited(request, limit)
    if body is None:
        raise Refused(text(413, f"the body is longer than {limit} bytes"))
    return body


def raw_query(request: Request) -> dict[str, bytes]:
    """Query parameters as percent-decoded bytes (the text's charset is decided later, not guessed as UTF-8)."""
    params: dict[str, bytes] = {}
    for part in request.scope.get("query_string", b"").split(b"&"):
        if not part:
            continue
        key, _, value = part.partition(b"=")
        params[unquote_to_bytes(key.replace(b"+", b" ")).decode("latin-1")] = unquote_to_bytes(
            value.replace(b"+", b" ")
        )
    return params


def basic_credentials(request: Request) -> tuple[str, str] | None:
    """User and password of HTTP basic auth, or None."""
    header = request.headers.get("authorization", "")
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        # Not base64, not ASCII (the header's text is Latin-1) or not UTF-8: all ValueErrors, all no credentials.
        user, colon, password = base64.b64decode(encoded.strip(), validate=True).decode("utf-8").partition(":")
    except ValueError:
        return None
    return (user, password) if colon else None


def credential_fields(url: str) -> dict[str, Field]:
    """The gateway options :func:`check_credentials` reads, for a gateway type's options record; ``url`` names
    the URL the gateway calls us at (``get-url``, ``sms_url``)."""
    return {
        "inbound_user": Field(Text(), doc=f"HTTP basic auth user the {url} carries"),
        "inbound_password": Field(Text(), doc="its password"),
        "inbound_secret": Field(Text(), doc=f"or: the secret= parameter of the {url}"),
    }


def check_credentials(request: Request, gateway_id: str, options: Mapping[str, Any], secret: str | None) -> None:
    """Accept basic auth (``inbound_user``/``inbound_password``) or a ``secret`` parameter; else raise 401."""
    user, password = options.get("inbound_user"), options.get("inbound_password")
    expected_secret = options.get("inbound_secret")
    if user and password:
        given = basic_credentials(request)
        if given is not None and signing.same(given[0], user) and signing.same(given[1], password):
            return
    if expected_secret and signing.same(secret, expected_secret):
        return
    raise unauthorized(request, gateway_id, "wrong or missing credentials", basic=bool(user and password))


async def receive(platform: Platform, **fields: Any) -> Outcome:
    """Validate one inbound message and route it; 400 for bad fields, 503 while Redis is unreachable.

    A tenant whose templates may be slow is routed on the platform's routing threads, in its own lanes (see
    :mod:`kodeord.decide.lanes`), so it never holds up another tenant's messages.
    """
    try:
        inbound = Inbound.create(regions=platform.settings.regions, **fields)
    except KodeordError as exc:
        raise bad_request(str(exc)) from None
    try:
        route, tenant = platform.route_of(inbound)
        return await platform.lanes.route(tenant, lambda: platform.handle(inbound, route=route), platform.heavy(tenant))
    except REDIS_ERRORS as exc:
        log.warning("inbound %s not taken, Redis unavailable: %s", fields.get("message_id"), exc)
        raise Refused(text(503, "temporarily unavailable; retry", {"Retry-After": "1"})) from None


def report(platform: Platform, ref: str, state: Status, detail: str) -> Response:
    """Apply a delivery report to message ``ref``: 200, 404 for an unknown message, 503 without Redis."""
    try:
        reported = status.apply_report(platform.redis, platform.retention, ref, state, detail, int(time.time() * 1000))
    except ValueError as exc:
        return text(400, str(exc))
    except REDIS_ERRORS:
        return text(503, "temporarily unavailable; retry", {"Retry-After": "1"})
    if reported is None:
        return text(404, f"no message {ref}")
    platform.metrics.inc("kodeord_delivery_reports_total", status=state.value)
    if reported.latency_s is not None:
        platform.metrics.observe("kodeord_delivery_report_latency_seconds", reported.latency_s, status=state.value)
    return text(200, "ok")

"""The JSON API's door: the tenant of a request's API key, and its JSON body read with limits.

Both are coroutines, for Starlette endpoints. An API route starts with ``tenant = await tenant_of(request)``
and then looks up only that tenant's data, so a key never reaches another customer's (docs/api.md). Their
errors are ``HTTPException``s, which the app answers as JSON ``{"error": detail}``.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from kodeord.inbound import webhooks
from kodeord.web import apikeys

if TYPE_CHECKING:
    from kodeord.platform import PluginHost

MAX_BODY = 65536


TenantHandler = Callable[[Request, "PluginHost", str], Awaitable[Any]]


def host_of(request: Request) -> PluginHost:
    """The platform serving ``request``, as a plugin's pages and API use it."""
    host: PluginHost = request.app.state.platform
    return host


def tenant_endpoint(handler: TenantHandler, status: int = 200) -> Callable[[Request], Awaitable[Response]]:
    """A route for ``handler(request, platform, tenant)``: the tenant comes from the API key (401 without
    one), and a result that is not already a ``Response`` is answered as JSON with ``status``."""

    async def run(request: Request) -> Response:
        tenant = await tenant_of(request)
        result = await handler(request, host_of(request), tenant)
        return result if isinstance(result, Response) else JSONResponse(result, status_code=status)

    return run


def _key(request: Request) -> str:
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer":
        return credentials.strip()
    return request.headers.get("x-api-key", "").strip()


def key_name(request: Request) -> str | None:
    """The name of the request's API key (one ``tenant_of`` found genuine), for records of who did what."""
    return apikeys.name_of(host_of(request).redis, _key(request))


async def tenant_of(request: Request) -> str:
    """The tenant of the request's key (``Authorization: Bearer <key>``, else ``X-Api-Key: <key>``); else 401."""
    tenant = await run_in_threadpool(apikeys.tenant_for, host_of(request).redis, _key(request))
    if tenant is None:
        raise HTTPException(401, "missing or unknown API key", headers={"WWW-Authenticate": "Bearer"})
    return tenant


def _no_constants(name: str) -> Any:
    # NaN and Infinity are not JSON, and a response echoing them back could not be written.
    raise ValueError(f"{name} is not allowed")


async def json_body(request: Request, limit: int = MAX_BODY) -> dict[str, Any]:
    """The request's JSON object (``{}`` for an empty body).

    415 when a Content-Type other than application/json is given, 413 when the body is over ``limit`` bytes,
    400 when it is not valid JSON, not an object, or holds text that is not Unicode (a lone surrogate, which
    JSON's ``\\u`` escapes can spell but nothing can store or answer with).
    """
    kind = request.headers.get("content-type", "application/json").partition(";")[0].strip().lower()
    if kind != "application/json":
        raise HTTPException(415, f"expected Content-Type application/json, got {kind!r}")
    body = await webhooks.read_limited(request, limit)
    if body is None:
        raise HTTPException(413, f"body larger than {limit} bytes")
    if not body.strip():
        return {}
    try:
        data = json.loads(body, parse_constant=_no_constants)
    except ValueError as exc:  # also bad UTF-8
        raise HTTPException(400, f"body is not valid JSON: {exc}") from None
    except RecursionError:
        raise HTTPException(400, "body is not valid JSON: nested too deeply") from None
    if not isinstance(data, dict):
        raise HTTPException(400, "expected a JSON object")
    try:
        json.dumps(data, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise HTTPException(400, "body is not valid JSON: text with a lone surrogate (\\ud800-\\udfff)") from None
    return data

"""The JSON API's door: which tenant an API key belongs to, and reading a JSON body safely.

Every API route starts with ``tenant = await tenant_of(request)`` and then only ever looks up that tenant's
data, so a key can never reach another customer's.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request

from kodeord import apikeys

MAX_BODY = 65536


async def tenant_of(request: Request) -> str:
    """The tenant of the request's API key (``Authorization: Bearer <key>`` or ``X-Api-Key``); else 401."""
    header = request.headers.get("authorization", "")
    scheme, _, key = header.partition(" ")
    if scheme.lower() != "bearer":
        key = request.headers.get("x-api-key", "")
    tenant = await run_in_threadpool(apikeys.tenant_for, request.app.state.platform.redis, key.strip())
    if tenant is None:
        raise HTTPException(401, "missing or unknown API key", headers={"WWW-Authenticate": "Bearer"})
    return tenant


async def json_body(request: Request, limit: int = MAX_BODY) -> dict[str, Any]:
    """The request's JSON object; 415 for another content type, 413 when too large, 400 when not an object."""
    kind = request.headers.get("content-type", "application/json").split(";")[0].strip().lower()
    if kind != "application/json":
        raise HTTPException(415, f"expected Content-Type: application/json, got {kind!r}")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise HTTPException(413, f"body larger than {limit} bytes")
    try:
        data = json.loads(body or b"{}")
    except ValueError as exc:
        raise HTTPException(400, f"body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise HTTPException(400, "expected a JSON object")
    return data

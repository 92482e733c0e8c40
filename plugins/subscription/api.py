"""``GET /api/subscriptions/{service}`` (how many subscribe, how many were asked to confirm) and
``POST /api/subscriptions/{service}/messages`` ``{"text": "..."}`` (send it to every subscriber, 202): the key's
tenant's subscriptions only."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.routing import Route

from kodeord.web.apiauth import json_body, key_name, tenant_endpoint

from .sending import SubscriptionError, send
from .store import SubscriptionKeys, counts

if TYPE_CHECKING:
    from kodeord.platform import PluginHost

PREFIX = "/api/subscriptions/{service}"


def _key(platform: PluginHost, tenant: str, service_id: str) -> str:
    service = platform.service(f"{tenant}/{service_id}")
    if service is None or service.subscription is None:
        raise SubscriptionError(f"no subscription {service_id!r}", 404)
    return service.key


async def show(request: Request, platform: PluginHost, tenant: str) -> Any:
    key = _key(platform, tenant, request.path_params["service"])
    return {"service": key, **await run_in_threadpool(counts, platform.redis, SubscriptionKeys(key))}


async def messages(request: Request, platform: PluginHost, tenant: str) -> Any:
    key = _key(platform, tenant, request.path_params["service"])
    body = await json_body(request)
    text = body.get("text") if isinstance(body, dict) else None
    if not isinstance(text, str):
        raise SubscriptionError("text is required: the message to send")
    return await run_in_threadpool(send, platform, key, text, f"key:{key_name(request) or ''}")


def routes() -> list[Route]:
    """The subscription routes."""
    return [
        Route(PREFIX, tenant_endpoint(show), methods=["GET"]),
        Route(PREFIX + "/messages", tenant_endpoint(messages, 202), methods=["POST"]),
    ]

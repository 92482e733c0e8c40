"""Building the Starlette app for one platform."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from kodeord.platform import Platform
from kodeord.support.errors import KodeordError
from kodeord.support.redis_client import REDIS_ERRORS, UNAVAILABLE
from kodeord.watch import gauges
from kodeord.web import gateways, messages, reports, simulator
from kodeord.web.apiauth import tenant_of
from kodeord.web.console import pages as console_pages

log = logging.getLogger(__name__)


async def healthz(request: Request) -> Response:
    """Liveness and readiness: Redis answers and rules are loaded."""
    platform: Platform = request.app.state.platform
    try:
        platform.redis.ping()
        redis_ok = True
    except Exception:  # noqa: BLE001 - any failure means "not ready"
        redis_ok = False
    body = {
        "status": "ok" if redis_ok else "unavailable",
        "redis": redis_ok,
        "services": len(platform.catalog.config.services),
        "rules_generation": platform.catalog.generation,
    }
    return JSONResponse(body, status_code=200 if redis_ok else 503)


async def metrics(request: Request) -> Response:
    """The whole platform's metrics in Prometheus text format (docs/operations.md#metrics)."""
    platform: Platform = request.app.state.platform
    platform.metrics.set("kodeord_engine_rulesets", len(platform.engine))
    platform.metrics.set("kodeord_services", len(platform.catalog.config.services))
    try:
        body = await run_in_threadpool(lambda: platform.metrics.render(gauges.read(platform.redis)))
    except REDIS_ERRORS:
        return PlainTextResponse("Redis unavailable\n", status_code=503, headers={"Retry-After": "1"})
    return Response(body, media_type="text/plain; version=0.0.4; charset=utf-8")


async def whoami(request: Request) -> Response:
    """The tenant of the request's API key, so a customer can try a key (docs/api.md); 401 without one."""
    return JSONResponse({"tenant": await tenant_of(request)})


async def home(request: Request) -> Response:
    """The demo's start page is the phone simulator."""
    if request.app.state.simulator:
        return RedirectResponse("/simulator", status_code=302)
    return PlainTextResponse("Kodeord\n")


def refused(request: Request, status: int) -> None:
    """Count a refused API request (in an app that serves a platform; plugins' tests may serve bare apps)."""
    platform = getattr(request.app.state, "platform", None)
    if platform is not None and status >= 400:
        platform.metrics.inc("kodeord_requests_refused_total", endpoint="api", reason=str(status))


async def kodeord_error(request: Request, exc: Exception) -> Response:
    """Errors a caller caused: their status and message, as JSON."""
    assert isinstance(exc, KodeordError)
    refused(request, exc.http_status)
    return JSONResponse({"error": str(exc)}, status_code=exc.http_status)


async def redis_unavailable(request: Request, exc: Exception) -> Response:
    """Redis (or the part of a cluster a request needs) cannot answer now: 503, try again in a second, for any
    route that did not answer it itself (a webhook is then sent again by its gateway)."""
    log.warning("%s %s: Redis unavailable (%s)", request.method, request.url.path, exc)
    return JSONResponse({"error": "temporarily unavailable; try again"}, status_code=503, headers={"Retry-After": "1"})


async def http_error(request: Request, exc: Exception) -> Response:
    """Starlette's HTTP errors as JSON (each counted as a refused request)."""
    assert isinstance(exc, HTTPException)
    refused(request, exc.status_code)
    return JSONResponse({"error": exc.detail}, status_code=exc.status_code, headers=exc.headers)


def create_app(platform: Platform, *, simulator_enabled: bool = False, own_platform: bool = False) -> Starlette:
    """The app for ``platform``; ``own_platform`` closes it on shutdown."""
    sections = platform.hooks.console_sections()
    routes: list[BaseRoute] = [
        Route("/", home),
        Route("/healthz", healthz),
        Route("/metrics", metrics),
        Route("/api/whoami", whoami),
        *gateways.routes(),
        *messages.routes(),
        *reports.routes(),
        *console_pages.routes(sections),
    ]
    if simulator_enabled:
        routes += simulator.routes()
    routes += platform.hooks.routes()

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        if own_platform:
            platform.close()

    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers={
            KodeordError: kodeord_error,
            HTTPException: http_error,
            **dict.fromkeys(UNAVAILABLE, redis_unavailable),
        },
    )
    app.state.platform = platform
    app.state.simulator = simulator_enabled
    app.state.console_sections = sections
    return app


def create_app_from_env() -> Starlette:
    """Factory for ``uvicorn --factory``: a platform from the environment's settings."""
    import os

    from kodeord.config.settings import Settings, parse_flag

    platform = Platform(Settings())
    return create_app(
        platform, simulator_enabled=parse_flag(os.environ.get("KODEORD_SIMULATOR", "")), own_platform=True
    )

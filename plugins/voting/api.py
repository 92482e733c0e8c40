"""The voting JSON API under ``/api/voting/`` (an API key per tenant; see docs/televoting.md).

The key decides the tenant; polls and competitions are looked up only among that tenant's services.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from kodeord.web.apiauth import TenantHandler, json_body, tenant_endpoint
from kodeord.web.download import attachment
from kodeord.web.params import parse_whole

from . import competition, draw, hotbutton, store
from .admin import all_polls, find_poll, services
from .poll import PollError

if TYPE_CHECKING:
    from kodeord.platform import PluginHost

PREFIX = "/api/voting"
MAX_DRAW = 10**9  # far more draws than a competition has; a path segment beyond it names none


def whole_number(body: dict[str, Any], name: str, default: int) -> int:
    """``body[name]`` as a whole number (``default`` when absent); 400 otherwise."""
    value = body.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int):
        raise PollError(f"{name} must be a whole number")
    return value


async def list_polls(request: Request, platform: PluginHost, tenant: str) -> Any:
    def read() -> Any:
        results = [store.result(platform.redis, poll) for poll in all_polls(platform, tenant).values()]
        return {"polls": [{k: r[k] for k in ("poll", "title", "state", "opens", "closes", "total")} for r in results]}

    return await run_in_threadpool(read)


async def show_poll(request: Request, platform: PluginHost, tenant: str) -> Any:
    poll = find_poll(platform, tenant, request.path_params["poll"])
    return await run_in_threadpool(store.result, platform.redis, poll)


async def close_poll(request: Request, platform: PluginHost, tenant: str) -> Any:
    poll = find_poll(platform, tenant, request.path_params["poll"])

    def close() -> Any:
        newly = store.close(platform, poll, "api")
        return {"closed_now": newly, **store.result(platform.redis, poll)}

    return await run_in_threadpool(close)


async def open_poll(request: Request, platform: PluginHost, tenant: str) -> Any:
    poll = find_poll(platform, tenant, request.path_params["poll"])

    def reopen() -> Any:
        opened = store.reopen(platform, poll, "api")
        return {"opened_now": opened, **store.result(platform.redis, poll)}

    return await run_in_threadpool(reopen)


async def press_hot_button(request: Request, platform: PluginHost, tenant: str) -> Any:
    poll = find_poll(platform, tenant, request.path_params["poll"])
    body = await json_body(request)
    seconds = whole_number(body, "seconds", 60)
    return await run_in_threadpool(hotbutton.press, platform, poll, seconds, "api")


def log_reader(rows: str) -> TenantHandler:
    """A handler listing the newest entries of one of a poll's logs."""

    async def read(request: Request, platform: PluginHost, tenant: str) -> Any:
        poll = find_poll(platform, tenant, request.path_params["poll"])
        return {rows: await run_in_threadpool(store.recent, platform.redis, poll, rows)}

    return read


async def list_competitions(request: Request, platform: PluginHost, tenant: str) -> Any:
    def read() -> Any:
        found = services(platform, tenant, competition.ACTION)
        return {
            "competitions": [draw.summary(platform.redis, competition.find(platform, tenant, sid)) for sid in found]
        }

    return await run_in_threadpool(read)


async def show_competition(request: Request, platform: PluginHost, tenant: str) -> Any:
    found = competition.find(platform, tenant, request.path_params["competition"])
    return await run_in_threadpool(draw.summary, platform.redis, found)


async def make_draw(request: Request, platform: PluginHost, tenant: str) -> Any:
    found = competition.find(platform, tenant, request.path_params["competition"])
    body = await json_body(request)
    return await run_in_threadpool(draw.draw, platform.redis, found, whole_number(body, "winners", 1), "api")


async def list_draws(request: Request, platform: PluginHost, tenant: str) -> Any:
    found = competition.find(platform, tenant, request.path_params["competition"])
    return {"draws": await run_in_threadpool(draw.draws, platform.redis, found)}


async def draw_entries(request: Request, platform: PluginHost, tenant: str) -> Any:
    found = competition.find(platform, tenant, request.path_params["competition"])
    n = parse_whole(request.path_params["draw"], MAX_DRAW)
    if n is None:
        raise PollError(f"no draw {request.path_params['draw'][:40]!r}: draws are numbered 1, 2, 3, ...", 404)
    body = await run_in_threadpool(draw.listing, platform.redis, found, n)
    return Response(body, media_type="text/plain; charset=utf-8", headers=attachment(f"draw-{n}-entries.txt"))


def routes() -> list[Route]:
    """Every poll and competition route."""
    one = PREFIX + "/polls/{poll}"
    contest = PREFIX + "/competitions/{competition}"
    return [
        Route(PREFIX + "/competitions", tenant_endpoint(list_competitions), methods=["GET"]),
        Route(contest, tenant_endpoint(show_competition), methods=["GET"]),
        Route(contest + "/draws", tenant_endpoint(make_draw, 201), methods=["POST"]),
        Route(contest + "/draws", tenant_endpoint(list_draws), methods=["GET"]),
        Route(contest + "/draws/{draw}/entries", tenant_endpoint(draw_entries), methods=["GET"]),
        Route(PREFIX + "/polls", tenant_endpoint(list_polls), methods=["GET"]),
        Route(one, tenant_endpoint(show_poll), methods=["GET"]),
        Route(one + "/close", tenant_endpoint(close_poll), methods=["POST"]),
        Route(one + "/open", tenant_endpoint(open_poll), methods=["POST"]),
        Route(one + "/hot-button", tenant_endpoint(press_hot_button), methods=["POST"]),
        Route(one + "/hot-button", tenant_endpoint(log_reader("hot_button")), methods=["GET"]),
        Route(one + "/alerts", tenant_endpoint(log_reader("alerts")), methods=["GET"]),
    ]

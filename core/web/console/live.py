"""The live page (MA-8): a tenant's or a service's traffic as a moving graph, updated every second.

``/console/live`` (the tenant's services together) and ``/console/live?service=tenant/id`` show inbound
messages and calls, replies sent and delivered per second, and for a poll its votes per option, with the
totals beside them: today's traffic (the tenant's day) and the poll's result. The page's script
(``static/live.js`` with uPlot, both served from the package) reads ``/console/live/events``, a stream of
server-sent events, one a second.

The counts are those of :mod:`kodeord.watch.live`, written in the same commit as what they count. One
reader per process and view reads Redis once a second, however many people watch (:class:`Feeds`), so fifty
viewers cost the vote they watch what one does.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sse_starlette.sse import EventSourceResponse
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from kodeord.platform import Platform
from kodeord.watch import live
from kodeord.web.console.i18n import N_
from kodeord.web.console.pages import page, session_of, signed_in
from kodeord.web.reports import Period, traffic_counts, zone_of

HISTORY_S = 300  # seconds the graph shows, and sends to a new viewer
RECENT_S = 5  # seconds each event sends again (a commit can land a little after its second)
RECHECK_S = 30  # how often a stream checks its session is still valid
TRAFFIC_LABELS = {
    "in:sms": N_("SMS in"),
    "in:call": N_("Samtal in"),
    "sent": N_("Skickade"),
    "delivered": N_("Levererade"),
}


@dataclass
class Feed:
    """One view (a tenant, or one of its services) read once a second for everyone watching it."""

    tenant: str
    service: str  # "" for the whole tenant
    viewers: set[asyncio.Queue[dict[str, Any]]] = field(default_factory=set)
    task: asyncio.Task[None] | None = None


class Feeds:
    """The views being watched in this process."""

    def __init__(self, platform: Platform) -> None:
        self.platform = platform
        self.feeds: dict[tuple[str, str], Feed] = {}

    @contextlib.asynccontextmanager
    async def watch(self, tenant: str, service: str) -> AsyncIterator[asyncio.Queue[dict[str, Any]]]:
        """A queue that gets the view's counts every second while the caller watches."""
        feed = self.feeds.setdefault((tenant, service), Feed(tenant, service))
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=2)
        feed.viewers.add(queue)
        if feed.task is None or feed.task.done():
            feed.task = asyncio.create_task(self._run(feed))
        try:
            yield queue
        finally:
            feed.viewers.discard(queue)

    async def _run(self, feed: Feed) -> None:
        while feed.viewers:
            now = int(time.time())
            try:
                counts = await run_in_threadpool(read, self.platform, feed.tenant, feed.service, now - RECENT_S, now)
            except Exception:  # noqa: BLE001 - Redis away: the viewers keep their graph and the feed tries again
                counts = None
            for queue in list(feed.viewers):
                if counts is not None:
                    if queue.full():  # a slow viewer gets the newest, not a backlog
                        with contextlib.suppress(asyncio.QueueEmpty):
                            queue.get_nowait()
                    queue.put_nowait(counts)
            await asyncio.sleep(max(0.05, now + 1 - time.time()))
        self.feeds.pop((feed.tenant, feed.service), None)


def services_of(platform: Platform, tenant: str, service: str) -> list[str]:
    """The services a view covers."""
    return [service] if service else [s.key for s in platform.services_of(tenant)]


def read(platform: Platform, tenant: str, service: str, first: int, last: int) -> dict[str, Any]:
    """The view's counts per second from ``first`` to ``last``, today's totals and the plugins' series."""
    keys = services_of(platform, tenant, service)
    seconds = live.seconds(platform.redis, keys, first, last) if keys else {}
    zone = zone_of(platform, tenant)
    today = datetime.now(ZoneInfo(zone)).date()
    totals = dict.fromkeys(live.TRAFFIC, 0)
    for (_, key), counts in traffic_counts(platform, tenant, Period(today, today, zone)).items():
        if key in keys:
            for metric, count in zip(live.TRAFFIC, counts, strict=True):
                totals[metric] += count
    series = []
    found = platform.service(service) if service else None
    if found is not None:
        for line in platform.hooks.live_series(platform, found):
            series.append({"metric": line.metric, "label": line.label})
            totals[line.metric] = line.total
    return {
        "now": last,
        "seconds": {str(at): counts for at, counts in seconds.items()},
        "totals": totals,
        "series": series,
    }


def _feeds(request: Request) -> Feeds:
    found: Feeds | None = getattr(request.app.state, "live_feeds", None)
    if found is None:
        found = request.app.state.live_feeds = Feeds(request.app.state.platform)
    return found


def _service(request: Request, tenant: str) -> str | None:
    """The ``service`` asked for, "" for none, None for one the tenant does not have."""
    wanted = request.query_params.get("service", "")[:200]
    if not wanted:
        return ""
    return wanted if wanted in {s.key for s in request.app.state.platform.services_of(tenant)} else None


async def live_page(request: Request) -> Response:
    """The live graph of the tenant or one of its services."""
    session = await signed_in(request)
    if isinstance(session, Response):
        return session
    platform, tenant = request.app.state.platform, session.account.tenant
    service = _service(request, tenant)
    if service is None:
        return page(request, "notfound.html", 404, title=N_("Hittades inte"), session=session)
    now = int(time.time())
    first = await run_in_threadpool(read, platform, tenant, service, now - HISTORY_S, now)
    response = page(
        request,
        "live.html",
        title=N_("Live"),
        session=session,
        service=service,
        services=platform.services_of(tenant),
        first=first,
        first_json=json.dumps(first),
        traffic=TRAFFIC_LABELS,
        history_s=HISTORY_S,
    )
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:"
    )
    return response


async def events(request: Request) -> Response:
    """The view's counts as server-sent events, one a second; the stream ends when the session does."""
    session = await session_of(request)
    if session is None:
        return Response("log in first", 401)
    tenant = session.account.tenant
    service = _service(request, tenant)
    if service is None:
        return Response("no such service", 404)
    feeds = _feeds(request)

    async def stream() -> AsyncIterator[dict[str, str]]:
        checked = time.monotonic()
        async with feeds.watch(tenant, service) as queue:
            while True:
                counts = await queue.get()
                yield {"event": "counts", "data": json.dumps(counts)}
                if time.monotonic() - checked > RECHECK_S:
                    checked = time.monotonic()
                    if await session_of(request) is None:  # logged out, disabled or expired
                        return

    return EventSourceResponse(stream(), ping=15, headers={"Cache-Control": "no-store"})

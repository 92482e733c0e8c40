"""The console's reports: every report the tenant has (:mod:`kodeord.web.reports`), over a date range,
shown as a table and downloaded as xlsx, CSV for Swedish Excel, or JSON."""

from __future__ import annotations

from itertools import islice
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from kodeord.web.console import i18n
from kodeord.web.console.i18n import N_
from kodeord.web.console.pages import language, page, signed_in
from kodeord.web.console.sessions import Session
from kodeord.web.reports import Period, Report, ReportError, available, download, filename, find, zone_of
from kodeord.web.tables import FORMATS, Kind

SHOWN_ROWS = 500  # rows a report's page shows; the downloads have them all


async def index(request: Request) -> Response:
    """The reports the tenant has."""
    session = await signed_in(request)
    if isinstance(session, Response):
        return session
    platform = request.app.state.platform
    found = available(platform, session.account.tenant)
    return page(request, "reports.html", title=N_("Rapporter"), session=session, reports=found)


def _refused(request: Request, session: Session, found: Report, error: str, since: str, until: str) -> Response:
    """The report's page with what was wrong with the request (400)."""
    return page(
        request,
        "report.html",
        400,
        title=found.title,
        session=session,
        report=found,
        error=error,
        since=since,
        until=until,
        rows=[],
        more=False,
        downloads={},
        kinds=Kind,
    )


async def report(request: Request) -> Response:
    """One report over the period asked for (the last 7 days by default); ``format=`` downloads it."""
    session = await signed_in(request)
    if isinstance(session, Response):
        return session
    platform, tenant = request.app.state.platform, session.account.tenant
    found = find(platform, tenant, request.path_params["name"])
    if found is None:
        return page(request, "notfound.html", 404, title=N_("Hittades inte"), session=session)
    params = request.query_params
    since, until = params.get("since", "")[:40], params.get("until", "")[:40]
    try:
        period = Period.parse(since, until, zone_of(platform, tenant))
    except ReportError as exc:
        return _refused(request, session, found, str(exc), since, until)
    fmt = params.get("format", "")
    if fmt:
        try:
            i18n.use(language(request))
            table = found.table(platform, tenant, period, i18n.gettext)
            return download(table, fmt, filename(found, period))
        except ReportError as exc:
            return _refused(request, session, found, str(exc), str(period.first), str(period.last))
    rows = await run_in_threadpool(lambda: list(islice(found.table(platform, tenant, period).rows, SHOWN_ROWS + 1)))
    base = {"since": str(period.first), "until": str(period.last)}
    downloads = {f: f"/console/reports/{found.name}?{urlencode(base | {'format': f})}" for f in FORMATS}
    return page(
        request,
        "report.html",
        title=found.title,
        session=session,
        report=found,
        error="",
        since=str(period.first),
        until=str(period.last),
        rows=rows[:SHOWN_ROWS],
        more=len(rows) > SHOWN_ROWS,
        downloads=downloads,
        kinds=Kind,
        local=lambda moment: moment.astimezone(ZoneInfo(period.zone)).strftime("%Y-%m-%d %H:%M"),
    )

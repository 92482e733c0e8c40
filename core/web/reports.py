"""Reports: tables of a tenant's data over a date range, for people (the console) and machines (the API).

A report is registered by the core or a plugin (hook ``kodeord_register_reports``) as a :class:`Report`:
a name (``traffic.hours``), a Swedish title, typed columns (:class:`kodeord.web.tables.Column`) and a function
``rows(host, tenant, period)`` that yields the rows of one tenant, in the tenant's time. Every report is
served at

- ``GET /api/reports``: the reports a key's tenant has (name, title, columns);
- ``GET /api/reports/<name>?since=YYYY-MM-DD&until=YYYY-MM-DD&format=json|csv|xlsx`` (an API key);
- ``/console/reports`` and ``/console/reports/<name>`` (a person's session), with the same downloads.

``since`` and ``until`` are days in the tenant's time zone, both included; without them the last 7 days.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from starlette.concurrency import iterate_in_threadpool, run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from kodeord.support.errors import KodeordError
from kodeord.watch import live
from kodeord.web import tables
from kodeord.web.apiauth import tenant_endpoint
from kodeord.web.console.i18n import N_
from kodeord.web.download import attachment
from kodeord.web.tables import Column, Kind, Table

if TYPE_CHECKING:
    from kodeord.platform import PluginHost

DEFAULT_DAYS = 7
MAX_DAYS = 3660  # ten years


class ReportError(KodeordError):
    """A report asked for wrongly (an unknown report, a bad date or format); the message says what."""

    http_status = 400


@dataclass(frozen=True)
class Period:
    """Days ``first`` to ``last`` (both included) in time zone ``zone``."""

    first: date
    last: date
    zone: str = "Europe/Stockholm"

    @property
    def since(self) -> datetime:
        """The first moment of the period."""
        return datetime.combine(self.first, time(), ZoneInfo(self.zone))

    @property
    def until(self) -> datetime:
        """The first moment after the period."""
        return datetime.combine(self.last + timedelta(days=1), time(), ZoneInfo(self.zone))

    def __contains__(self, moment: datetime) -> bool:
        return self.since <= moment < self.until

    def utc_days(self) -> list[str]:
        """The UTC days (``YYYY-MM-DD``) the period touches."""
        first, last = self.since.astimezone(UTC).date(), (self.until - timedelta(microseconds=1)).astimezone(UTC)
        return [(first + timedelta(days=n)).isoformat() for n in range((last.date() - first).days + 1)]

    @classmethod
    def parse(cls, since: str | None, until: str | None, zone: str, today: date | None = None) -> Period:
        """The period of the ``since`` and ``until`` given (``YYYY-MM-DD``, either may be empty); ReportError
        for a day that is not one, a period that ends before it starts or one longer than ten years."""
        today = today or datetime.now(ZoneInfo(zone)).date()
        last = _day("until", until) or today
        first = _day("since", since) or last - timedelta(days=DEFAULT_DAYS - 1)
        if first > last:
            raise ReportError(f"since ({first}) is after until ({last})")
        if (last - first).days >= MAX_DAYS:
            raise ReportError(f"a report covers at most {MAX_DAYS} days, not {(last - first).days + 1}")
        return cls(first, last, zone)


def _day(name: str, value: str | None) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value.strip()[:10])
    except ValueError:
        raise ReportError(f"{name} must be a day as YYYY-MM-DD, not {value[:40]!r}") from None


def _everyone(host: PluginHost, tenant: str) -> bool:
    return True


Rows = Callable[["PluginHost", str, Period], Iterable[Sequence[Any]]]


@dataclass(frozen=True)
class Report:
    """A report: ``name`` (its URL), ``title`` (Swedish), ``columns``, ``rows(host, tenant, period)`` (one
    tenant's rows, in order), ``about`` (a sentence on what it shows), ``shown(host, tenant)``: whether the
    tenant has it (its rows are still only the tenant's)."""

    name: str
    title: str
    columns: Sequence[Column]
    rows: Rows
    about: str = ""
    shown: Callable[[PluginHost, str], bool] = field(default=_everyone)

    def table(self, host: PluginHost, tenant: str, period: Period, words: Callable[[str], str] = str) -> Table:
        """The report of ``tenant`` over ``period``, rows read as they are written; ``words`` translates the
        title and the column titles (Swedish as they are)."""
        return Table(self.columns, self.rows(host, tenant, period), period.zone, self.title).worded(words)


def zone_of(host: PluginHost, tenant: str) -> str:
    """``tenant``'s time zone."""
    found = host.tenant(tenant)
    return found.timezone if found is not None else "Europe/Stockholm"


def available(host: PluginHost, tenant: str) -> list[Report]:
    """The reports ``tenant`` has, in the order registered."""
    return [r for r in host.reports.values() if r.shown(host, tenant)]


def find(host: PluginHost, tenant: str, name: str) -> Report | None:
    """Report ``name``, if ``tenant`` has it."""
    return next((r for r in available(host, tenant) if r.name == name), None)


def download(table: Table, fmt: str, filename: str) -> Response:
    """``table`` as a file to save, in ``fmt`` (xlsx, csv or json), written while it is sent (an xlsx is
    written to a temporary file first: the format is a zip whose index comes last)."""
    if fmt not in tables.FORMATS:
        raise ReportError(f"format must be one of {', '.join(tables.FORMATS)}, not {fmt[:20]!r}")
    headers = attachment(f"{filename}.{fmt}") | {"Cache-Control": "no-store"}
    if fmt == "xlsx":
        return _XlsxResponse(table, headers)
    chunks = tables.csv_chunks(table) if fmt == "csv" else tables.json_chunks(table)
    return StreamingResponse(iterate_in_threadpool(chunks), media_type=tables.MEDIA_TYPES[fmt], headers=headers)


class _XlsxResponse(StreamingResponse):
    """An xlsx written in a worker thread when the response starts, then streamed from its temporary file."""

    def __init__(self, table: Table, headers: dict[str, str]) -> None:
        self._table = table
        super().__init__(iter(()), media_type=tables.MEDIA_TYPES["xlsx"], headers=headers)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        file, _ = await run_in_threadpool(tables.xlsx_file, self._table)
        self.body_iterator = iterate_in_threadpool(tables.read_chunks(file))
        await super().__call__(scope, receive, send)


def filename(report: Report, period: Period) -> str:
    """A download's name without its extension: ``traffic.hours_2026-11-24_2026-11-30``."""
    return f"{report.name}_{period.first}_{period.last}"


# The core's reports: traffic per hour and per day, per service and channel.

TRAFFIC_COLUMNS = (
    Column("inbound_sms", N_("SMS in"), Kind.INTEGER),
    Column("inbound_calls", N_("Samtal in"), Kind.INTEGER),
    Column("inbound_email", N_("E-post in"), Kind.INTEGER),
    Column("sent", N_("Skickade"), Kind.INTEGER),
    Column("delivered", N_("Levererade"), Kind.INTEGER),
    Column("failed", N_("Misslyckade"), Kind.INTEGER),
)


def traffic_counts(host: PluginHost, tenant: str, period: Period) -> dict[tuple[datetime, str], list[int]]:
    """Per (local hour, service) of ``tenant`` in ``period`` its counts, in ``live.TRAFFIC``'s order."""
    services = sorted(s.key for s in host.services_of(tenant))
    zone = ZoneInfo(period.zone)
    found: dict[tuple[datetime, str], list[int]] = defaultdict(lambda: [0] * len(live.TRAFFIC))
    for service, counts in live.days(host.redis, services, period.utc_days()).items():
        for name, count in counts.items():
            moment, _, metric = name.partition("|")
            if metric not in live.TRAFFIC:
                continue
            hour = datetime.fromisoformat(f"{moment}:00:00+00:00").astimezone(zone)
            if hour in period:
                found[(hour, service)][live.TRAFFIC.index(metric)] += count
    return found


def _hours(host: PluginHost, tenant: str, period: Period) -> Iterator[Sequence[Any]]:
    counts = traffic_counts(host, tenant, period)
    for hour, service in sorted(counts):
        yield (hour, service, *counts[(hour, service)])


def _days(host: PluginHost, tenant: str, period: Period) -> Iterator[Sequence[Any]]:
    days: dict[tuple[date, str], list[int]] = defaultdict(lambda: [0] * len(live.TRAFFIC))
    for (hour, service), counts in traffic_counts(host, tenant, period).items():
        total = days[(hour.date(), service)]
        for n, count in enumerate(counts):
            total[n] += count
    for day, service in sorted(days):
        yield (day, service, *days[(day, service)])


SERVICE = Column("service", N_("Tjänst"), Kind.TEXT, 24)
CORE_REPORTS = (
    Report(
        "traffic.hours",
        N_("Trafik per timme"),
        (Column("hour", N_("Timme"), Kind.DATETIME), SERVICE, *TRAFFIC_COLUMNS),
        _hours,
        N_("Meddelanden och samtal in, svar skickade, levererade och misslyckade, per timme och tjänst."),
    ),
    Report(
        "traffic.days",
        N_("Trafik per dag"),
        (Column("day", N_("Dag"), Kind.DATE), SERVICE, *TRAFFIC_COLUMNS),
        _days,
        N_("Samma som trafik per timme, summerat per dag och tjänst."),
    ),
)


async def _api_list(request: Request, host: PluginHost, tenant: str) -> Any:
    return {
        "reports": [
            {
                "name": r.name,
                "title": r.title,
                "about": r.about,
                "columns": [{"key": c.key, "title": c.title, "kind": c.kind.value} for c in r.columns],
            }
            for r in available(host, tenant)
        ]
    }


async def _api_report(request: Request, host: PluginHost, tenant: str) -> Any:
    report = find(host, tenant, request.path_params["name"])
    if report is None:
        return Response('{"error": "no such report"}', 404, media_type="application/json")
    params = request.query_params
    period = Period.parse(params.get("since"), params.get("until"), zone_of(host, tenant))
    fmt = params.get("format", "json")
    return download(report.table(host, tenant, period), fmt, filename(report, period))


def routes() -> list[BaseRoute]:
    """The reports' API routes."""
    return [
        Route("/api/reports", tenant_endpoint(_api_list)),
        Route("/api/reports/{name}", tenant_endpoint(_api_report)),
    ]

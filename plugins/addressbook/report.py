"""The report ``addressbook.members``: per list and day, how many joined, how many left, and how many members
the list had at the end of the day (in the tenant's time).

A list keeps who is a member, waiting or unsubscribed now, and each person's consent records: every join,
approval, manual add, leave and removal, with its time. The report replays the records of everyone on the
list now (members, pending joiners and those who unsubscribed): a join, approval or add makes someone a
member, a leave (STOPP or the leave link) or an administrator's removal ends it. A member whose records do not
say when they joined counts as one from before the period. Someone an administrator removed is on none of
the three any more, so their records are not read: on the days before a removal the members are one fewer
than they were, and the removal is not a leave. Everyone's records are read once per report, a thousand
people at a time.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator, Sequence
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from kodeord.web.console.i18n import N_
from kodeord.web.reports import Period, Report
from kodeord.web.tables import Column, Kind

from . import store
from .admin import ListAdmin

if TYPE_CHECKING:
    from kodeord.platform import PluginHost

BATCH = 1000
COLUMNS = (
    Column("day", N_("Dag"), Kind.DATE),
    Column("list", N_("Adressbok"), Kind.TEXT, 24),
    Column("joined", N_("Gick med"), Kind.INTEGER),
    Column("left", N_("Gick ur"), Kind.INTEGER),
    Column("members", N_("Medlemmar vid dagens slut"), Kind.INTEGER),
)


def _people(admin: ListAdmin, list_id: str) -> Iterator[tuple[list[str], list[bool]]]:
    """Everyone on the list now, a batch at a time: their ids and whether each is a member."""
    lk = admin.keys(list_id)
    for state in store.STATES:
        after = ""
        while True:
            ids = store.page(admin.redis, lk, state, after, BATCH)
            if ids:
                yield ids, [state == "members"] * len(ids)
            if len(ids) < BATCH:
                break
            after = store.next_cursor(state, after, ids)


def changes(admin: ListAdmin, list_id: str, period: Period) -> tuple[int, Counter[date], Counter[date]]:
    """Members at the start of ``period``, and the joins and the leaves of each of its days."""
    lk, zone = admin.keys(list_id), ZoneInfo(period.zone)
    before, joins, leaves = 0, Counter[date](), Counter[date]()
    for ids, members in _people(admin, list_id):
        pipe = admin.redis.pipeline(transaction=False)
        for person in ids:
            pipe.lrange(lk.consent(person), 0, -1)
        for raw, member_now in zip(pipe.execute(), members, strict=True):
            member, at_start = False, None
            for record in (json.loads(r) for r in raw):
                try:
                    at = datetime.fromisoformat(record["at"])
                except (KeyError, TypeError, ValueError):
                    continue
                if at >= period.until:
                    break
                event = record.get("event")
                if event in store.JOIN_EVENTS and not member:
                    member = True
                    if at >= period.since:
                        joins[at.astimezone(zone).date()] += 1
                elif event in store.LEAVE_EVENTS and member:
                    member = False
                    if at >= period.since:
                        leaves[at.astimezone(zone).date()] += 1
                if at < period.since:
                    at_start = member
            if at_start is None:  # nothing before the period: not a member then, unless nothing says they joined
                at_start = member_now and not member and not _any_join(raw)
            before += at_start
    return before, joins, leaves


def _any_join(raw: Sequence[bytes]) -> bool:
    return any(json.loads(r).get("event") in store.JOIN_EVENTS for r in raw)


def rows(host: PluginHost, tenant: str, period: Period) -> Iterator[Sequence[Any]]:
    """Per list of ``tenant`` and day of ``period``: the day, the list, joins, leaves, members at the day's end."""
    admin = ListAdmin(host, tenant, by="report")
    for list_id in admin.ids():
        count, joins, leaves = changes(admin, list_id, period)
        day = period.first
        while day <= period.last:
            count += joins[day] - leaves[day]
            yield day, list_id, joins[day], leaves[day], count
            day += timedelta(days=1)


def _has_lists(host: PluginHost, tenant: str) -> bool:
    return bool(ListAdmin(host, tenant, by="report").ids())


REPORT = Report(
    "addressbook.members",
    N_("Adressböckernas medlemmar"),
    COLUMNS,
    rows,
    N_("Per adressbok och dag: hur många som gick med och gick ur, och hur många medlemmar den hade vid dagens slut."),
    _has_lists,
)

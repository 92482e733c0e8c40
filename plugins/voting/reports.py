"""The voting reports: poll results over a period and the record of every winner draw, with its proof.

- ``voting.results``: per poll and option, the votes counted in the period, added up from the poll's counts
  per minute (the live graph's); SMS and calls are the poll's counts by channel, which are kept for the whole
  poll, so they are given only when every counted vote of the poll falls in the period.
- ``voting.draws``: one row per winner of every draw made in the period, with what anyone needs to check the
  draw against its entry list (see :mod:`.draw`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from kodeord.web.console.i18n import N_
from kodeord.web.reports import Period, Report
from kodeord.web.tables import Column, Kind

from . import competition, draw, store
from .admin import all_polls, has_competitions, has_polls, services

if TYPE_CHECKING:
    from kodeord.platform import PluginHost


def results(host: PluginHost, tenant: str, period: Period) -> Iterator[Sequence[Any]]:
    """Each poll with votes in ``period``: a row per option (every option, those without votes too)."""
    for poll in all_polls(host, tenant).values():
        found = store.tally(host.redis, poll)
        inside: dict[str, int] = {}
        whole = True  # every counted vote of the poll is in the period
        for minute, votes in found.minutes.items():
            if datetime.fromtimestamp(minute * 60, UTC) in period:
                for code, count in votes.items():
                    inside[code] = inside.get(code, 0) + count
            else:
                whole = False
        if not inside:
            continue
        for option in poll.options:
            sms, calls = found.by_channel(option.code) if whole else (None, None)
            yield (poll.title, poll.service, option.code, option.name, inside.get(option.code, 0), sms, calls)


def draws(host: PluginHost, tenant: str, period: Period) -> Iterator[Sequence[Any]]:
    """A row per winner of each draw made in ``period``, oldest draw first."""
    for competition_id in services(host, tenant, competition.ACTION):
        found = competition.find(host, tenant, competition_id)
        for record in draw.draws(host.redis, found):
            at = datetime.fromisoformat(record["at"])
            if at not in period:
                continue
            for winner, place in zip(record["winners"], record["places"], strict=True):
                yield (
                    found.title,
                    found.service,
                    record["draw"],
                    at,
                    record["by"],
                    record["key"] or "",
                    record["eligible"],
                    record["sha256"],
                    place,
                    winner,
                )


RESULTS = Report(
    "voting.results",
    N_("Omröstningar: resultat"),
    (
        Column("poll", N_("Omröstning"), Kind.TEXT, 28),
        Column("service", N_("Tjänst"), Kind.TEXT, 24),
        Column("code", N_("Kod"), Kind.TEXT, 8),
        Column("option", N_("Alternativ"), Kind.TEXT, 28),
        Column("votes", N_("Röster"), Kind.INTEGER),
        Column("sms", N_("Varav sms"), Kind.INTEGER),
        Column("calls", N_("Varav samtal"), Kind.INTEGER),
    ),
    results,
    N_(
        "Röster per omröstning och alternativ under perioden. Sms och samtal visas när hela omröstningen ligger "
        "inom perioden."
    ),
    has_polls,
)

DRAWS = Report(
    "voting.draws",
    N_("Tävlingar: vinnardragningar"),
    (
        Column("competition", N_("Tävling"), Kind.TEXT, 28),
        Column("service", N_("Tjänst"), Kind.TEXT, 24),
        Column("draw", N_("Dragning"), Kind.INTEGER),
        Column("at", N_("Tid"), Kind.DATETIME),
        Column("by", N_("Dragen av"), Kind.TEXT, 28),
        Column("key", N_("Rätt svar"), Kind.TEXT, 12),
        Column("eligible", N_("Deltagare i dragningen"), Kind.INTEGER),
        Column("sha256", N_("SHA-256 för deltagarlistan"), Kind.TEXT, 66),
        Column("place", N_("Plats i listan"), Kind.INTEGER),
        Column("winner", N_("Vinnare"), Kind.PHONE),
    ),
    draws,
    N_(
        "Varje vinnare i dragningar under perioden, med beviset: antal deltagare, deltagarlistans SHA-256 och "
        "vinnarens plats i listan."
    ),
    has_competitions,
)

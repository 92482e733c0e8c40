"""The NIX reports, which every tenant has (any tenant may check numbers and wash lists):

- ``nix.history``: every check, wash and dialer batch in the period, the proof that a list was washed
  (:mod:`.history`): who, when, the file's name, size and SHA-256, the counts, the register version used;
- ``nix.usage``: per month the period touches, the numbers checked, the price of one (the ``nix_price_ore``
  setting, in öre) and the cost in kronor (:mod:`.usage`).

The command (``kodeord nix history``, ``kodeord nix usage``) and the API write the same tables.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from kodeord.web.console.i18n import N_
from kodeord.web.reports import Period, Report
from kodeord.web.tables import Column, Kind

from .history import Entry, entries
from .usage import Month, monthly

if TYPE_CHECKING:
    from kodeord.platform import PluginHost

HISTORY_COLUMNS = (
    Column("at", N_("Tid"), Kind.DATETIME),
    Column("kind", N_("Slag"), Kind.TEXT, 8),
    Column("by", N_("Av"), Kind.TEXT, 28),
    Column("file", N_("Fil"), Kind.TEXT, 28),
    Column("size", N_("Storlek (byte)"), Kind.INTEGER),
    Column("sha256", "SHA-256", Kind.TEXT, 66),
    Column("rows", N_("Rader"), Kind.INTEGER),
    Column("registered", N_("Registrerade"), Kind.INTEGER),
    Column("clear", N_("Fria"), Kind.INTEGER),
    Column("invalid", N_("Ogiltiga"), Kind.INTEGER),
    Column("business", N_("Företag"), Kind.INTEGER),
    Column("register", N_("Register"), Kind.TEXT, 10),
    Column("version", N_("Version"), Kind.DATE),
    Column("mode", N_("Tvättläge"), Kind.TEXT, 10),
    Column("column", N_("Kolumn"), Kind.TEXT, 16),
)
USAGE_COLUMNS = (
    Column("month", N_("Månad"), Kind.TEXT, 10),
    Column("checked", N_("Kontrollerade nummer"), Kind.INTEGER, 22),
    Column("price_ore", N_("Pris per nummer (öre)"), Kind.INTEGER, 22),
    Column("cost_sek", N_("Kostnad (kr)"), Kind.DECIMAL, 14),
)


def history_rows(found: Iterable[Entry]) -> Iterator[Sequence[Any]]:
    """The entries as rows of :data:`HISTORY_COLUMNS`."""
    for e in found:
        size = e.size if e.file else None
        counts = (e.rows, e.registered, e.clear, e.invalid, e.business)
        yield (e.at, e.kind, e.by, e.file, size, e.sha256, *counts, e.register, e.version, e.mode, e.column)


def usage_rows(months: Iterable[Month]) -> Iterator[Sequence[Any]]:
    """The months as rows of :data:`USAGE_COLUMNS`."""
    for month in months:
        yield month.month, month.checked, month.price_ore, month.cost


def _history(host: PluginHost, tenant: str, period: Period) -> Iterator[Sequence[Any]]:
    return history_rows(entries(host, tenant, period.since, period.until))


def _usage(host: PluginHost, tenant: str, period: Period) -> Iterator[Sequence[Any]]:
    return usage_rows(monthly(host, tenant, period.first.strftime("%Y-%m"), period.last.strftime("%Y-%m")))


HISTORY = Report(
    "nix.history",
    N_("NIX: kontroller och tvättade listor"),
    HISTORY_COLUMNS,
    _history,
    N_(
        "Varje kontroll och tvätt mot NIX-registret: vem, när, filens namn och SHA-256, antalen och "
        "registerversionen. Beviset på att en lista är tvättad."
    ),
)
USAGE = Report(
    "nix.usage",
    N_("NIX: förbrukning per månad"),
    USAGE_COLUMNS,
    _usage,
    N_("Kontrollerade nummer per månad som perioden berör, priset per nummer och kostnaden."),
)

"""The history of a tenant's checks and washes, kept as proof that a number or a list was checked (NIX-5).

Every wash, every single-check request and every dialer batch adds one :class:`Entry`: who (a console user's
email address, ``key:<name>`` for an API key, ``cli``), when, what kind, the file's name, size and SHA-256 (for
a wash), the rows counted by what they were found to be, the register and the version used, and the wash's
mode. Never a number of the list: the counts are the proof, the SHA-256 ties them to the file.

One Redis stream per tenant, ``kodeord:{t:<tenant>}:nix:history``: entries in the order they were made, each
found by its time (the stream id is the moment Redis added it, in milliseconds), so a report's period is one
``XRANGE``. The stream is capped at ``MAX_ENTRIES`` (approximately, as Redis trims whole nodes): far more
than a year of a busy tenant's washes and check requests; beyond that the oldest go first. Download the
history (CSV, xlsx) to keep it longer.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, fields
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

from kodeord.commit.keys import Keys

from .result import Result, Status

if TYPE_CHECKING:
    from kodeord.platform import PluginHost

PLUGIN = "nix"
MAX_ENTRIES = 500_000  # per tenant
KINDS = ("check", "wash", "dial")
READ_BATCH = 1000  # entries read from the stream at a time
CLOCK_MARGIN_MS = 3_600_000
_COUNTS = ("size", "rows", "registered", "clear", "invalid", "business")


def history_key(tenant: str) -> str:
    """The stream of ``tenant``'s entries: ``kodeord:{t:<tenant>}:nix:history``."""
    return Keys(f"t:{tenant}", PLUGIN).key_for("history")


@dataclass(frozen=True)
class Entry:
    """One check, wash or dialer batch: what a customer shows an inspector. ``file``, ``sha256`` and ``size``
    are a wash's (empty and 0 for a check); ``version`` is the date of the register version used (the oldest,
    if an import switched versions during a wash); ``mode`` is a wash's (``remove`` or ``mark``)."""

    tenant: str
    by: str
    at: datetime
    kind: str
    register: str
    version: date | None
    file: str = ""
    sha256: str = ""
    size: int = 0
    rows: int = 0
    registered: int = 0
    clear: int = 0
    invalid: int = 0
    business: int = 0
    mode: str = ""
    column: str = ""

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"kind {self.kind!r}: one of {', '.join(KINDS)}")

    @property
    def checked(self) -> int:
        """The numbers sent to the register (business rows are not)."""
        return self.registered + self.clear + self.invalid

    def encode(self) -> dict[str, str]:
        """The stream entry's fields."""
        data = asdict(self)
        data["at"] = self.at.astimezone(UTC).isoformat()
        data["version"] = self.version.isoformat() if self.version is not None else ""
        return {name: str(value) for name, value in data.items()}

    @classmethod
    def decode(cls, raw: dict[Any, Any]) -> Entry:
        """The entry stored as ``raw`` (a stream entry's fields, as bytes)."""
        data = {_text(k): _text(v) for k, v in raw.items()}
        known = {f.name for f in fields(cls)}
        values: dict[str, Any] = {name: value for name, value in data.items() if name in known}
        values["at"] = datetime.fromisoformat(values["at"])
        values["version"] = date.fromisoformat(values["version"]) if values.get("version") else None
        for name in _COUNTS:
            values[name] = int(values.get(name) or 0)
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        """The entry as JSON-ready data."""
        data = asdict(self)
        data["at"] = self.at.isoformat()
        data["version"] = self.version.isoformat() if self.version is not None else None
        data["checked"] = self.checked
        return data


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def record(host: PluginHost, entry: Entry) -> str:
    """Add ``entry`` to its tenant's history; its stream id."""
    found = host.redis.xadd(history_key(entry.tenant), entry.encode(), maxlen=MAX_ENTRIES, approximate=True)
    return _text(found)


def entries(
    host: PluginHost, tenant: str, since: datetime | None = None, until: datetime | None = None
) -> Iterator[Entry]:
    """``tenant``'s entries from ``since`` (included) to ``until`` (excluded), oldest first; all when None."""
    # The stream's ids are Redis' clock, the entries' times the writer's: read a margin wide, keep by ``at``.
    low = f"{int(since.timestamp() * 1000) - CLOCK_MARGIN_MS}-0" if since is not None else "-"
    high = f"{int(until.timestamp() * 1000) + CLOCK_MARGIN_MS}-0" if until is not None else "+"
    key = history_key(tenant)
    while True:
        found = host.redis.xrange(key, low, high, count=READ_BATCH)
        for _, raw in found:
            entry = Entry.decode(raw)
            if (since is None or entry.at >= since) and (until is None or entry.at < until):
                yield entry
        if len(found) < READ_BATCH:
            return
        low = "(" + _text(found[-1][0])


def record_checks(
    host: PluginHost, tenant: str, by: str, register: str, results: Sequence[Result], kind: str = "check"
) -> Entry:
    """Record one request's checks (``results``, all of one register): one entry with their counts."""
    counted = Counter(result.status for result in results)
    versions = [result.version for result in results]
    entry = Entry(
        tenant=tenant,
        by=by,
        at=datetime.now(UTC),
        kind=kind,
        register=register,
        version=min(versions) if versions else None,
        rows=len(results),
        registered=counted[Status.REGISTERED],
        clear=counted[Status.CLEAR],
        invalid=counted[Status.INVALID],
    )
    record(host, entry)
    return entry

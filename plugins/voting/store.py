"""Where a poll keeps its counts in Redis, and reading them back as a result.

Every key is in the poll's service scope (one hash tag), so a vote's counts, its caps and its reply are
committed together:

- ``counts``: hash, ``code:sms`` / ``code:call`` -> votes for the option by that channel (an option's votes
  are their sum); ``:studio`` -> calls connected to the studio;
- ``minutes``: hash, ``<minute>:<code>`` -> votes in that minute (minutes since the epoch, UTC), for the
  live graph;
- ``voters``: hash, number -> votes counted (the ``max_votes`` cap);
- ``voter-options``: hash, ``number|code`` -> votes counted (the ``max_per_option`` cap);
- ``closed``: set once the poll is closed (by hand, or on the first reading after its closing time): when
  (ms) and who; from then on no vote can count, so the result is frozen. A close by hand can be undone
  (:func:`reopen`) while the poll's closing time has not come;
- ``callers:<minute>``: sorted set of numbers that called in that minute, scored by the time in ms (for the
  hot button; expires after two hours);
- ``rate:<minute>:number`` and ``rate:<minute>:prefix``: sorted sets, number or prefix -> votes in that
  minute (burst alerts, see :mod:`.burst`);
- ``alerts``: stream of burst alerts; ``hot-button``: stream of hot-button picks.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property, lru_cache
from typing import TYPE_CHECKING, Any

import redis

from kodeord.commit.effects import Effects, Guard, Write
from kodeord.commit.keys import Keys

from .poll import Poll, PollError

if TYPE_CHECKING:
    from kodeord.platform import PluginHost

PLUGIN = "voting"
CALLERS_TTL_S = 7200  # the hot button looks back at most an hour
RATE_TTL_S = 180
SCHEDULE = "schedule"  # who closed a poll that closed at its closing time


@dataclass(frozen=True)
class PollKeys:
    """Key names of one poll (its service scope, the plugin's sub-prefix)."""

    service: str  # tenant/service

    @property
    def base(self) -> Keys:
        """The poll's own key prefix."""
        return Keys.for_service(self.service).plugin(PLUGIN)

    def key(self, *parts: str) -> str:
        """A key of this poll."""
        return self.base.key_for(*parts)

    @cached_property
    def counts(self) -> str:
        """Votes per option and per option and channel."""
        return self.key("counts")

    @cached_property
    def minutes(self) -> str:
        """Votes per minute and option."""
        return self.key("minutes")

    @cached_property
    def voters(self) -> str:
        """Votes counted per number."""
        return self.key("voters")

    @cached_property
    def voter_options(self) -> str:
        """Votes counted per number and option."""
        return self.key("voter-options")

    @cached_property
    def closed(self) -> str:
        """The closing mark: its value is when (ms), and who closed."""
        return self.key("closed")

    def callers(self, minute: int) -> str:
        """Numbers that called in ``minute``."""
        return self.key("callers", str(minute))

    def rate(self, minute: int, kind: str) -> str:
        """Votes per number (``kind`` number) or per prefix (``kind`` prefix) in ``minute``."""
        return self.key("rate", str(minute), kind)

    @cached_property
    def alerts(self) -> str:
        """Burst alerts raised on this poll."""
        return self.key("alerts")

    @cached_property
    def hot_button(self) -> str:
        """The hot button's picks."""
        return self.key("hot-button")


@lru_cache(maxsize=4096)
def keys_of(service: str) -> PollKeys:
    """The (shared) key names of poll ``service``; each name is worked out once."""
    return PollKeys(service)


def minute_of(moment: datetime) -> int:
    """Minutes since the epoch (UTC) of ``moment``."""
    return int(moment.timestamp() // 60)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def close(platform: PluginHost, poll: Poll, by: str, now: datetime | None = None) -> bool:
    """Close ``poll`` now (by hand); return False if it was closed already. No vote counts after this.

    The mark is set through the core's commit, guarded so that an earlier mark (and who set it) is kept."""
    now = now or datetime.now(UTC)
    keys = PollKeys(poll.service)
    effects = Effects(
        writes=[Write("SET", keys.closed, (f"{int(now.timestamp() * 1000)} {by}",))],
        guards=[Guard.unset("closed", keys.closed, Effects())],
    )
    outcome = platform.apply(Keys.for_service(poll.service), effects, f"poll-close:{time.time_ns()}", by)
    return outcome.guard is None


def reopen(platform: PluginHost, poll: Poll, by: str, now: datetime | None = None) -> bool:
    """Open ``poll`` again after a close by hand: votes count from now on. False if it was not closed;
    PollError (409) once its closing time has passed, since the clock closes it whatever the mark says."""
    now = now or datetime.now(UTC)
    if poll.state(now) == "closed":
        raise PollError("the poll's closing time has passed; change closes: in the rule file to open it again", 409)
    mark = closed_mark(platform.redis, poll, now)
    if mark is None:
        return False
    effects = Effects(writes=[Write("DEL", PollKeys(poll.service).closed)])
    platform.apply(Keys.for_service(poll.service), effects, f"poll-open:{time.time_ns()}", by)
    return True


@dataclass(frozen=True)
class ClosedMark:
    """When a poll closed, and who closed it (``schedule`` at its closing time)."""

    at: datetime
    by: str


def closed_mark(client: redis.Redis, poll: Poll, now: datetime | None = None) -> ClosedMark | None:
    """The poll's closing mark, or None while it is open. Past its closing time, the mark is set here first."""
    keys = PollKeys(poll.service)
    now = now or datetime.now(UTC)
    if poll.closes is not None and now >= poll.closes:
        client.set(keys.closed, f"{int(poll.closes.timestamp() * 1000)} {SCHEDULE}", nx=True)
    mark = client.get(keys.closed)
    if mark is None:
        return None
    ms, _, by = _text(mark).partition(" ")
    return ClosedMark(datetime.fromtimestamp(int(ms) / 1000, UTC), by)


def closed_at(client: redis.Redis, poll: Poll, now: datetime | None = None) -> datetime | None:
    """When the poll closed, or None while it is open (see :func:`closed_mark`)."""
    mark = closed_mark(client, poll, now)
    return mark.at if mark is not None else None


@dataclass(frozen=True)
class Tally:
    """A poll's counts as stored: ``counts`` (``code:channel`` -> votes) and ``minutes`` (minute since the
    epoch -> code -> votes)."""

    counts: dict[str, int]
    minutes: dict[int, dict[str, int]]

    def by_channel(self, code: str) -> tuple[int, int]:
        """Votes for option ``code`` by SMS and by call."""
        return self.counts.get(f"{code}:sms", 0), self.counts.get(f"{code}:call", 0)


def tally(client: redis.Redis, poll: Poll) -> Tally:
    """The poll's counts, read in one step so they agree with each other."""
    keys = PollKeys(poll.service)
    pipe = client.pipeline(transaction=True)
    pipe.hgetall(keys.counts)
    pipe.hgetall(keys.minutes)
    counts_raw, minutes_raw = pipe.execute()
    per_minute: dict[int, dict[str, int]] = {}
    for field, value in minutes_raw.items():
        minute, _, code = _text(field).partition(":")
        per_minute.setdefault(int(minute), {})[code] = int(value)
    return Tally({_text(k): int(v) for k, v in counts_raw.items()}, per_minute)


def result(client: redis.Redis, poll: Poll, now: datetime | None = None) -> dict[str, Any]:
    """The poll's votes per option (with channels), per minute, and its state.

    A closed poll's result is frozen: the closing mark is set before the counts are read, and a vote
    commits only while the mark is absent.
    """
    now = now or datetime.now(UTC)
    mark = closed_mark(client, poll, now)
    found = tally(client, poll)
    options = []
    for o in poll.options:
        sms, calls = found.by_channel(o.code)
        options.append({"code": o.code, "name": o.name, "votes": sms + calls, "sms": sms, "calls": calls})
    state = "closed" if mark is not None else poll.state(now)
    return {
        "poll": poll.service.split("/", 1)[1],
        "title": poll.title,
        "state": state,
        "opens": poll.opens.isoformat() if poll.opens else None,
        "closes": poll.closes.isoformat() if poll.closes else None,
        "closed_at": mark.at.isoformat() if mark else None,
        "closed_by": mark.by if mark else None,
        "total": sum(o["votes"] for o in options),
        "options": options,
        "minutes": [
            {"minute": datetime.fromtimestamp(m * 60, UTC).isoformat(), "votes": found.minutes[m]}
            for m in sorted(found.minutes)
        ],
    }


def recent(client: redis.Redis, poll: Poll, rows: str, limit: int = 100) -> list[dict[str, Any]]:
    """The newest entries (newest first) of one of the poll's logs: ``alerts`` or ``hot_button``."""
    stream = getattr(PollKeys(poll.service), rows)
    entries: Any = client.xrevrange(stream, count=limit)
    return [json.loads(fields[b"e"]) for _, fields in entries]


def now_ms() -> int:
    """The clock in ms (a function, so the hot button's window is easy to read)."""
    return int(time.time() * 1000)

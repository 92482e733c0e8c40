"""Winner draws (MA-4, MA-6): uniform, from a cryptographic random source, never the same person twice, and
verifiable afterwards.

A draw takes the competition's entries with the right answer, leaves out earlier winners, sorts the
numbers, and keeps that exact list as text (one number per line) next to the draw's record. The record
holds the time, who drew, the key, the number of eligible entries, the SHA-256 of the list and the
winners with their places in it. Anyone given the list can check its hash against the record and see
that each winner is on it; the list is kept as long as the competition's data.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import redis

from .competition import Competition, CompetitionKeys
from .poll import PollError

MAX_WINNERS = 100


def entry_list(numbers: Sequence[str]) -> bytes:
    """The list a draw is made from, as the exact bytes its hash covers: sorted numbers, one per line."""
    return "".join(f"{number}\n" for number in sorted(numbers)).encode()


def pick(count: int, among: int) -> list[int]:
    """``count`` distinct places out of ``among``, each uniformly at random (``secrets``), in drawing order."""
    remaining = list(range(among))
    return [remaining.pop(secrets.randbelow(len(remaining))) for _ in range(count)]


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def eligible(competition: Competition, entries: dict[Any, Any], earlier: set[str]) -> list[str]:
    """The numbers a draw is made among, sorted: entries with the right answer, earlier winners left out."""
    return sorted(
        number
        for number, value in ((_text(k), _text(v)) for k, v in entries.items())
        if number not in earlier and competition.correct(value.split(" ", 1)[1])
    )


def summary(client: redis.Redis, competition: Competition) -> dict[str, Any]:
    """Entries, right answers, winners, entries a draw now would be made among, and the number of draws."""
    keys = CompetitionKeys(competition.service)
    entries = client.hgetall(keys.key("entries"))
    correct = sum(competition.correct(_text(v).split(" ", 1)[1]) for v in entries.values())
    winners = {_text(w) for w in client.smembers(keys.key("winners"))}
    return {
        "competition": competition.service.split("/", 1)[1],
        "title": competition.title,
        "key": competition.key,
        "entries": len(entries),
        "correct": correct,
        "eligible": len(eligible(competition, entries, winners)),
        "winners": sorted(winners),
        "draws": client.xlen(keys.key("draws")),
    }


def draw(client: redis.Redis, competition: Competition, winners: int, by: str) -> dict[str, Any]:
    """Draw ``winners`` among the eligible entries; store and return the record."""
    if not 1 <= winners <= MAX_WINNERS:
        raise PollError(f"winners must be from 1 to {MAX_WINNERS}, got {winners}")
    keys = CompetitionKeys(competition.service)
    with client.pipeline(transaction=True) as pipe:
        while True:
            try:
                pipe.watch(keys.key("winners"), keys.key("draws"))
                entries = pipe.hgetall(keys.key("entries"))
                earlier = {_text(w) for w in pipe.smembers(keys.key("winners"))}
                n = pipe.xlen(keys.key("draws")) + 1
                among = eligible(competition, entries, earlier)
                if len(among) < winners:
                    raise PollError(f"{len(among)} eligible entries, too few to draw {winners} winner(s)", 409)
                listing = entry_list(among)
                places = pick(winners, len(among))
                chosen = [among[p] for p in places]
                record = {
                    "draw": n,
                    "at": datetime.now(UTC).isoformat(),
                    "by": by,
                    "key": competition.key,
                    "eligible": len(among),
                    "sha256": hashlib.sha256(listing).hexdigest(),
                    "winners": chosen,
                    "places": [p + 1 for p in places],
                }
                pipe.multi()
                pipe.set(keys.key("draw", str(n)), listing)
                pipe.sadd(keys.key("winners"), *chosen)
                pipe.xadd(keys.key("draws"), {"e": json.dumps(record)})
                pipe.execute()
                return record
            except redis.WatchError:
                continue  # another draw happened at the same moment: draw again from the new state


def draws(client: redis.Redis, competition: Competition) -> list[dict[str, Any]]:
    """Every draw's record, oldest first."""
    found: Any = client.xrange(CompetitionKeys(competition.service).key("draws"))
    return [json.loads(fields[b"e"]) for _, fields in found]


def listing(client: redis.Redis, competition: Competition, n: int) -> bytes:
    """The entry list draw ``n`` was made from (the bytes its ``sha256`` covers); 404 if there is no such draw."""
    found = client.get(CompetitionKeys(competition.service).key("draw", str(n)))
    if found is None:
        raise PollError(f"no draw {n} in {competition.service.split('/', 1)[1]!r}", 404)
    return bytes(found) if not isinstance(found, str) else found.encode()

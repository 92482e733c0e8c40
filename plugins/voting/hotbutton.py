"""The hot button (MA-6): connect a caller, picked at random among recent callers, to the studio.

Callers are kept per minute for two hours. A press picks uniformly, from a cryptographic random source,
among the numbers that called the poll in the last ``seconds`` and have not been picked before, calls the
one picked through the voice gateway's outbound call API and connects them to the studio. Every press is
logged in the poll's ``hot-button`` stream: when, who pressed, the window, how many callers were eligible,
the number picked and the gateway's call id (or why the call failed).
"""

from __future__ import annotations

import json
import secrets
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from kodeord.outbound.gateway import Caller, CallFailed

from .poll import Poll, PollError
from .store import PollKeys, now_ms

if TYPE_CHECKING:
    from kodeord.platform import PluginHost

MAX_SECONDS = 3600
LOG_MAXLEN = 10_000


def eligible(platform: PluginHost, poll: Poll, seconds: int, now: int | None = None) -> list[str]:
    """Numbers that called in the last ``seconds`` and were never picked, sorted."""
    if not 1 <= seconds <= MAX_SECONDS:
        raise PollError(f"seconds must be from 1 to {MAX_SECONDS}, got {seconds}")
    now = now_ms() if now is None else now
    since = now - seconds * 1000
    keys = PollKeys(poll.service)
    pipe = platform.redis.pipeline(transaction=False)
    for minute in range(since // 60_000, now // 60_000 + 1):
        pipe.zrangebyscore(keys.callers(minute), since, now)
    pipe.smembers(keys.key("picked"))
    *found, picked = pipe.execute()
    callers = {n.decode() for batch in found for n in batch}
    return sorted(callers - {p.decode() for p in picked})


def voice_gateway(platform: PluginHost, poll: Poll) -> Caller:
    """The gateway that places the poll's calls: ``voice_gateway``, or the only one able to."""
    able = {gid: g for gid, g in platform.gateways.items() if isinstance(g, Caller)}
    if poll.voice_gateway:
        gateway = able.get(poll.voice_gateway)
        if gateway is None:
            raise PollError(f"gateway {poll.voice_gateway!r} cannot place calls (or is not configured)", 409)
        return gateway
    if len(able) != 1:
        names = ", ".join(sorted(able)) or "none"
        raise PollError(f"set voice_gateway: on the poll; gateways that can place calls: {names}", 409)
    return next(iter(able.values()))


def line(platform: PluginHost, poll: Poll) -> tuple[str, Caller]:
    """The number hot-button calls come from and the gateway that places them; PollError (409) when the rule
    files leave the poll without a studio, a number to call from or a gateway able to call."""
    if not poll.studio:
        raise PollError("the poll has no studio number to connect callers to", 409)
    service = platform.service(poll.service)
    voice_numbers = list(service.calls) if service is not None else []
    caller_id = poll.caller_id or (voice_numbers[0] if voice_numbers else None)
    if not caller_id:
        raise PollError("the poll has no caller_id and no voice number to call from", 409)
    return caller_id, voice_gateway(platform, poll)


def press(platform: PluginHost, poll: Poll, seconds: int, by: str) -> dict[str, Any]:
    """Pick a recent caller, connect them to the studio, log the pick; return the log record."""
    caller_id, gateway = line(platform, poll)
    keys = PollKeys(poll.service)
    now = now_ms()
    while True:
        candidates = eligible(platform, poll, seconds, now)
        record: dict[str, Any] = {
            "at": datetime.fromtimestamp(now / 1000, UTC).isoformat(),
            "by": by,
            "seconds": seconds,
            "eligible": len(candidates),
            "picked": None,
            "studio": poll.studio,
            "gateway": gateway.id,
        }
        if not candidates:
            break
        picked = candidates[secrets.randbelow(len(candidates))]
        if platform.redis.sadd(keys.key("picked"), picked):  # claimed: a press at the same moment picks another
            record["picked"] = picked
            break
    if record["picked"] is not None:
        try:
            record["call_id"] = gateway.place_call(caller_id, record["picked"], {"connect": poll.studio})
        except CallFailed as exc:
            record["error"] = str(exc)
            platform.redis.srem(keys.key("picked"), record["picked"])  # not reached: still eligible
    platform.redis.xadd(keys.hot_button, {"e": json.dumps(record)}, maxlen=LOG_MAXLEN, approximate=True)
    if record["picked"] is None:
        raise PollError(f"nobody called in the last {seconds} s who has not been picked already", 404)
    if "error" in record:
        raise CallFailed(f"picked {record['picked']}, but the call failed: {record['error']}")
    return record

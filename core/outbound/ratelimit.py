"""Per-gateway throughput limits shared by every sender worker, kept in Redis.

A fixed one-second window per gateway: a sender asks for ``n`` messages and is granted what is left of
this second's allowance; it waits for the next second for the rest.
"""

from __future__ import annotations

import time

import redis

from kodeord.commit.keys import platform_key
from kodeord.support.luascript import LuaScript

_TAKE = LuaScript(__package__, "takeAllowance-1.lua")


class RateLimiter:
    """Grants message allowances per gateway per second."""

    def __init__(self, client: redis.Redis) -> None:
        self.redis = client

    def take(self, gateway: str, wanted: int, per_second: float, now: float | None = None) -> int:
        """How many of ``wanted`` messages may go now (0 to ``wanted``); ``per_second`` 0 means no limit."""
        if per_second <= 0 or wanted <= 0:
            return wanted
        second = int(time.time() if now is None else now)
        return int(_TAKE(self.redis, [platform_key("rate", gateway, str(second))], [wanted, int(per_second)]))

    def wait(self, gateway: str, wanted: int, per_second: float) -> int:
        """Block until at least one message may go; return how many may (at most ``wanted``)."""
        while True:
            granted = self.take(gateway, wanted, per_second)
            if granted:
                return granted
            time.sleep(max(0.001, 1.0 - (time.time() % 1.0)))

"""Per-gateway throughput limits shared by every sender worker, kept in Redis.

A fixed one-second window per gateway: a sender asks for ``n`` messages and is granted what is left of
this second's allowance; it waits for the next second for the rest.
"""

from __future__ import annotations

import time

import redis

from kodeord.keys import PREFIX

_TAKE = """
local used = redis.call('INCRBY', KEYS[1], ARGV[1])
if used == tonumber(ARGV[1]) then redis.call('PEXPIRE', KEYS[1], 2000) end
local over = used - tonumber(ARGV[2])
if over <= 0 then return tonumber(ARGV[1]) end
redis.call('DECRBY', KEYS[1], math.min(over, tonumber(ARGV[1])))
return math.max(0, tonumber(ARGV[1]) - over)
"""


class RateLimiter:
    """Grants message allowances per gateway per second."""

    def __init__(self, client: redis.Redis) -> None:
        self._take = client.register_script(_TAKE)

    def take(self, gateway: str, wanted: int, per_second: float, now: float | None = None) -> int:
        """How many of ``wanted`` messages may go now (0 to ``wanted``); ``per_second`` 0 means no limit."""
        if per_second <= 0 or wanted <= 0:
            return wanted
        second = int(time.time() if now is None else now)
        return int(self._take(keys=[f"{PREFIX}:rate:{gateway}:{second}"], args=[wanted, int(per_second)]))

    def wait(self, gateway: str, wanted: int, per_second: float) -> int:
        """Block until at least one message may go; return how many may (at most ``wanted``)."""
        while True:
            granted = self.take(gateway, wanted, per_second)
            if granted:
                return granted
            time.sleep(max(0.001, 1.0 - (time.time() % 1.0)))

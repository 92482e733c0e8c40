"""Which senders are alive: each beats every ``BEAT_S`` while it runs, and one that has not beaten for
``DEAD_AFTER_MS`` is dead.

A sender killed mid-batch leaves its messages pending in the outbox's consumer group, and the job that ran
it holds the stream's lease. Waiting for both to time out held a service's replies for half a minute; with a
heartbeat, another sender takes both over within about ``DEAD_AFTER_MS`` of the death. A sender that is alive
but slow (a gateway taking its time) keeps beating, so its messages are not taken from it.
"""

from __future__ import annotations

import logging
import threading
import time

import redis

from kodeord.keys import PREFIX

log = logging.getLogger(__name__)

ALIVE = f"{PREFIX}:senders:alive"  # sorted set: sender (consumer name) -> its last beat (ms since the epoch)
BEAT_S = 0.25
DEAD_AFTER_MS = 2000
FORGET_AFTER_MS = 24 * 3600 * 1000  # a dead sender's entry is dropped this long after its last beat


def _now_ms() -> int:
    return int(time.time() * 1000)


class Heart:
    """Beats for one sender from a thread of its own, from :meth:`start` until the process ends or :meth:`stop`."""

    def __init__(self, client: redis.Redis, name: str) -> None:
        self._redis, self.name = client, name
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def start(self) -> None:
        """Beat once now (so the sender counts as alive before it takes anything), then keep beating."""
        with self._lock:
            if self._thread is not None:
                return
            self.beat()
            self._thread = threading.Thread(target=self._run, name="kodeord-heartbeat", daemon=True)
            self._thread.start()

    def beat(self) -> None:
        """Say this sender is alive."""
        now = _now_ms()
        pipe = self._redis.pipeline(transaction=False)
        pipe.zadd(ALIVE, {self.name: now})
        pipe.zremrangebyscore(ALIVE, "-inf", now - FORGET_AFTER_MS)
        pipe.execute()

    def stop(self) -> None:
        """Stop beating, and say so (the sender's messages may be taken over at once)."""
        self._stop.set()
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout=5)
            try:
                self._redis.zrem(ALIVE, self.name)
            except redis.RedisError:
                pass  # its beats lapse by themselves

    def _run(self) -> None:
        while not self._stop.wait(BEAT_S):
            try:
                self.beat()
            except redis.RedisError as exc:  # Redis is away: beat again once it is back
                log.debug("heartbeat failed: %s", exc)


def alive(client: redis.Redis, names: list[str]) -> dict[str, bool]:
    """Whether each of ``names`` has beaten within ``DEAD_AFTER_MS``."""
    if not names:
        return {}
    beats = client.zmscore(ALIVE, names)
    since = _now_ms() - DEAD_AFTER_MS
    return {name: beat is not None and beat >= since for name, beat in zip(names, beats, strict=True)}


def count(client: redis.Redis) -> int:
    """How many senders have beaten within ``DEAD_AFTER_MS``."""
    return int(client.zcount(ALIVE, _now_ms() - DEAD_AFTER_MS, "+inf"))

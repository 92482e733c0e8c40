"""Which senders are alive: each beats every ``BEAT_S`` while it runs, and one that has not beaten for
``DEAD_AFTER_MS`` is dead.

A sender killed mid-batch leaves its messages pending in the outbox's consumer group, and the job that ran
it holds the stream's lease. Waiting for both to time out held a service's replies for half a minute; with a
heartbeat, another sender takes both over within about ``DEAD_AFTER_MS`` of the death. A sender that is alive
but slow (a gateway taking its time) keeps beating, so its messages are not taken from it. A sender beats
only while it holds work (a sending job); one that ends cleanly removes its beat.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import redis

from kodeord.commit.keys import platform_key
from kodeord.support.redis_client import REDIS_ERRORS

log = logging.getLogger(__name__)

ALIVE = platform_key("senders", "alive")  # sorted set: sender (consumer name) -> its last beat (ms since the epoch)
BEAT_S = 0.25
DEAD_AFTER_MS = 2000
# Worker processes (``kodeord worker``), busy or idle: host:pid -> last beat. What an operator counts on.
WORKERS = platform_key("workers", "alive")
WORKER_BEAT_S = 1.0
WORKER_GONE_AFTER_MS = 5000
FORGET_AFTER_MS = 24 * 3600 * 1000  # a dead sender's entry is dropped this long after its last beat


def _now_ms() -> int:
    return int(time.time() * 1000)


class Heart:
    """Beats for one sender from a thread of its own while the sender holds work (:meth:`beating`); or, given
    ``WORKERS``, ``WORKER_BEAT_S`` and ``holds_work=False``, for a worker process while it runs."""

    def __init__(
        self, client: redis.Redis, name: str, key: str = ALIVE, every_s: float = BEAT_S, holds_work: bool = True
    ) -> None:
        self._redis, self.name, self.key, self.every_s = client, name, key, every_s
        self.holds_work = holds_work  # a sender's: it must count as alive before it takes anything
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @contextmanager
    def beating(self) -> Iterator[None]:
        """Beat while the block runs (a sending job); then say this sender holds nothing any more.

        The first beat is made before the block starts, so the sender counts as alive before it takes anything.
        """
        if self._thread is not None:  # nested: the outer block beats
            yield
            return
        try:
            self.beat()
        except REDIS_ERRORS:
            if self.holds_work:
                raise
            # a worker process that starts while Redis is away beats once Redis is back
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(self._stop,), name="kodeord-heartbeat", daemon=True)
        self._thread.start()
        try:
            yield
        finally:
            self._stop.set()
            self._thread.join(timeout=5)
            self._thread = None
            try:
                self._redis.zrem(self.key, self.name)  # gone, not dead: nothing of it is to be taken over
            except REDIS_ERRORS:
                pass  # its beats grow old instead; it left nothing pending, so nothing is taken

    def beat(self) -> None:
        """Say this sender is alive."""
        now = _now_ms()
        pipe = self._redis.pipeline(transaction=False)
        pipe.zadd(self.key, {self.name: now})
        pipe.zremrangebyscore(self.key, "-inf", now - FORGET_AFTER_MS)
        pipe.execute()

    def _run(self, stop: threading.Event) -> None:
        while not stop.wait(self.every_s):
            try:
                self.beat()
            except REDIS_ERRORS as exc:  # Redis is away: beat again once it is back
                log.debug("heartbeat failed: %s", exc)


def dead(client: redis.Redis, names: list[str]) -> set[str]:
    """Those of ``names`` that beat once and stopped more than ``DEAD_AFTER_MS`` ago (killed while they held
    work). A sender that never beat, or stopped beating cleanly, is not dead: it is unknown, and what it holds
    is taken over only after ``claim_after_ms``."""
    if not names:
        return set()
    beats = client.zmscore(ALIVE, names)
    since = _now_ms() - DEAD_AFTER_MS
    return {name for name, beat in zip(names, beats, strict=True) if beat is not None and beat < since}

"""Routing that no tenant's slow templates can hold up for the others.

A web process answers gateways from one event loop, and routing a message there costs about a millisecond. A
customer's template may take up to its budget (``KODEORD_TEMPLATE_MS``, 50 ms by default), and on the loop
every other tenant's message would wait behind it, and behind every one of its kind queued before it. Moving
all routing to threads would cost every message a good part of that millisecond again (Python's threads take
turns at the interpreter), so the loop keeps the tenants that route quickly, and a tenant goes to *lanes*, a
small pool of threads (``KODEORD_ROUTING_THREADS``) of which it may hold at most half, when

- its templates may loop (``{% for %}``, macros, calls): known from its rule files, before its first message;
- or its templates took more than :data:`SLOW_STEPS` steps (loop iterations, calls, filters: about a
  microsecond each) to render one message: for the next :data:`SLOW_FOR_S`.

While lanes work, the process hands the interpreter from thread to thread every half millisecond (instead of
every five), so a slow render holds another tenant's message up by about that, not by the whole render.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from kodeord.decide import templating

T = TypeVar("T")
SWITCH_INTERVAL_S = 0.0005  # while lanes work
SLOW_STEPS = 2000  # template steps rendering one message that send its tenant to the lanes ...
SLOW_FOR_S = 60.0  # ... for this long


class Lanes:
    """Routes work on the event loop, or on a thread pool whose threads one key (a tenant) may hold at most half
    of: slow keys go to the threads."""

    def __init__(self, threads: int) -> None:
        self.threads = max(2, threads)
        self.per_key = self.threads // 2
        self._pool = ThreadPoolExecutor(self.threads, thread_name_prefix="routing")
        self._held: dict[str, asyncio.Semaphore] = {}
        self._slow_until: dict[str, float] = {}
        self._working = 0
        self._switch = sys.getswitchinterval()

    def slow(self, key: str) -> bool:
        """Whether ``key`` was found slow lately."""
        until = self._slow_until.get(key)
        if until is not None and until < time.monotonic():
            del self._slow_until[key]
            return False
        return until is not None

    async def route(self, key: str, work: Callable[[], T], heavy: bool = False) -> T:
        """Run ``work`` for ``key``: in its lanes if ``heavy`` or slow lately, else here on the loop (and if it took
        long, ``key`` goes to the lanes from now on for a while)."""
        if heavy or self.slow(key):
            return await self.run(key, work)
        templating.reset_rendering_steps()
        try:
            return work()
        finally:
            if templating.rendering_steps() > SLOW_STEPS:
                self._slow_until[key] = time.monotonic() + SLOW_FOR_S

    async def run(self, key: str, work: Callable[[], T]) -> T:
        """Run ``work`` on a thread once ``key`` holds fewer than half of them."""
        lane = self._held.get(key)
        if lane is None:
            lane = self._held[key] = asyncio.Semaphore(self.per_key)
        async with lane:
            self._working += 1
            if self._working == 1:
                self._switch = sys.getswitchinterval()
                sys.setswitchinterval(SWITCH_INTERVAL_S)
            try:
                return await asyncio.get_running_loop().run_in_executor(self._pool, work)
            finally:
                self._working -= 1
                if not self._working:
                    sys.setswitchinterval(self._switch)

    def close(self) -> None:
        """Let the threads end once their work is done."""
        self._pool.shutdown(wait=False)

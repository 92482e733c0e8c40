"""Routing off the web process's event loop, no tenant crowding out the others.

A web process answers gateways from one event loop. Routing a message takes a few hundred microseconds, but a
customer's template may take up to its budget (``KODEORD_TEMPLATE_MS``, 50 ms by default): run on the loop,
every other tenant's message would wait behind it, and behind every one of its kind queued before it. So
messages are routed on a small pool of threads (``KODEORD_ROUTING_THREADS``), and no tenant may hold more than
half of them at once: a tenant whose templates are slow fills its own lanes, and the others keep theirs.
Python runs one thread at a time, so a web process also hands the interpreter from thread to thread every half
millisecond (five by default): a slow render holds another tenant's message up by about that, not by the whole
render.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")
SWITCH_INTERVAL_S = 0.0005


class Lanes:
    """A thread pool whose threads one key (a tenant) may hold at most half of."""

    def __init__(self, threads: int) -> None:
        self.threads = max(2, threads)
        self.per_key = self.threads // 2
        self._pool = ThreadPoolExecutor(self.threads, thread_name_prefix="routing")
        self._held: dict[str, asyncio.Semaphore] = {}

    async def run(self, key: str, work: Callable[[], T]) -> T:
        """Run ``work`` on a thread once ``key`` holds fewer than half of them."""
        lane = self._held.get(key)
        if lane is None:
            lane = self._held[key] = asyncio.Semaphore(self.per_key)
        async with lane:
            return await asyncio.get_running_loop().run_in_executor(self._pool, work)

    def close(self) -> None:
        """Let the threads end once their work is done."""
        self._pool.shutdown(wait=False)


def share_the_interpreter() -> None:
    """Switch threads often enough that a slow render delays others by about half a millisecond."""
    sys.setswitchinterval(SWITCH_INTERVAL_S)

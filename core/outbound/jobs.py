"""Sending through RQ: a dispatcher enqueues one job per outbox with work, and RQ workers run them.

A job (:func:`send_outbox`) drains one outbox stream in batches for up to ``max_seconds`` (one job per
stream, not per message: at thousands of messages a second a job per message would cost more in RQ
bookkeeping than the sending). A lease key per stream keeps the dispatcher from queueing a second job for
a stream while one runs; the job renews it after every batch, and it lapses after ``claim_after_ms``
without renewal, the same time after which a dead sender's messages are taken over. Correctness never
rests on the lease: the outbox is a consumer group, so two jobs on one stream take different messages, and
a job killed mid-batch leaves its messages pending until another sender claims them.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import time
import uuid
from typing import TYPE_CHECKING, Any

import redis

# Every key RQ makes shares one hash tag, so its transactions and scripts stay in one slot of a Redis Cluster
# (RQ reads this once, when it is first imported: set it yourself before then, hash tag and all, to change it).
os.environ.setdefault("RQ_KEY_PREFIX", "{kodeord-rq}")

import rq.defaults  # noqa: E402 - after its key prefix
from rq import Queue, SimpleWorker  # noqa: E402
from rq.exceptions import StopRequested  # noqa: E402
from rq.timeouts import TimerDeathPenalty  # noqa: E402

from kodeord.commit.keys import Keys, platform_key  # noqa: E402
from kodeord.outbound import liveness, outbox  # noqa: E402
from kodeord.outbound.sender import Sender  # noqa: E402
from kodeord.support.luascript import LuaScript  # noqa: E402
from kodeord.support.redis_client import REDIS_ERRORS, UNAVAILABLE, for_rq, is_cluster  # noqa: E402

if TYPE_CHECKING:
    from kodeord.platform import Platform

log = logging.getLogger(__name__)
QUEUE = "kodeord-send"
JOB_SECONDS = 5.0  # a job hands its stream back after this long, so streams take turns
GATHER_S = 0.005
IDLE_MS = 200  # how long a job waits on an empty stream before it ends

_platform: Platform | None = None
_senders = threading.local()  # each thread running jobs has its own sender (its own consumer and heart)
_lock = threading.Lock()


def lease_key(stream: str) -> str:
    """The key that says a job is queued or running for ``stream``."""
    return platform_key("lease", stream)


def _worker_sender() -> Sender:
    """This thread's sender, on the process's platform (made on first use: an RQ worker runs many jobs)."""
    global _platform
    sender: Sender | None = getattr(_senders, "sender", None)
    if sender is None or sender.platform is not _platform:
        with _lock:
            if _platform is None:
                from kodeord.config.settings import Settings
                from kodeord.platform import Platform

                _platform = Platform(Settings())
        sender = _senders.sender = Sender(_platform)
    return sender


def use_platform(platform: Platform) -> None:
    """Make jobs in this process send with ``platform`` (the worker command and tests set it)."""
    global _platform
    with _lock:
        _platform = platform


def send_outbox(stream: str, token: str, max_seconds: float = JOB_SECONDS) -> int:
    """RQ job: send batches from ``stream`` until it is empty or ``max_seconds`` passed; return the count."""
    sender = _worker_sender()
    held = f"{token}:{sender.consumer}"  # the lease now names its holder: if that sender dies, it is taken over
    with sender.heart.beating():  # alive before the lease names it
        return _send_for(sender, stream, held, time.monotonic() + max_seconds)


def _send_for(sender: Sender, stream: str, held: str, deadline: float) -> int:
    client, sent = sender.redis, 0
    try:
        while time.monotonic() < deadline:
            if not client.set(lease_key(stream), held, px=sender.claim_after_ms, xx=True):
                break  # the lease lapsed or was taken over: another job has the stream now
            handled = sender.send_stream(stream, block_ms=IDLE_MS)
            sent += handled
            if handled == 0:
                break
            if handled < sender.batch // 4:  # a trickle: let a few more messages gather than pay a batch's
                time.sleep(GATHER_S)  # round trips for each one or two (at most this much later)
    finally:
        _release(client, stream, held)
    return sent


_RELEASE_LEASE = LuaScript(__package__, "releaseLease-1.lua")
_TAKE_OVER_LEASE = LuaScript(__package__, "takeOverLease-1.lua")


def _holder(lease: bytes) -> str:
    """The sender a stream lease names (``token:sender``; "" while its job is queued and not started)."""
    return lease.decode().partition(":")[2]


def _release(client: redis.Redis, stream: str, token: str) -> None:
    try:
        _RELEASE_LEASE(client, [lease_key(stream)], [token])
    except REDIS_ERRORS as exc:  # the lease expires by itself
        log.warning("could not release the lease of %s: %s", stream, exc)


def release_all(sender: Sender) -> int:
    """Drop every stream lease ``sender`` holds; for a worker that lost Redis while a job of its ran (the job
    ended, and could not release its lease). Returns how many it dropped."""
    client, dropped = sender.redis, 0
    for key in client.scan_iter(match=lease_key("*"), count=1000):
        value = client.get(key)
        if value is not None and _holder(value) == sender.consumer:
            dropped += int(_RELEASE_LEASE(client, [key], [value]))
    return dropped


class Dispatcher:
    """Queues a send job for every outbox stream with work and no job; also checks the alerts."""

    def __init__(self, platform: Platform, queue: Queue | None = None) -> None:
        self.platform = platform
        self.redis = platform.redis
        self.queue = queue or send_queue(platform.redis)
        self.sender = Sender(platform)

    def has_work(self, stream: str) -> bool:
        """Messages waiting, abandoned by a sender that died, or retries due."""
        pipe = self.redis.pipeline(transaction=False)
        outbox.queue_state(pipe, stream, self.sender.claim_after_ms)
        pipe.zcount(Keys.of_stream(stream).retries, "-inf", int(time.time() * 1000))
        length, abandoned, due = pipe.execute()
        return bool(length) or bool(abandoned) or bool(due)

    def dispatch_once(self) -> int:
        """Queue jobs for streams that need one; return how many were queued."""
        queued = 0
        for stream in self.sender.streams():
            if not self.has_work(stream):
                continue
            token = uuid.uuid4().hex
            if self._lease(stream, token):
                self.queue.enqueue(
                    send_outbox,
                    stream,
                    token,
                    job_timeout=int(JOB_SECONDS * 4 + 60),
                    result_ttl=0,
                    failure_ttl=24 * 3600,
                    description=f"send {stream}",
                )
                queued += 1
        return queued

    def _lease(self, stream: str, token: str) -> bool:
        """Take the stream's lease for a new job: if no job has it, or if the sender running the job died."""
        key = lease_key(stream)
        if self.redis.set(key, token, px=self.sender.claim_after_ms, nx=True):
            return True
        current = self.redis.get(key)
        holder = _holder(current) if current else ""
        if not holder or not liveness.dead(self.redis, [holder]):
            return False  # queued and not started yet, or running (or ended, and its lease lapses soon)
        log.warning("the sender running %s died; queueing a job to take over", stream)
        return bool(_TAKE_OVER_LEASE(self.redis, [key], [current, token, self.sender.claim_after_ms]))

    def check_alerts(self) -> None:
        """The age of the oldest unsent message against the thresholds, then the plugins' periodic checks.

        A plugin's failure is logged and does not stop the dispatcher.
        """
        if self.platform.monitor is not None:
            age = self.sender.oldest_unsent_age()
            self.platform.monitor.check(age or 0.0)
        try:
            self.platform.housekeeping()
        except REDIS_ERRORS:
            raise
        except Exception:
            log.exception("a plugin's housekeeping failed")

    def run(self, stop: threading.Event, interval: float = 0.05, alert_every: float = 10.0) -> None:
        """Dispatch until ``stop`` is set."""
        next_alert = 0.0
        while not stop.is_set():
            try:
                self.dispatch_once()
                if time.monotonic() >= next_alert:
                    next_alert = time.monotonic() + alert_every
                    self.check_alerts()
            except REDIS_ERRORS as exc:
                log.warning("dispatcher lost Redis (%s); retrying", exc)
                stop.wait(1.0)
            stop.wait(interval)


def send_queue(client: redis.Redis) -> Queue:
    """The queue of send jobs on ``client``'s Redis; on a cluster, only with RQ's keys under one hash tag."""
    if is_cluster(client) and "{" not in rq.defaults.RQ_KEY_PREFIX:
        raise RuntimeError(
            f"RQ_KEY_PREFIX={rq.defaults.RQ_KEY_PREFIX!r} has no hash tag, so RQ cannot run on a Redis Cluster; "
            "unset it or give it one, as in {kodeord-rq}"
        )
    return Queue(QUEUE, connection=for_rq(client) if is_cluster(client) else client)


class SendWorker(SimpleWorker):
    """RQ's worker (in this process, no fork per job), on a single Redis or a cluster."""

    def _set_connection(self, connection: redis.Redis) -> redis.Redis:
        """RQ raises a single Redis's socket timeout above its wait for jobs; a cluster client's is set where it
        is made (:func:`kodeord.support.redis_client.for_rq`)."""
        return connection if is_cluster(connection) else super()._set_connection(connection)


class _Worker(SendWorker):
    """RQ's worker, run in a thread of its own: trying a lost Redis again every second rather than backing off
    to a minute, timing jobs out with a timer (signals reach only the main thread), and stopped by
    :meth:`stop` from the main thread, which takes the signals."""

    exponential_backoff_factor = 1.0
    max_connection_wait_time = 1.0
    death_penalty_class = TimerDeathPenalty
    asked_to_stop = False

    def _install_signal_handlers(self) -> None:
        """The main thread takes the signals (see :func:`work`)."""

    def dequeue_job_and_maintain_ttl(self, timeout: int | None, max_idle_time: int | None = None) -> Any:
        """Wait for a job a second at a time, so that a stop asked from another thread is seen."""
        while not self._stop_requested:
            found = super().dequeue_job_and_maintain_ttl(1, max_idle_time=1)
            if found is not None:
                return found
        raise StopRequested()

    def stop(self) -> None:
        """Stop after the job running now, or at once when idle (within a second)."""
        self.asked_to_stop = True
        self._stop_requested = True


def await_redis(client: redis.Redis, every: float = 0.25, stop: threading.Event | None = None) -> None:
    """Return once Redis answers again (or ``stop`` is set)."""
    while stop is None or not stop.is_set():
        try:
            client.ping()
            return
        except UNAVAILABLE:
            time.sleep(every)


class _Runner:
    """One thread's RQ worker, started again after every Redis outage until the stop event is set."""

    def __init__(self, platform: Platform, stop: threading.Event, logging_level: str) -> None:
        self.connection = for_rq(platform.redis)
        self.stop = stop
        self.logging_level = logging_level
        self.worker: _Worker | None = None

    def run(self) -> None:
        while not self.stop.is_set():
            self.worker = _Worker([Queue(QUEUE, connection=self.connection)], connection=self.connection)
            if self.stop.is_set():
                return
            try:
                self.worker.work(logging_level=self.logging_level)
            except UNAVAILABLE as exc:
                log.warning("a worker lost Redis (%s)", exc)
            except Exception:  # noqa: BLE001 - a thread that dies silently stops sending: log and start again
                log.exception("a worker failed; starting it again")
                self.stop.wait(1.0)
            if self.stop.is_set() or self.worker.asked_to_stop:
                return
            log.warning("waiting for Redis to answer again")
            await_redis(self.connection, stop=self.stop)
            released = release_all(_worker_sender())
            log.warning(
                "Redis answers again; working on%s", f" ({released} stream lease(s) given up)" if released else ""
            )

    def halt(self) -> None:
        if self.worker is not None:
            self.worker.stop()


def worker_name() -> str:
    """This worker process, as ``kodeord_workers_alive`` counts it: ``host:pid``."""
    return f"{socket.gethostname()}:{os.getpid()}"


def work(platform: Platform, logging_level: str = "INFO", threads: int = 8) -> None:
    """Run ``threads`` RQ workers and a dispatcher until asked to stop (SIGINT, SIGTERM), through any Redis
    outage.

    Each thread runs one job at a time, so a stream whose gateway is slow holds one thread and the others go on
    sending the other streams. When Redis goes away, a thread's RQ worker ends; the thread starts a new one once
    Redis answers again, first giving up the leases of the job it was running, so those streams are sent from
    again at once.
    """
    use_platform(platform)
    dispatcher = Dispatcher(platform)
    stop = threading.Event()
    runners = [_Runner(platform, stop, logging_level) for _ in range(threads)]

    def asked(signum: int, frame: Any) -> None:
        if stop.is_set():  # asked again: a job may be stuck on a gateway that never answers
            log.warning("stopping now, without waiting for the running jobs (their messages are taken over)")
            os._exit(1)
        log.info("stopping: each thread ends after its running job (Ctrl-C again stops at once)")
        stop.set()
        for runner in runners:
            runner.halt()

    previous = {sig: signal.signal(sig, asked) for sig in (signal.SIGINT, signal.SIGTERM)}
    threading.Thread(target=dispatcher.run, args=(stop,), daemon=True, name="dispatcher").start()
    started = [threading.Thread(target=r.run, name=f"sender-{n}") for n, r in enumerate(runners)]
    # Counted in kodeord_workers_alive while it runs, busy or idle, until it stops.
    heart = liveness.Heart(platform.redis, worker_name(), liveness.WORKERS, liveness.WORKER_BEAT_S, holds_work=False)
    try:
        with heart.beating():
            for thread in started:
                thread.start()
            while any(t.is_alive() for t in started):
                for thread in started:
                    thread.join(0.2)
    finally:
        stop.set()
        for runner in runners:
            runner.halt()
        for thread in started:
            thread.join(30)
        for sig, handler in previous.items():
            signal.signal(sig, handler)

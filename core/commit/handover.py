"""Hand-overs in flight: what orders a message's last veto check before a STOPP's acknowledgement.

The sender checks vetoes (``kodeord_vet_outgoing_batch``, ``kodeord_vet_outgoing``) for a small group of
messages right before it hands the group to a gateway. A STOPP committed between that check and the
hand-over would not stop the group, so on their own the STOPP's answer could come before a hand-over it
should have prevented. The two sides therefore follow one protocol, every step a Redis command that has
returned before the next starts:

- the sender marks the group as *in hand-over* (:meth:`Handovers.begin`: the group's recipients in a set of
  its own, which lives ``LEASE_MS``, listed in one index of the groups in flight), then checks the vetoes, then
  hands the group over if its lease still lasts (:meth:`Handover.open`), renewing the lease while the gateway
  call runs (:meth:`Handovers.keep`), then removes the group once the gateway has answered for it
  (:meth:`Handovers.end`);
- whoever changes what a veto says about an address (a STOPP, a leave link, a do-not-call register)
  commits the change, then calls :func:`settle` for the address, and only then answers: ``settle`` returns
  once no group in flight holds the address (a dead sender's lapse within ``LEASE_MS``; a group not started
  by then is not handed over at all), or after ``SETTLE_MAX_S`` at most.

A check that read the state before the commit belongs to a group marked before the commit, so ``settle``
waits until that group is handed over; a check that read it after the commit sees the veto. Either way no
message reaches a gateway after the change was acknowledged.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import cast

import redis

from kodeord.commit.keys import Keys
from kodeord.support.redis_client import REDIS_ERRORS

log = logging.getLogger(__name__)

GROUP = 250  # messages handed over per check; a STOPP waits at most for one such group to go out
LEASE_MS = 2000  # a group not handed over this long after it was marked is not handed over at all
SETTLE_MAX_S = 30.0  # the longest a change waits for a hand-over in flight (a gateway's own timeouts are shorter)
_MARGIN_S = 0.25  # the sender stops this long before its lease ends in Redis
_STALE_MS = 60_000  # a dead sender's group leaves the index this long after its lease ran out

# All hand-over state shares one hash tag: a group's set, and the index of groups in flight.
_KEYS = Keys("handover")
INDEX = _KEYS.key_for("groups")  # sorted set: group key -> when its lease ends (ms since the epoch)


def group_key(token: str) -> str:
    """The set of a group's recipients (numbers or email addresses) while the group is handed over."""
    return _KEYS.key_for("group", token)


@dataclass(frozen=True)
class Handover:
    """One marked group: its token, and when (monotonic) its lease runs out."""

    token: str
    deadline: float

    @property
    def key(self) -> str:
        """The group's set."""
        return group_key(self.token)

    def open(self) -> bool:
        """Whether the group may still be handed over."""
        return time.monotonic() < self.deadline


def _now_ms() -> int:
    return int(time.time() * 1000)


class Handovers:
    """Marks groups of recipients as in hand-over for one sender.

    A group costs the sender two round trips whatever its size (mark, unmark): its recipients go into one set
    in one command, rather than a marker per recipient, which cost a broadcast a tenth of its rate.
    """

    def __init__(self, client: redis.Redis, owner: str) -> None:
        self._redis = client
        self._owner = owner
        self._serial = itertools.count(1)
        self._lock = threading.Lock()
        self._live: dict[str, Handover] = {}  # groups being handed over, whose marks the keeper renews
        self._keeper: threading.Thread | None = None

    def begin(self, addresses: Iterable[str]) -> Handover:
        """Mark ``addresses`` before their vetoes are checked (one round trip); the lease starts now."""
        members = list(dict.fromkeys(addresses))
        token = f"{self._owner}:{next(self._serial)}"
        handover = Handover(token, time.monotonic() + LEASE_MS / 1000 - _MARGIN_S)
        if members:
            now = _now_ms()
            pipe = self._redis.pipeline(transaction=False)
            pipe.sadd(handover.key, *members)
            pipe.pexpire(handover.key, LEASE_MS)
            pipe.zadd(INDEX, {handover.key: now + LEASE_MS})
            pipe.zremrangebyscore(INDEX, "-inf", now - _STALE_MS)  # groups of senders that died
            pipe.execute()
        return handover

    def keep(self, handover: Handover) -> None:
        """Keep ``handover``'s marks alive until :meth:`end`, however long the gateway takes to answer.

        A STOPP's :func:`settle` therefore waits for a slow gateway to finish the group; if this sender dies,
        its marks lapse within ``LEASE_MS``. One keeper thread per sender renews every group in flight, and
        stops when none is.
        """
        with self._lock:
            self._live[handover.token] = handover
            if self._keeper is None:
                self._keeper = threading.Thread(target=self._keep, name="kodeord-handover-lease", daemon=True)
                self._keeper.start()

    def _keep(self) -> None:
        while True:
            time.sleep(LEASE_MS / 3000)
            with self._lock:
                live = list(self._live.values())
                if not live:  # nothing in flight: stop, and let the next kept() start a keeper again
                    self._keeper = None
                    return
            pipe = self._redis.pipeline(transaction=False)
            for handover in live:
                pipe.pexpire(handover.key, LEASE_MS)  # only if the group is still there
                pipe.zadd(INDEX, {handover.key: _now_ms() + LEASE_MS}, xx=True)
            try:
                pipe.execute()
            except REDIS_ERRORS:
                log.warning("could not renew a hand-over's marks; a STOPP may wait for them to lapse")

    def end(self, handover: Handover) -> None:
        """The gateway answered for the whole group (or it was given up): stop keeping it, and remove it."""
        with self._lock:
            self._live.pop(handover.token, None)
        pipe = self._redis.pipeline(transaction=False)
        pipe.delete(handover.key)
        pipe.zrem(INDEX, handover.key)
        pipe.execute()


def in_flight(client: redis.Redis, addresses: list[str]) -> bool:
    """Whether a group holding one of ``addresses`` is being handed over now."""
    groups = cast("list[bytes]", client.zrange(INDEX, 0, -1))
    if not groups:
        return False
    pipe = client.pipeline(transaction=False)
    for group in groups:
        pipe.smismember(group, addresses)  # a lapsed group's set is gone: all 0
    return any(any(found) for found in pipe.execute())


def settle(client: redis.Redis, addresses: Iterable[str], poll: float = 0.002) -> None:
    """Wait until no message to ``addresses`` whose veto check came before this call can still be handed over.

    Call it after committing a change that makes a veto refuse messages to ``addresses`` and before
    acknowledging the change. It returns at once unless a group to one of them is being handed over right
    now (a few milliseconds; as long as the gateway takes, up to ``SETTLE_MAX_S``), and within ``LEASE_MS``
    of a dead sender's last renewal.
    """
    members = list(dict.fromkeys(addresses))
    if not members:
        return
    deadline = time.monotonic() + SETTLE_MAX_S
    while in_flight(client, members):
        if time.monotonic() > deadline:
            log.warning(
                "a hand-over to %d address(es) took over %g s; answering the change anyway", len(members), SETTLE_MAX_S
            )
            return
        time.sleep(poll)

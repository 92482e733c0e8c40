"""Hand-overs in flight: what orders a message's last veto check before a STOPP's acknowledgement.

The sender checks vetoes (``kodeord_vet_outgoing_batch``, ``kodeord_vet_outgoing``) for a small group of
messages right before it hands the group to a gateway. A STOPP committed between that check and the
hand-over would not stop the group, so on their own the STOPP's answer could come before a hand-over it
should have prevented. The two sides therefore follow one protocol, every step a Redis command that has
returned before the next starts:

- the sender marks each recipient of the group as *in hand-over* (:meth:`Handovers.begin`: the group's
  token in the recipient's ``handover`` set, which then lives ``LEASE_MS``), then checks the vetoes, then hands
  the group over if its lease still lasts (:meth:`Handover.open`), renewing the lease while the gateway call
  runs (:meth:`Handovers.kept`), then removes the markers (:meth:`Handovers.end`);
- whoever changes what a veto says about an address (a STOPP, a leave link, a do-not-call register)
  commits the change, then calls :func:`settle` for the address, and only then answers: ``settle`` returns
  once the address has no marker (a dead sender's lapse within ``LEASE_MS``; a group not started by then is
  not handed over at all), or after ``SETTLE_MAX_S`` at most.

A check that read the state before the commit belongs to a group marked before the commit, so ``settle``
waits until that group is handed over; a check that read it after the commit sees the veto. Either way no
message reaches a gateway after the change was acknowledged.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import redis

from kodeord.keys import Keys

log = logging.getLogger(__name__)

GROUP = 250  # messages handed over per check; a STOPP waits at most for one such group to go out
LEASE_MS = 2000  # a group not handed over this long after it was marked is not handed over at all
SETTLE_MAX_S = 30.0  # the longest a change waits for a hand-over in flight (a gateway's own timeouts are shorter)
_MARGIN_S = 0.25  # the sender stops this long before its lease ends in Redis


# Mark a group's recipients as in hand-over.
# KEYS: each recipient's hand-over set. ARGV: the group's token, the lease (ms).
_BEGIN = """
for _, key in ipairs(KEYS) do
  redis.call('ZADD', key, 0, ARGV[1])
  redis.call('PEXPIRE', key, ARGV[2])
end
return #KEYS
"""

# The group is still being handed over: keep its marks for another lease (only where its token still is).
# KEYS: each recipient's hand-over set. ARGV: the group's token, the lease (ms).
_RENEW = """
for _, key in ipairs(KEYS) do
  if redis.call('ZSCORE', key, ARGV[1]) then
    redis.call('PEXPIRE', key, ARGV[2])
  end
end
return #KEYS
"""

# The group is out: remove its tokens (an emptied set disappears).
# KEYS: each recipient's hand-over set. ARGV: the group's token.
_END = """
for _, key in ipairs(KEYS) do
  redis.call('ZREM', key, ARGV[1])
end
return #KEYS
"""


def key_for(address: str) -> str:
    """The set of groups being handed over to ``address`` (a number or an email address)."""
    return Keys.for_number(address).key_for("handover")


@dataclass(frozen=True)
class Handover:
    """One marked group: its token, its recipients' keys, and when (monotonic) its lease runs out."""

    token: str
    keys: list[str]
    deadline: float

    def open(self) -> bool:
        """Whether the group may still be handed over."""
        return time.monotonic() < self.deadline


class Handovers:
    """Marks groups of recipients as in hand-over for one sender."""

    def __init__(self, client: redis.Redis, owner: str) -> None:
        # One script call per group: a pipeline of a command or two per recipient cost the sender several times
        # as much CPU. The keys carry different hash tags, which one Redis server does not mind.
        self._begin = client.register_script(_BEGIN)
        self._end = client.register_script(_END)
        self._renew = client.register_script(_RENEW)
        self._owner = owner
        self._serial = itertools.count(1)
        self._lock = threading.Lock()
        self._live: dict[str, Handover] = {}  # groups being handed over, whose marks the keeper renews
        self._keeper: threading.Thread | None = None

    def begin(self, addresses: Iterable[str]) -> Handover:
        """Mark ``addresses`` before their vetoes are checked (one round trip); the lease starts now."""
        keys = [key_for(address) for address in dict.fromkeys(addresses)]
        handover = Handover(f"{self._owner}:{next(self._serial)}", keys, time.monotonic() + LEASE_MS / 1000 - _MARGIN_S)
        if keys:
            self._begin(keys=keys, args=[handover.token, LEASE_MS])
        return handover

    @contextmanager
    def kept(self, handover: Handover) -> Iterator[None]:
        """Keep ``handover``'s marks alive while the block (the gateway call) runs, however long it takes.

        A STOPP's :func:`settle` therefore waits for a slow gateway to finish the group; if this sender dies,
        its marks lapse within ``LEASE_MS``. One keeper thread per sender renews every group in flight, and
        stops when none is.
        """
        with self._lock:
            self._live[handover.token] = handover
            if self._keeper is None:
                self._keeper = threading.Thread(target=self._keep, name="kodeord-handover-lease", daemon=True)
                self._keeper.start()
        try:
            yield
        finally:
            with self._lock:
                del self._live[handover.token]

    def _keep(self) -> None:
        while True:
            time.sleep(LEASE_MS / 3000)
            with self._lock:
                live = list(self._live.values())
                if not live:  # nothing in flight: stop, and let the next kept() start a keeper again
                    self._keeper = None
                    return
            for handover in live:
                try:
                    self._renew(keys=handover.keys, args=[handover.token, LEASE_MS])
                except redis.RedisError:
                    log.warning("could not renew a hand-over's marks; a STOPP may wait for them to lapse")

    def end(self, handover: Handover) -> None:
        """The group was handed over (or given up): remove its markers."""
        if handover.keys:
            self._end(keys=handover.keys, args=[handover.token])


def settle(client: redis.Redis, addresses: Iterable[str], poll: float = 0.002) -> None:
    """Wait until no message to ``addresses`` whose veto check came before this call can still be handed over.

    Call it after committing a change that makes a veto refuse messages to ``addresses`` and before
    acknowledging the change. It returns at once unless a group to one of them is being handed over right
    now (a few milliseconds; as long as the gateway takes, up to ``SETTLE_MAX_S``), and within ``LEASE_MS``
    of a dead sender's last renewal.
    """
    keys = [key_for(address) for address in dict.fromkeys(addresses)]
    if not keys:
        return
    deadline = time.monotonic() + SETTLE_MAX_S
    while client.exists(*keys):
        if time.monotonic() > deadline:
            log.warning("a hand-over to %d address(es) took over %g s; answering the change anyway", len(keys),
                        SETTLE_MAX_S)  # fmt: skip
            return
        time.sleep(poll)

"""Committing one message's effects: its record, writes, outbox and the outgoing messages' records in one step.

A Lua script (``commitMessage-4.lua``) runs atomically in Redis: either the inbound record (the dedupe mark), every
state write, every outgoing message and its record are stored, or none are. If the inbound record already
exists (a gateway retry raced us), nothing is written and what the message got then is returned instead.

Guards (caps, "not closed" marks, "not unsubscribed") are checked inside the same script, so a
limit holds exactly however many messages race for it: the script picks the
branch to commit, the normal one or the one its first failing guard names.

A change no message caused (an administrator's) is committed by :meth:`Committer.change` through the same
script, without an inbound record and without dedupe.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

import msgpack
import redis

from kodeord.commit import records
from kodeord.commit.durable import Replicated
from kodeord.commit.effects import Guard, Write
from kodeord.commit.keys import OUTBOXES, Keys
from kodeord.commit.records import Retention
from kodeord.inbound.messages import Inbound

_COMMIT = records.script(__package__, "commitMessage-4.lua")

if TYPE_CHECKING:
    from kodeord.outbound.outbox import Single


@dataclass(frozen=True)
class Branch:
    """One possible result of a message: its outcome, writes and outgoing messages (outbox entries).

    ``outcome`` is what many messages share (stored once as a text); ``own`` what is this message's alone.
    """

    outcome: dict[str, Any]
    writes: Sequence[Write] = ()
    outgoing: Sequence[Single] = ()  # the replies, as outbox entries
    own: dict[str, Any] | None = None


@dataclass(frozen=True)
class Earlier:
    """What a message committed before got: its shared outcome, its own part and how many replies it queued."""

    outcome: dict[str, Any]
    own: dict[str, Any]
    replies: int


class Committer:
    """Loads the script once per client and remembers which outboxes and scopes it registered."""

    def __init__(self, client: redis.Redis, retention: Retention, replicated: Replicated | None = None) -> None:
        self.redis = client
        self.retention = retention
        self.replicated = replicated or Replicated(client)  # a commit waits for replicas if it says so
        self._registered: set[str] = set()

    def commit(
        self,
        keys: Keys,
        inbound: Inbound,
        branches: Sequence[Branch],
        guards: Sequence[Guard] = (),
        common: Sequence[Write] = (),
    ) -> int | Earlier:
        """Commit ``common`` and one of ``branches``: the first when every guard holds, else the one after
        the first failing guard; record ``inbound`` with it. Return the committed branch's index, or what the
        message got when it was committed before."""
        return self._run(keys, inbound, branches, guards, common)

    def change(
        self, keys: Keys, branches: Sequence[Branch], guards: Sequence[Guard] = (), common: Sequence[Write] = ()
    ) -> int:
        """Commit like :meth:`commit` a change that no inbound message caused (an administrator's): nothing is
        recorded for it and nothing dedupes it. Return the committed branch's index."""
        # Only a recorded message can have been committed before: a change always gets its branch's index.
        return cast(int, self._run(keys, None, branches, guards, common))

    def _run(
        self,
        keys: Keys,
        inbound: Inbound | None,
        branches: Sequence[Branch],
        guards: Sequence[Guard],
        common: Sequence[Write],
    ) -> int | Earlier:
        if len(branches) != len(guards) + 1:
            raise ValueError(f"{len(guards)} guards need {len(guards) + 1} branches, got {len(branches)}")
        outbox = keys.outbox
        if any(branch.outgoing for branch in branches):
            self.register(outbox)  # before the stream can hold anything
        self.register_scope(keys)
        stores = self.retention.args(keys)
        script_keys = [stores[0][0], stores[1][0], stores[2][0], outbox, *(guard.key for guard in guards)]
        args = records.Args()
        if inbound is None:
            args.values.append("")  # ARGV[2]: no inbound record
            message: list[Any] = []
        else:
            args.field(f"{inbound.gateway}:{inbound.message_id}")  # ARGV[2]
            received = int(inbound.received_at.timestamp() * 1000)
            sender, recipient = records.address(inbound.sender), records.address(inbound.recipient)
            message = [received, sender, recipient, args.text(inbound.text)]
        now = int(time.time() * 1000)
        payload: list[Any] = [
            [store[1:] for store in stores],
            message,
            [_guard(guard) for guard in guards],
            _writes(script_keys, common),
        ]
        packed = []
        for branch in branches:
            branch_writes = _writes(script_keys, branch.writes)
            messages = []
            for m in branch.outgoing:
                field, text = args.field(m.id), args.text(m.message.text) if m.message.text else 0
                messages.append([m.encode(), field, records.queued(m.message, now, text), text])
            shared = args.text(_json(branch.outcome)) if inbound is not None else 0
            packed.append([shared, _json(branch.own) if branch.own else "", branch_writes, messages])
        payload.append(packed)
        script_args = [msgpack.packb(payload), *args.values]
        if inbound is None:  # an administrator's change: not deduplicated, so not answered "try again" either
            stored = _COMMIT(self.redis, script_keys, script_args)
        else:  # a gateway's message: acknowledged once the replicas asked for have it
            stored = self.replicated.run(_COMMIT, script_keys, script_args)
        if isinstance(stored, int):
            return stored
        shared, replies, own = json.loads(stored)
        return Earlier(json.loads(shared), json.loads(own) if own else {}, int(replies))

    def register(self, stream: str) -> None:
        """Make senders read ``stream`` (once per process; idempotent in Redis)."""
        if stream not in self._registered:
            self.replicated.add(OUTBOXES, stream)  # acknowledged replies must not wait in an outbox none reads
            self._registered.add(stream)

    def register_scope(self, keys: Keys) -> None:
        """List ``keys``'s scope among those with message records (once per process)."""
        if keys.scope not in self._registered:
            self.replicated.add(records.SCOPES, keys.scope)
            self._registered.add(keys.scope)

    def forget_registrations(self) -> None:
        """Register outboxes again (after Redis was flushed)."""
        self._registered.clear()


def _json(value: dict[str, Any]) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def _guard(guard: Guard) -> list[Any]:
    """``guard`` as the script takes it: [kind, field, most ("" for none), by, members]."""
    most = "" if guard.most is None else str(guard.most)
    return [str(guard.kind), guard.field, most, str(guard.by), list(guard.members)]


def _writes(script_keys: list[str], writes: Sequence[Write]) -> list[list[Any]]:
    """``writes`` as the script takes them (arguments as text), their keys added to ``script_keys``."""
    script_keys += [write.key for write in writes]
    return [[write.command.upper(), [str(arg) for arg in write.args]] for write in writes]

"""Effects: what an action wants done, as data, committed by the core in one transaction."""

from __future__ import annotations

import dataclasses
import enum
from dataclasses import dataclass, field
from typing import Any

from kodeord.inbound.messages import Outbound
from kodeord.outbound.fanout import Fanout

# Writes a plugin may ask for; each touches exactly one key (its first argument).
ALLOWED_COMMANDS = frozenset(
    {
        "SET",
        "DEL",
        "EXPIRE",
        "INCRBY",
        "HSET",
        "HDEL",
        "HINCRBY",
        "SADD",
        "SREM",
        "ZADD",
        "ZINCRBY",
        "ZREM",
        "RPUSH",
        "LPUSH",
        "LTRIM",
        "PFADD",
        "XADD",
    }
)


@dataclass(frozen=True)
class Write:
    """One Redis write on one key, e.g. ``Write("HINCRBY", key, ("opt3", 1))``."""

    command: str
    key: str
    args: tuple[str | int | float, ...] = ()

    def __post_init__(self) -> None:
        if self.command.upper() not in ALLOWED_COMMANDS:
            raise ValueError(f"write command {self.command!r} is not allowed; use one of {sorted(ALLOWED_COMMANDS)}")


@dataclass
class Effects:
    """The result of an action.

    - ``writes``: state changes, committed atomically with the replies;
    - ``replies``: messages to send besides the rule's own ``reply`` template;
    - ``vars``: values the rule's reply template may use (``{{ name }}``);
    - ``silent``: suppress the rule's reply template (the plugin answered itself);
    - ``fanouts``: broadcasts to start, committed with the rest (see :mod:`kodeord.outbound.fanout`);
    - ``guards``: conditions checked inside the commit (see :class:`Guard`); when one fails, its
      ``otherwise`` effects are committed instead of these;
    - ``call``: the answer to a call (channel ``call``), as 46elks-style call actions, e.g.
      ``{"play": "https://.../thanks.mp3"}`` or ``{"connect": "+46..."}``; ``None`` hangs up;
    - ``always``: writes committed whichever way the guards go (traffic counts, say), given once;
    - ``settle``: addresses to which these writes make a veto refuse messages (the sender of a STOPP): the
      message is answered only once nothing vetted before the commit can still be handed over to them
      (see :mod:`kodeord.commit.handover`).
    """

    writes: list[Write] = field(default_factory=list)
    replies: list[Outbound] = field(default_factory=list)
    vars: dict[str, Any] = field(default_factory=dict)
    silent: bool = False
    fanouts: list[Fanout] = field(default_factory=list)
    guards: list[Guard] = field(default_factory=list)
    call: dict[str, Any] | None = None
    always: list[Write] = field(default_factory=list)
    settle: list[str] = field(default_factory=list)


class GuardKind(enum.StrEnum):
    """What a :class:`Guard` checks."""

    CAP = "cap"  # a counter plus ``by`` stays at most ``most``
    UNSET = "unset"  # the key does not exist
    IN = "in"  # every one of ``members`` is in the set or sorted set ``key``
    NOT_IN = "not-in"  # none of ``members`` is in the set or sorted set ``key``


@dataclass(frozen=True)
class Guard:
    """A condition checked atomically when the effects are committed, for limits that must hold exactly.

    - ``Guard.cap(name, key, field, most)``: add ``by`` to a counter (a hash field, or the string ``key``
      when ``field`` is ""), unless it would then exceed ``most``;
    - ``Guard.unset(name, key)``: ``key`` must not exist (e.g. a poll's "closed" mark);
    - ``Guard.within(name, key, *members)``: every one of ``members`` must be in the set or sorted set ``key``
      (a joiner still waiting for approval);
    - ``Guard.outside(name, key, *members)``: none of ``members`` may be in it (nobody who unsubscribed is
      added back).

    Guards are checked in order before anything is written. If every one holds, the counters are
    increased and the effects are committed; if one fails, nothing of the effects is, and its
    ``otherwise`` effects (writes, replies, call answer; no guards or broadcasts) are committed
    instead, under the outcome's ``guard`` name. Two messages racing for the last place under a cap
    therefore never both get it, and a STOPP racing an administrator's change is never undone by it.
    """

    name: str
    key: str
    field: str = ""
    most: int | None = None  # None: the key must not exist
    by: int = 1
    otherwise: Effects = dataclasses.field(default_factory=Effects)  # `field` is taken above
    kind: GuardKind | None = None  # None: CAP when ``most`` is given, else UNSET
    members: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.kind is None:
            object.__setattr__(self, "kind", GuardKind.UNSET if self.most is None else GuardKind.CAP)
        if self.kind in (GuardKind.IN, GuardKind.NOT_IN) and not self.members:
            raise ValueError(f"guard {self.name!r}: a membership guard needs at least one member")
        if self.kind is GuardKind.CAP and self.most is None:
            raise ValueError(f"guard {self.name!r}: a cap needs its most")

    @classmethod
    def cap(cls, name: str, key: str, field: str, most: int, otherwise: Effects, by: int = 1) -> Guard:
        """``key``/``field`` plus ``by`` must stay at most ``most``; the increase is part of the commit."""
        return cls(name, key, field, most, by, otherwise)

    @classmethod
    def unset(cls, name: str, key: str, otherwise: Effects) -> Guard:
        """``key`` must not exist."""
        return cls(name, key, "", None, 0, otherwise)

    @classmethod
    def within(cls, name: str, key: str, *members: str, otherwise: Effects | None = None) -> Guard:
        """Every one of ``members`` must be in the set or sorted set ``key``."""
        return cls(name, key, by=0, otherwise=otherwise or Effects(), kind=GuardKind.IN, members=members)

    @classmethod
    def outside(cls, name: str, key: str, *members: str, otherwise: Effects | None = None) -> Guard:
        """None of ``members`` may be in the set or sorted set ``key``."""
        return cls(name, key, by=0, otherwise=otherwise or Effects(), kind=GuardKind.NOT_IN, members=members)

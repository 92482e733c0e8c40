"""Effects: what an action wants done, as data, committed by the core in one transaction."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kodeord.fanout import Fanout
from kodeord.messages import Outbound

# Writes a plugin may ask for; each touches exactly one key (its first argument).
ALLOWED_COMMANDS = frozenset(
    {
        "SET", "DEL", "EXPIRE", "INCRBY", "HSET", "HDEL", "HINCRBY", "SADD", "SREM",
        "ZADD", "ZINCRBY", "ZREM", "RPUSH", "LPUSH", "LTRIM", "PFADD", "XADD",
    }
)  # fmt: skip


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
    - ``fanouts``: broadcasts to start, committed with the rest (see :mod:`kodeord.fanout`).
    """

    writes: list[Write] = field(default_factory=list)
    replies: list[Outbound] = field(default_factory=list)
    vars: dict[str, Any] = field(default_factory=dict)
    silent: bool = False
    fanouts: list[Fanout] = field(default_factory=list)

"""Redis key names: one place, one prefix, one hash tag per scope.

Every key of one service (or one number) carries the same hash tag, so a
Redis Cluster keeps them in one slot and the core can commit a message's
effects in one transaction. Plugins get a sub-prefix of their own.
"""

from __future__ import annotations

from dataclasses import dataclass

PREFIX = "kodeord"


def platform_key(*parts: str) -> str:
    """A key of the whole platform rather than of one scope: ``kodeord:part:part``. The parts are the owner's
    own names (a lease's part is the stream it leases, hash tag and all), never a customer's text."""
    return ":".join((PREFIX, *parts))


# Registry of outbox streams, read by sender workers.
OUTBOXES = platform_key("outboxes")


def _clean(part: str) -> str:
    # Braces would change the hash tag; colons are our separator.
    return part.replace("{", "(").replace("}", ")")


@dataclass(frozen=True)
class Keys:
    """Key names of one scope (a service, or a number without a service)."""

    scope: str
    sub: str = ""

    @classmethod
    def for_service(cls, service_key: str) -> Keys:
        """Keys of service ``tenant/service``."""
        return cls(f"s:{_clean(service_key)}")

    @classmethod
    def for_number(cls, address: str) -> Keys:
        """Keys of a number's own state (opt-outs, unrouted messages)."""
        return cls(f"n:{_clean(address)}")

    def key_for(self, *parts: str) -> str:
        """``kodeord:{scope}[:sub]:part:part``."""
        head = f"{PREFIX}:{{{self.scope}}}"
        if self.sub:
            head += f":{_clean(self.sub)}"
        return ":".join((head, *(_clean(p) for p in parts)))

    def plugin(self, name: str) -> Keys:
        """The same scope with a plugin's own sub-prefix."""
        return Keys(self.scope, name)

    @property
    def outbox(self) -> str:
        """The stream of outgoing messages of this scope."""
        return Keys(self.scope).key_for("outbox")

    @property
    def bulk(self) -> str:
        """The stream of broadcasts (fan-outs) of this scope, apart from replies so they never wait behind one."""
        return Keys(self.scope).key_for("outbox", "bulk")

    def seen(self, gateway: str, message_id: str) -> str:
        """Dedupe record of one inbound message."""
        return Keys(self.scope).key_for("seen", gateway, message_id)

    def status(self, message_id: str) -> str:
        """Status record (a hash) of one outgoing message."""
        return Keys(self.scope).key_for("msg", message_id)

    @property
    def retries(self) -> str:
        """Sorted set of messages waiting for a retry, scored by when they are due (ms)."""
        return Keys(self.scope).key_for("retry")

    @classmethod
    def of_stream(cls, stream: str) -> Keys:
        """The scope whose outbox is ``stream``."""
        start, end = stream.find("{"), stream.find("}")
        if start < 0 or end < start:
            raise ValueError(f"not an outbox stream: {stream!r}")
        return cls(stream[start + 1 : end])

    def optout(self, address: str) -> str:
        """Set of senders who sent STOP to ``address`` (a number-scope key)."""
        return Keys(self.scope).key_for("optout", address)

    def stopped_at(self, address: str) -> str:
        """Hash: sender -> when (ms) they last sent STOP to ``address`` (a number-scope key; START leaves it): what
        ended before then stays ended, a subscription among it."""
        return Keys(self.scope).key_for("stopped-at", address)

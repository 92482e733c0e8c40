"""Stage 3, commit: a message's outcome written to Redis in one atomic step.

``effects`` is what an action asks for, as data (writes, guards, outgoing messages). ``committer`` runs one
Lua script that, atomically, checks the message was not seen before, checks the guards, applies the writes,
stores the inbound and outgoing ``records`` and queues the replies in the outbox. ``keys`` names every Redis
key; ``handover`` orders a STOPP's acknowledgement after the veto checks in flight. What it hands on: queued
messages in a service's outbox, for ``kodeord.outbound``; the gateway gets its answer only after this.
"""

from typing import Any

_OLD_NAMES = frozenset({"Committer", "Branch", "Earlier"})  # what the module kodeord.commit offered


def __getattr__(name: str) -> Any:
    """What the module ``kodeord.commit`` offered before it became this package, with a warning."""
    import importlib
    import warnings

    if name not in _OLD_NAMES:
        raise AttributeError(f"module 'kodeord.commit' has no attribute {name!r}")
    committer = importlib.import_module("kodeord.commit.committer")
    warnings.warn(
        f"kodeord.commit.{name} moved to kodeord.commit.committer: import it from there",
        DeprecationWarning,
        stacklevel=2,
    )
    return getattr(committer, name)

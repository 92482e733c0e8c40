"""Stage 3, commit: a message's outcome written to Redis in one atomic step.

``effects`` is what an action asks for, as data (writes, guards, outgoing messages). ``committer`` runs one
Lua script that, atomically, checks the message was not seen before, checks the guards, applies the writes,
stores the inbound and outgoing ``records`` and queues the replies in the outbox. ``keys`` names every Redis
key; ``handover`` orders a STOPP's acknowledgement after the veto checks in flight. What it hands on: queued
messages in a service's outbox, for ``kodeord.outbound``; the gateway gets its answer only after this.
"""

from typing import Any

from kodeord.support import moved


def __getattr__(name: str) -> Any:  # Committer, Branch, Earlier: what the module kodeord.commit offered
    return moved.renamed(__name__, name)

"""The core's own plugin: platform defaults that other plugins may override.

- every sender is a ``stranger`` unless a plugin knows better (``trylast``);
- a number's STOP list vetoes everything but direct replies to that sender;
- the ``reply`` action: a rule that only answers with its reply template can
  name it explicitly; ``core.log`` records the message without answering.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from kodeord.actions import ActionCall, ActionSpec, Veto
from kodeord.effects import Effects
from kodeord.hookspecs import hookimpl
from kodeord.keys import Keys
from kodeord.messages import Kind, Outbound

if TYPE_CHECKING:
    import redis

    from kodeord.model import Service


@hookimpl
def kodeord_register_actions(register: Callable[[ActionSpec], None]) -> None:
    """Core actions."""
    register(ActionSpec("core.reply", "Answer with the rule's reply template only"))
    register(ActionSpec("core.silent", "Accept the message and send no reply"))


@hookimpl
def kodeord_run_action(call: ActionCall) -> Effects | None:
    """Run the core actions."""
    if call.action == "core.reply":
        return Effects()
    if call.action == "core.silent":
        return Effects(silent=True)
    return None


@hookimpl(trylast=True)
def kodeord_sender_role(service: Service, sender: str, redis: redis.Redis) -> str | None:
    """Everyone is a stranger unless a plugin says otherwise."""
    return "stranger"


@hookimpl(trylast=True)
def kodeord_vet_outgoing(message: Outbound, redis: redis.Redis) -> Veto | None:
    """Never text someone who sent STOP to this number, except a direct reply to them."""
    if message.kind is Kind.REPLY:
        return None
    if redis.sismember(Keys.for_number(message.sender).optout(message.sender), message.to):
        return Veto("recipient sent STOP to this number", "core")
    return None


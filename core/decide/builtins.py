"""The core's own plugin: platform defaults that other plugins may override.

- every sender is a ``stranger`` unless a plugin knows better (``trylast``);
- a number's STOP list vetoes everything but direct replies to that sender;
- the ``reply`` action: a rule that only answers with its reply template can
  name it explicitly (``core.reply``); ``core.silent`` accepts the message and sends no reply.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from kodeord.commit.effects import Effects
from kodeord.commit.keys import Keys
from kodeord.decide.actions import ActionSpec, Veto
from kodeord.hookspecs import hookimpl
from kodeord.inbound.messages import Channel, Kind, Outbound

if TYPE_CHECKING:
    import redis

    from kodeord.config.model import Service


@hookimpl
def kodeord_register_actions(register: Callable[[ActionSpec], None]) -> None:
    """Core actions."""
    register(ActionSpec("core.reply", "Answer with the rule's reply template only", run=lambda call: Effects()))
    register(ActionSpec("core.silent", "Accept the message and send no reply", run=lambda call: Effects(silent=True)))


@hookimpl(trylast=True)
def kodeord_sender_role(service: Service, sender: str, redis: redis.Redis) -> str | None:
    """Everyone is a stranger unless a plugin says otherwise."""
    return "stranger"


@hookimpl
def kodeord_vet_outgoing_batch(messages: Sequence[Outbound], redis: redis.Redis) -> dict[int, Veto] | None:
    """Never text someone who sent STOP to a number, except a direct reply to them: one call per sending number."""
    by_number: dict[str, list[int]] = defaultdict(list)
    for index, message in enumerate(messages):
        if message.kind is not Kind.REPLY and message.channel is not Channel.EMAIL:
            by_number[message.sender].append(index)
    if not by_number:
        return None
    pipe = redis.pipeline(transaction=False)
    for number, indexes in by_number.items():
        pipe.smismember(Keys.for_number(number).optout(number), [messages[i].to for i in indexes])
    vetoes = {}
    for indexes, stopped in zip(by_number.values(), pipe.execute(), strict=True):
        for index, is_stopped in zip(indexes, stopped, strict=True):
            if is_stopped:
                vetoes[index] = Veto("recipient sent STOP to this number", "core")
    return vetoes

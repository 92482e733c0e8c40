"""Answers a poll or competition gives itself (a vote or entry that does not count): an SMS reply rendered
from the customer's template, free of charge, or for a caller a recording."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from kodeord.commit.effects import Effects
from kodeord.decide import templating
from kodeord.decide.actions import ActionCall
from kodeord.inbound.messages import Channel, Kind, Outbound
from kodeord.support.errors import TemplateError


def context(call: ActionCall, variables: dict[str, Any]) -> dict[str, Any]:
    """What a reply template sees: the core's variables (as the rule's own reply sees them) and the action's."""
    return {**call.context, **variables}


def render(template: str, call: ActionCall, variables: dict[str, Any]) -> str:
    """``template`` rendered for this message. One that uses only the action's own variables (the poll's
    title, the option's name...) is rendered once per set of their values, not once per message."""
    used = templating.variables(template)
    if used <= variables.keys():
        return _cached(template, tuple((name, variables[name]) for name in sorted(used)))
    return templating.render(template, context(call, variables))


@lru_cache(maxsize=4096)
def _cached(template: str, values: tuple[tuple[str, Any], ...]) -> str:
    return templating.render(template, dict(values))


def recording(url: str | None) -> dict[str, Any]:
    """Play ``url`` and hang up (or just hang up, busy, when there is no recording)."""
    return {"play": url} if url else {"hangup": "busy"}


def refusal(call: ActionCall, template: str, fallback: str, variables: dict[str, Any], record: str | None) -> Effects:
    """Effects that answer without counting: the reply ``template`` (``fallback`` if it fails to render),
    without a price; for a call, the recording ``record``."""
    effects = Effects(vars=variables, silent=True)
    if call.inbound.channel is Channel.CALL:
        effects.call = recording(record)
        return effects
    try:
        text = render(template, call, variables)
    except TemplateError:
        text = render(fallback, call, variables)
    if text:
        inbound = call.inbound
        effects.replies.append(
            Outbound(to=inbound.sender, sender=inbound.recipient, text=text, kind=Kind.REPLY, service=call.service.key)
        )
    return effects

"""Premium subscriptions (ERB B.1): people subscribe with a keyword, the customer sends messages charged at the
subscription's price, and after ``confirm_after`` messages (at most 10) each subscriber is asked to confirm and
gets nothing more until they do. STOPP to the number ends a subscription for good (a START does not bring it
back). The subscription's terms are declared with the service (``subscription:``) and checked by the erb plugin
when the rule files load. See docs/erb.md.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING

from kodeord.decide.actions import ActionSpec
from kodeord.hookspecs import hookimpl
from kodeord.outbound.fanout import FanoutSource

from . import join, sending, store
from .store import PLUGIN

if TYPE_CHECKING:
    import click
    import redis
    from starlette.routing import BaseRoute

    from kodeord.decide.actions import Veto
    from kodeord.inbound.messages import Outbound

JOIN = ActionSpec(
    join.ACTION,
    "Subscribe the sender (the welcome is the first message); the confirm word lets a subscriber go on",
    check_rule=join.check_rule,
    run=join.join,
)


@hookimpl
def kodeord_register_actions(register: Callable[[ActionSpec], None]) -> None:
    """``subscription.join``."""
    register(JOIN)


@hookimpl
def kodeord_register_fanout_sources(register: Callable[[FanoutSource], None]) -> None:
    """A subscription's subscribers, page by page, for its messages."""
    register(FanoutSource(PLUGIN, sending.page))


@hookimpl
def kodeord_vet_outgoing_batch(messages: Sequence[Outbound], redis: redis.Redis) -> Mapping[int, Veto] | None:
    """A subscription's message to someone whose subscription ended since it was queued is not sent."""
    return store.vet(messages, redis)


@hookimpl
def kodeord_register_commands(cli: click.Group) -> None:
    """``kodeord subscriptions ...``."""
    from .cli import subscriptions

    cli.add_command(subscriptions)


@hookimpl
def kodeord_register_routes(register: Callable[[BaseRoute], None]) -> None:
    """``/api/subscriptions/{service}``."""
    from . import api

    for route in api.routes():
        register(route)

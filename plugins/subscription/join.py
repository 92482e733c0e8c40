"""``subscription.join``: the keyword subscribes (the welcome is the first message, free); the confirm word
(``HOROSKOP JA``) from a subscriber who was asked to confirm lets the messages go on."""

from __future__ import annotations

from kodeord.commit.effects import Effects, Write
from kodeord.config.keywords import fold
from kodeord.config.model import Rule, Service
from kodeord.decide import templating
from kodeord.decide.actions import ActionCall
from kodeord.inbound.messages import Kind, Outbound
from kodeord.support.errors import PluginError

from .store import SubscriptionKeys, ended, standing

ACTION = "subscription.join"


def check_rule(rule: Rule, service: Service) -> list[str]:
    """The service declares its subscription; the welcome is its reply."""
    problems = []
    if service.subscription is None:
        problems.append(f"{ACTION} needs the service's subscription: (price, frequency and its texts)")
    if rule.reply is not None:
        problems.append(f"{ACTION} answers with the subscription's welcome: leave reply: out")
    if rule.price is not None:
        problems.append(f"{ACTION} does not charge for joining: leave price: out (each message costs its price)")
    return problems


def join(call: ActionCall) -> Effects:
    """Subscribe the sender, or confirm a subscriber who was asked to."""
    subscription = call.service.subscription
    if subscription is None:  # check_rule refuses such rules at load
        raise PluginError(f"{call.service.key} has no subscription")
    keys = SubscriptionKeys(call.service.key)
    member = call.inbound.sender
    active, waiting = standing(call.redis, keys, call.service.number, member)
    writes: list[Write] = []
    if not active:  # new, or back after a STOPP that ended the subscription: it starts afresh
        now = int(call.now.timestamp() * 1000)
        writes = [
            *ended(keys, member),
            Write("ZADD", keys.active, (0, member)),
            Write("HSET", keys.joined, (member, now)),
            Write("HSET", keys.counts, (member, 0)),
        ]
    elif waiting and fold(call.args.strip()) == fold(subscription.confirm_word):
        writes = [Write("ZREM", keys.waiting, (member,)), Write("HSET", keys.counts, (member, 0))]
    text = templating.render(subscription.welcome, call.context)
    welcome = Outbound(member, call.inbound.recipient, text, kind=Kind.REPLY, service=call.service.key)
    return Effects(writes=writes, replies=[welcome], silent=True)

"""Sending a subscription's message to every subscriber, and asking them to confirm (ERB B.1).

:func:`send` starts a broadcast of the text with the subscription's footer, charged its price. Its pages
(:func:`page`) are read as the sender reaches them: a subscriber who stopped (STOPP to the number after they
joined) is ended and gets nothing; one asked to confirm gets nothing until they do; one who has had
``confirm_after`` messages since joining or confirming gets, instead of this one, the free question ``confirm``,
and then waits. What each got is counted in the same transaction that queues their message, so a sender that
dies in the middle neither counts a message twice nor loses one.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import redis

from kodeord.commit.effects import Effects, Guard, Write
from kodeord.commit.keys import Keys
from kodeord.decide import templating
from kodeord.inbound.messages import Kind, Outbound
from kodeord.outbound.fanout import Fanout, FanoutPage, Recipient
from kodeord.support.errors import RequestError

from .store import PLUGIN, SubscriptionKeys, ended, stopped_since_joining

if TYPE_CHECKING:
    from kodeord.platform import PluginHost
    from kodeord.web.links import Links

MAX_TEXT = 1000
SENDING_MS = 24 * 3600 * 1000  # a send that never finished (dropped as malformed) holds the next back at most this


class SubscriptionError(RequestError):
    """A send that cannot start; ``http_status`` says how the API answers."""


def send(host: PluginHost, service_key: str, text: str, by: str) -> dict[str, Any]:
    """Start sending ``text`` (and the footer) to every subscriber of ``service_key``; the broadcast's id."""
    service = host.service(service_key)
    if service is None or service.subscription is None:
        raise SubscriptionError(f"no subscription {service_key!r}", 404)
    if not text.strip() or len(text) > MAX_TEXT:
        raise SubscriptionError(f"text must be 1-{MAX_TEXT} characters")
    subscription = service.subscription
    context = {"service": service.id, "tenant": service.tenant, "number": service.number}
    footer = templating.render(subscription.footer, context)
    confirm = templating.render(subscription.confirm, context)
    message = Outbound(
        to="",
        sender=service.number,
        text=f"{text.strip()}\n{footer}",
        kind=Kind.BROADCAST,
        service=service.key,
        meta={"subscription": service.key},
        price=subscription.price,
    )
    fanout_id = f"sub:{time.time_ns()}"
    params = {"service": service.key, "confirm": confirm, "after": str(subscription.confirm_after)}
    keys = SubscriptionKeys(service.key)
    effects = Effects(
        writes=[Write("SET", keys.sending, (fanout_id, "PX", SENDING_MS))],
        guards=[Guard.unset("sending", keys.sending, Effects())],
        fanouts=[Fanout(fanout_id, PLUGIN, params, message)],
    )
    outcome = host.apply(keys.scope, effects, f"send:{fanout_id}", by)
    if outcome.guard is not None:
        raise SubscriptionError(
            f"{service.key}: a message is still being sent to the subscribers; send the next when it is out", 409
        )
    return {"id": fanout_id, "service": service.key}


def page(fanout: Fanout, after: str, limit: int, client: redis.Redis, links: Links | None) -> FanoutPage:
    """The next ``limit`` subscribers after ``after``: each the message, the question, or nothing (see the
    module), with what that changes written with the page."""
    keys = SubscriptionKeys(fanout.params["service"])
    most = int(fanout.params["after"])
    start = f"({after}" if after else "-"
    members = [m.decode() for m in client.zrangebylex(keys.active, start, "+", start=0, num=limit)]  # type: ignore[union-attr]
    if not members:
        return FanoutPage([], None, [Write("DEL", keys.sending, ())])
    number = fanout.message.sender
    pipe = client.pipeline(transaction=False)
    pipe.hmget(keys.joined, members)
    pipe.hmget(keys.counts, members)
    pipe.zmscore(keys.waiting, members)
    pipe.hmget(Keys.for_number(number).stopped_at(number), members)
    joined, counted, waiting, stopped = pipe.execute()
    recipients: list[Recipient] = []
    writes: list[Write] = []
    now = int(time.time() * 1000)
    for member, since, count, asked, stop in zip(members, joined, counted, waiting, stopped, strict=True):
        if stopped_since_joining(since, stop):
            writes += ended(keys, member)  # STOPP after joining ended it, whatever START came after
            continue
        if asked is not None:
            continue
        sent = int(count or 0)
        if sent < most:
            recipients.append(Recipient(member, meta={"member": member}))
            writes.append(Write("HSET", keys.counts, (member, sent + 1)))
        else:
            recipients.append(Recipient(member, meta={"member": member}, text=fanout.params["confirm"], price=""))
            writes.append(Write("ZADD", keys.waiting, (now, member)))
    last = len(members) < limit
    if last:
        writes.append(Write("DEL", keys.sending, ()))  # the next send may start
    return FanoutPage(recipients, None if last else members[-1], writes)

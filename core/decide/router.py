"""The router: one inbound message in, one committed outcome out.

number -> keyword -> service -> rule (engine) -> action (plugin) -> replies (templates) -> vetoes -> one
atomic commit with the outbox, which also records the message and so answers a gateway's retry as before.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field, fields, replace
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from kodeord.commit import handover, records
from kodeord.commit.committer import Branch, Earlier
from kodeord.commit.effects import Effects, Write
from kodeord.commit.keys import Keys
from kodeord.config.catalog import Destination
from kodeord.config.keywords import fold
from kodeord.config.model import OwnNumber, Rule, Service
from kodeord.decide import engine, templating
from kodeord.decide.actions import ActionCall
from kodeord.inbound.messages import Channel, Inbound, Kind, Outbound
from kodeord.outbound import outbox
from kodeord.support.errors import PluginError, TemplateError
from kodeord.watch import live
from kodeord.web.links import Links

if TYPE_CHECKING:
    from kodeord.platform import Platform

log = logging.getLogger(__name__)


ECHO_MAX = 20  # characters of an unknown word a reply repeats


def echoed(word: str) -> str:
    """An unknown word as a reply may repeat it: at most ``ECHO_MAX`` characters."""
    return word if len(word) <= ECHO_MAX else word[: ECHO_MAX - 3] + "..."


@dataclass
class Outcome:
    """What the router did with one message; stored for dedupe, shown by ``rules try``."""

    status: str  # handled, fallback, reserved, unknown-keyword, unknown-number, error
    service: str | None = None
    rule: str | None = None
    action: str | None = None
    replies: list[dict[str, Any]] = field(default_factory=list)
    vetoed: list[dict[str, Any]] = field(default_factory=list)
    fanouts: list[dict[str, Any]] = field(default_factory=list)  # broadcasts started: id, source, text
    errors: list[str] = field(default_factory=list)
    duplicate: bool = False
    guard: str | None = None  # the guard that failed, when its "otherwise" effects were committed instead
    call: dict[str, Any] | None = None  # the answer to a call (46elks-style call actions)
    settled: list[str] = field(default_factory=list)  # addresses whose hand-overs in flight it waited for

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (the lists are shared, not copied)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Outcome:
        """Inverse of :meth:`to_dict`."""
        return cls(**data)


_OWN = ("replies", "vetoed", "fanouts", "settled", "duplicate")  # what of an outcome is the message's own


def _branch(outcome: Outcome, writes: list[Write], outgoing: list[outbox.Single]) -> Branch:
    """A way the message may end, its outcome split into the part many messages share (stored once) and the
    message's own part (replies are counted, not stored: their ids derive from the inbound message's)."""
    data = outcome.to_dict()
    own = {k: data[k] for k in ("vetoed", "fanouts", "settled") if data[k]}
    return Branch({k: v for k, v in data.items() if k not in _OWN}, writes, outgoing, own)


def check_effects(by: str, scope: Keys, effects: Effects) -> None:
    """PluginError unless ``effects`` (of an action or a change ``by`` names) keep to ``scope``'s keys and
    their guards' otherwise effects are plain."""
    for guard in effects.guards:
        if guard.otherwise.guards or guard.otherwise.fanouts or guard.otherwise.always:
            raise PluginError(f"{by}: a guard's otherwise effects cannot have guards, broadcasts or always-writes")
    own = scope.key_for("")[:-1]
    touched = [w.key for w in effects.writes + effects.always]
    touched += [k for g in effects.guards for k in (g.key, *(w.key for w in g.otherwise.writes))]
    for key in touched:
        if not key.startswith(own):
            raise PluginError(f"{by} wrote outside its service's keys: {key}")


def inbound_id(inbound: Inbound) -> str:
    """The printable id of an inbound message's record; its replies' ids are ``<this>:<n>``."""
    return records.inbound_id(inbound.gateway, inbound.message_id)


class Router:
    """Routes inbound messages for one platform."""

    def __init__(self, platform: Platform) -> None:
        self.platform = platform
        self.redis = platform.redis
        self.hooks = platform.hooks
        # A dry run shows links as they would look, signed with a throwaway key: it must not store the real one.
        self._dry_links = Links(platform.settings.public_url, lambda: "dry-run")

    def handle(self, inbound: Inbound, *, dry_run: bool = False, route: Destination | None = None) -> Outcome:
        """Route, decide, act and commit one message (``dry_run``: decide only, change nothing; ``route``: where
        the message goes, if the caller knows it already)."""
        index = self.platform.catalog.index
        if route is None:
            route = index.route(inbound.recipient, inbound.text)
        if inbound.channel.value == "call" and route.number is not None:
            route = index.call_route(route.number)
        scope = Keys.for_service(route.service.key) if route.service else Keys.for_number(inbound.recipient)
        outcome, effects, scope = self._decide(inbound, route, scope, dry_run)
        outcomes, branches = self._branches(scope, outcome, effects, lambda: inbound_id(inbound))
        if dry_run:
            return outcome
        if effects.fanouts:
            self.platform.committer.register(scope.bulk)
        # No separate duplicate check first: the commit script checks and records the message atomically, and
        # a duplicate (rare) costs one decision, where a check would cost every message a round trip.
        counted = effects.always
        if scope.scope.startswith("s:"):  # a service's traffic, counted in the same commit (kodeord.watch.live)
            counted = counted + live.At(scope, time.time()).writes(f"in:{inbound.channel.value}")
        committed = self.platform.committer.commit(scope, inbound, branches, effects.guards, counted)
        if isinstance(committed, Earlier):
            self.platform.metrics.inc("kodeord_inbound_total", status="duplicate")
            earlier = Outcome.from_dict({**committed.outcome, **committed.own, "duplicate": True})
            earlier.replies = self._earlier_replies(scope, inbound, committed.replies, earlier.service or "")
            handover.settle(self.redis, earlier.settled)  # the first try may have died before it answered
            return earlier
        outcome = outcomes[committed]
        # A STOPP is answered only once nothing vetted before its commit can still reach the gateway.
        handover.settle(self.redis, outcome.settled)
        self.platform.metrics.inc("kodeord_inbound_total", status=outcome.status)
        self.platform.metrics.inc("kodeord_outbox_queued_total", len(branches[committed].outgoing))
        return outcome

    def apply(self, scope: Keys, effects: Effects, origin: str, by: str) -> Outcome:
        """Commit ``effects`` that no inbound message caused (an administrator's change, say) in ``scope``:
        replies are prepared, vetted and queued with their records, broadcasts started, guards checked, all
        in one step. ``origin`` is unique to the change (its replies' ids are ``<origin>:<n>``); ``by`` names
        who asked, in errors. The outcome's ``guard`` names the guard that failed, if one did."""
        check_effects(by, scope, effects)
        outcome = Outcome("handled", action=by)
        outcomes, branches = self._branches(scope, outcome, effects, lambda: origin)
        if effects.fanouts:
            self.platform.committer.register(scope.bulk)
        committed = self.platform.committer.change(scope, branches, effects.guards, effects.always)
        outcome = outcomes[committed]
        handover.settle(self.redis, outcome.settled)
        self.platform.metrics.inc("kodeord_outbox_queued_total", len(branches[committed].outgoing))
        return outcome

    def _branches(
        self, scope: Keys, outcome: Outcome, effects: Effects, own_id: Callable[[], str]
    ) -> tuple[list[Outcome], list[Branch]]:
        """Every way a message (or a change) may end, the first when every guard holds, with their outcomes."""
        outcome.call, outcome.settled = effects.call, list(effects.settle)
        others = [
            Outcome(
                outcome.status,
                outcome.service,
                outcome.rule,
                outcome.action,
                guard=guard.name,
                call=guard.otherwise.call,
                settled=list(guard.otherwise.settle),
            )
            for guard in effects.guards
        ]
        queued = self._outgoing(
            own_id,
            [(outcome, effects.replies)]
            + [(other, g.otherwise.replies) for other, g in zip(others, effects.guards, strict=True)],
        )
        writes = effects.writes + self._fanouts(scope, outcome, effects)
        branches = [_branch(outcome, writes, queued[0])]
        branches += [
            _branch(other, g.otherwise.writes, out)
            for other, g, out in zip(others, effects.guards, queued[1:], strict=True)
        ]
        return [outcome, *others], branches

    def _earlier_replies(self, scope: Keys, inbound: Inbound, count: int, service: str) -> list[dict[str, Any]]:
        """The replies a message queued when it was first committed, from their records (id only where a
        record is gone)."""
        ids = [f"{inbound_id(inbound)}:{n}" for n in range(count)]
        found = records.Reader(self.redis, self.platform.retention).outbound(scope, ids)
        replies: list[dict[str, Any]] = []
        for message_id, record in zip(ids, found, strict=True):
            if record is None:
                replies.append({"id": message_id})
                continue
            message = Outbound(
                to=record["to"],
                sender=record["from"],
                text=record.get("text", ""),
                kind=Kind(record["kind"]),
                channel=Channel.EMAIL if "@" in record["to"] else Channel.SMS,
                service=service,
                price=record.get("price", ""),
            )
            replies.append({"id": message_id, **message.to_dict()})
        return replies

    def _decide(
        self, inbound: Inbound, route: Destination, scope: Keys, dry_run: bool
    ) -> tuple[Outcome, Effects, Keys]:
        number, service = route.number, route.service
        if number is None:
            return (
                Outcome("unknown-number", errors=[f"no number {inbound.recipient} in the rule files"]),
                Effects(),
                scope,
            )
        keyword = self._keyword(route)
        if service is None:
            return self._platform_reply(inbound, number, route, keyword)
        role = self.hooks.sender_role(service, inbound.sender, self.redis)
        rule = engine.unconditional(service, route.reserved)
        if rule is None:
            event = engine.facts(
                service,
                keyword=keyword,
                args=route.args,
                reserved=route.reserved,
                role=role,
                channel=inbound.channel.value,
                now=inbound.received_at,
            )
            rule = self.platform.engine.decide(service, event)
        if rule is None:
            if route.reserved is not None:
                return self._platform_reply(inbound, number, route, keyword)
            return (*self._fallback(inbound, service, route, keyword, role), scope)
        outcome = Outcome("handled", service.key, rule.name, rule.action)
        base = self._context(inbound, service, route, keyword, role)
        effects = self._run(inbound, service, rule, route, keyword, role, scope, dry_run, base)
        context = base | effects.vars
        if rule.reply is not None and not effects.silent:
            text = self._render(rule.reply, context, outcome)
            if text is None and service.fallback is not None:
                text = self._render(service.fallback, context, outcome)
            if text:
                effects.replies.insert(0, self._reply(inbound, text, service, rule.price))
        effects.replies.extend(self._receipts(inbound, service, number, effects.replies, context, outcome))
        return outcome, effects, scope

    def _receipts(
        self,
        inbound: Inbound,
        service: Service,
        number: OwnNumber,
        replies: list[Outbound],
        context: dict[str, Any],
        outcome: Outcome,
    ) -> list[Outbound]:
        """An SMS receipt for each charge above ``receipt_above`` (ERB B.1), committed with the charge itself:
        free, to the payer, from the number's ``receipt`` template."""
        above = self.platform.settings.receipt_above
        receipts = []
        for reply in replies:
            if not reply.price or Decimal(reply.price) <= above:
                continue
            tenant = self.platform.catalog.config.tenants.get(service.tenant)
            company = tenant.company if tenant is not None else None
            extra = {
                "amount": f"{Decimal(reply.price):.2f}".replace(".", ","),
                "company": (company.name if company and company.name else tenant.name if tenant else service.tenant),
                "customer_service": company.customer_service if company and company.customer_service else "",
            }
            text = self._render(number.replies["receipt"], context | extra, outcome)
            if text:
                receipts.append(replace(self._reply(inbound, text, service), to=reply.to))
        return receipts

    def _keyword(self, route: Destination) -> str:
        return fold(route.keyword) if route.keyword else ""

    def _run(
        self,
        inbound: Inbound,
        service: Service,
        rule: Rule,
        route: Destination,
        keyword: str,
        role: str,
        scope: Keys,
        dry_run: bool,
        context: dict[str, Any],
    ) -> Effects:
        if rule.action is None:
            return Effects()
        call = ActionCall(
            action=rule.action,
            params=rule.params,
            inbound=inbound,
            service=service,
            rule=rule,
            role=role,
            keyword=keyword,
            args=route.args,
            now=inbound.received_at,
            redis=self.redis,
            keys=scope,
            dry_run=dry_run,
            links=self.platform.links if not dry_run else self._dry_links,
            context=context,
        )
        effects = self.hooks.run_action(call)
        if effects is None:
            raise PluginError(f"no plugin runs action {rule.action!r} (is its plugin blocked?)")
        check_effects(f"action {rule.action!r}", scope, effects)
        return effects

    def _context(
        self, inbound: Inbound, service: Service | None, route: Destination, keyword: str, role: str
    ) -> dict[str, Any]:
        zone = ZoneInfo(service.timezone if service else self.platform.settings.timezone)
        return {
            "sender": inbound.sender,
            "number": inbound.recipient,
            "text": inbound.text,
            "keyword": route.keyword,
            "args": route.args,
            "role": role,
            "channel": inbound.channel.value,
            "service": service.id if service else "",
            "tenant": service.tenant if service else "",
            "now": inbound.received_at.astimezone(zone),
        }

    def _render(self, source: str, context: dict[str, Any], outcome: Outcome) -> str | None:
        try:
            return templating.render(source, context)
        except TemplateError as exc:
            outcome.errors.append(str(exc))
            log.warning("reply template failed: %s", exc)
            return None

    def _reply(self, inbound: Inbound, text: str, service: Service | None, price: str | None = None) -> Outbound:
        return Outbound(
            to=inbound.sender,
            sender=inbound.recipient,
            text=text,
            channel=inbound.channel if inbound.channel.value != "call" else inbound.channel.SMS,
            kind=Kind.REPLY,
            service=service.key if service else "",
            price=price or "",
        )

    def _fallback(
        self, inbound: Inbound, service: Service, route: Destination, keyword: str, role: str
    ) -> tuple[Outcome, Effects]:
        outcome, effects = Outcome("fallback", service.key), Effects()
        if service.fallback is not None:
            text = self._render(service.fallback, self._context(inbound, service, route, keyword, role), outcome)
            if text:
                effects.replies.append(self._reply(inbound, text, service))
        return outcome, effects

    def _platform_reply(
        self, inbound: Inbound, number: OwnNumber, route: Destination, keyword: str
    ) -> tuple[Outcome, Effects, Keys]:
        """START/STOP/HELP nobody's rules took, and unknown keywords: the platform answers."""
        scope = Keys.for_number(number.address)
        effects = Effects()
        status = "reserved" if route.reserved else "unknown-keyword"
        optout = scope.optout(number.address)
        if route.reserved == "stop":
            effects.writes.append(Write("SADD", optout, (inbound.sender,)))
            stopped_at = int(inbound.received_at.timestamp() * 1000)
            effects.writes.append(Write("HSET", scope.stopped_at(number.address), (inbound.sender, stopped_at)))
            effects.settle.append(inbound.sender)
        elif route.reserved == "start":
            effects.writes.append(Write("SREM", optout, (inbound.sender,)))
        template = number.replies.get(route.reserved or "unknown")
        outcome = Outcome(status)
        if template:
            first = route.keyword or (route.args.split(maxsplit=1) or [""])[0]
            context = self._context(inbound, None, route, keyword, "stranger") | {"keyword": echoed(first)}
            text = self._render(template, context, outcome)
            if text:
                effects.replies.append(self._reply(inbound, text, None))
        return outcome, effects, scope

    def _fanouts(self, scope: Keys, outcome: Outcome, effects: Effects) -> list[Write]:
        """Broadcasts an action started: each becomes the first entry of the scope's bulk stream."""
        writes = []
        for fanout in effects.fanouts:
            fanout = replace(fanout, message=self.hooks.prepare_outgoing(fanout.message))
            outcome.fanouts.append({"id": fanout.id, "source": fanout.source, "text": fanout.message.text})
            writes.append(outbox.start(scope, fanout))
        return writes

    def _outgoing(
        self, own_id: Callable[[], str], branches: list[tuple[Outcome, list[Outbound]]]
    ) -> list[list[outbox.Single]]:
        """Prepare and vet the replies of every way the message may end (one batch check for all of them);
        give each reply an id that is stable across retries (``<own_id()>:<n>``)."""
        prepared = [[self.hooks.prepare_outgoing(message) for message in replies] for _, replies in branches]
        flat = [message for replies in prepared for message in replies]
        vetoes = iter(self.hooks.vet_many(flat, self.redis, self.platform) if flat else [])
        result = []
        prefix = own_id() if flat else ""
        for (outcome, _), replies in zip(branches, prepared, strict=True):
            queued: list[outbox.Single] = []
            for n, message in enumerate(replies):
                veto = next(vetoes)
                if veto is not None:
                    outcome.vetoed.append({"to": message.to, "reason": veto.reason, "plugin": veto.plugin})
                    continue
                queued.append(outbox.Single(f"{prefix}:{n}", message))
            outcome.replies = [entry.to_dict() for entry in queued]
            result.append(queued)
        return result

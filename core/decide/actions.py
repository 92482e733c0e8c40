"""What plugins declare (actions, parameters) and what they receive (calls)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from kodeord.commit.keys import Keys
from kodeord.inbound.messages import Inbound

if TYPE_CHECKING:
    import redis

    from kodeord.commit.effects import Effects
    from kodeord.config.model import Rule, Service
    from kodeord.web.links import Links

_TYPE_NAMES: dict[type, str] = {
    str: "text",
    int: "a whole number",
    float: "a number",
    bool: "true or false",
    list: "a list",
    dict: "a mapping",
}


@dataclass(frozen=True)
class Param:
    """One parameter an action accepts in a rule's ``with:``."""

    name: str
    type: type = str
    required: bool = False
    default: Any = None
    doc: str = ""
    validate: Callable[[Any], str | None] | None = None  # a further check of a value of the right type

    def check(self, value: Any) -> str | None:
        """The problem with ``value``, or None when it fits."""
        ok = isinstance(value, self.type) and not (self.type is not bool and isinstance(value, bool))
        if self.type is float and isinstance(value, int) and not isinstance(value, bool):
            ok = True
        if not ok:
            return f"parameter {self.name!r} must be {_TYPE_NAMES.get(self.type, self.type.__name__)}"
        problem = self.validate(value) if self.validate is not None else None
        return f"parameter {self.name!r}: {problem}" if problem else None


@dataclass(frozen=True)
class ActionSpec:
    """An action a rule can name in ``do:``, e.g. ``addressbook.join``."""

    name: str
    description: str
    params: tuple[Param, ...] = ()
    provides: tuple[str, ...] = ()  # variables the action adds for the rule's reply template
    # The action answers START and STOP itself: its rules get them too unless they say `reserved:`
    # (HELP still gets the number's help reply).
    takes_reserved: bool = False
    # Problems with a rule naming this action, seen with its whole service (e.g. "needs a price").
    check_rule: Callable[[Rule, Service], list[str]] | None = None
    # What runs the action for one message: its Effects. Without it the action runs through the older
    # ``kodeord_run_action`` hook, which warns that it is going.
    run: Callable[[ActionCall], Effects] | None = None
    # What kind of action it is, for plugins that check services: "competition" (it takes competition answers:
    # the erb plugin refuses a competition sold as a subscription), "charge" (it counts a payment).
    tags: tuple[str, ...] = ()

    def check_params(self, given: Mapping[str, Any]) -> list[str]:
        """Problems with a rule's ``with:`` mapping for this action."""
        known = {p.name: p for p in self.params}
        problems = [f"action {self.name!r} has no parameter {k!r}" for k in given if k not in known]
        for param in self.params:
            if param.name in given:
                problem = param.check(given[param.name])
                if problem:
                    problems.append(problem)
            elif param.required:
                problems.append(f"action {self.name!r} needs parameter {param.name!r}")
        return problems

    def with_defaults(self, given: Mapping[str, Any]) -> dict[str, Any]:
        """``given`` completed with each parameter's default."""
        return {p.name: given.get(p.name, p.default) for p in self.params} | dict(given)


@dataclass(frozen=True)
class ActionCall:
    """Everything a plugin needs to run one action for one inbound message.

    ``redis`` is for reads only: state changes go in the returned ``Effects``
    so the core can commit them with the outgoing messages in one transaction.
    """

    action: str
    params: Mapping[str, Any]
    inbound: Inbound
    service: Service
    rule: Rule
    role: str
    keyword: str
    args: str
    now: datetime
    redis: redis.Redis
    keys: Keys
    dry_run: bool = False
    extra: Mapping[str, Any] = field(default_factory=dict)
    links: Links | None = None  # signed links (re-join, leave) under the platform's public URL
    # What a reply template sees before the action adds its own variables (sender, keyword as written, now in
    # the tenant's time zone...), for plugins that render replies of their own.
    context: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Veto:
    """An outgoing message a plugin refuses, with the reason (kept in the log)."""

    reason: str
    plugin: str = ""
    code: str = ""  # the rule it keeps, short (``A.1.a``): messages stopped are counted per service, plugin and code

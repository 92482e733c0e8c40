"""The rules engine behind one small interface: durable_rules, used within its limits.

Facts measured on durable_rules 2.0.28 (see DESIGN.md): a ruleset hangs above
about 480 rules, and at most 1024 sessions fit in one ruleset. So each service
compiles to its own small ruleset (at most ``MAX_RULES_PER_SERVICE`` rules),
every event goes to the one fixed session, and conversation state lives in
Redis and is passed in with the event. Compiled rulesets are kept in a bounded
LRU cache and compiled on first use, so memory does not grow with the number
of services in the rule files.

durable_rules' own regular expressions are a small dialect (no ``\\d``, no
anchors), so argument patterns are Python regular expressions evaluated here;
the engine sees the result as a fact ``a<N>`` for rule N.
"""

from __future__ import annotations

import itertools
import json
import threading
from collections import OrderedDict
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import durable_rules_engine
from durable.engine import MessageNotHandledException, Ruleset

from kodeord.config.model import Condition, Rule, Service

_ALWAYS = {"$gte": {"ts": 0}}


def _any_of(field: str, values: Any) -> dict[str, Any]:
    options = [{field: v} for v in sorted(values)]
    return options[0] if len(options) == 1 else {"$or": options}


def condition_to_durable(index: int, when: Condition) -> dict[str, Any]:
    """The durable_rules expression of rule ``index``'s condition."""
    terms: list[dict[str, Any]] = []
    if when.reserved is not None:
        terms.append(_any_of("reserved", when.reserved))
    else:
        terms.append({"reserved": ""})  # START/STOP/HELP only reach rules that ask for them
    if when.keywords is not None:
        terms.append(_any_of("kw", when.keywords))
    if when.args is not None:
        terms.append({f"a{index}": True})
    if when.roles is not None:
        terms.append(_any_of("role", when.roles))
    if when.channels is not None:
        terms.append(_any_of("channel", {c.value for c in when.channels}))
    if when.start is not None:
        terms.append({"$gte": {"ts": when.start.timestamp()}})
    if when.end is not None:
        terms.append({"$lt": {"ts": when.end.timestamp()}})
    if when.hours is not None:
        begin, end = when.hours
        if begin <= end:
            terms += [{"$gte": {"minute": begin}}, {"$lt": {"minute": end}}]
        else:  # a window across midnight, e.g. 22:00-02:00
            terms.append({"$or": [{"$gte": {"minute": begin}}, {"$lt": {"minute": end}}]})
    if when.days is not None:
        terms.append(_any_of("weekday", when.days))
    if not terms:
        return _ALWAYS
    return terms[0] if len(terms) == 1 else {"$and": terms}


_UNCONDITIONAL = Condition()


def unconditional(service: Service, reserved: str | None) -> Rule | None:
    """The service's first rule when it has no condition and the message is no reserved word: the rule the
    engine would pick, known without asking it (a poll's or a donation's single rule, say)."""
    if reserved is None and service.rules and service.rules[0].when == _UNCONDITIONAL:
        return service.rules[0]
    return None


def facts(
    service: Service,
    *,
    keyword: str,
    args: str,
    reserved: str | None,
    role: str,
    channel: str,
    now: datetime,
) -> dict[str, Any]:
    """The event the engine decides on: the message and its context, flattened."""
    local = now.astimezone(ZoneInfo(service.timezone))
    event: dict[str, Any] = {
        "kw": keyword,
        "reserved": reserved or "",
        "role": role,
        "channel": channel,
        "ts": now.timestamp(),
        "minute": local.hour * 60 + local.minute,
        "weekday": local.weekday(),
    }
    for i, rule in enumerate(service.rules):
        if rule.when.args is not None:
            event[f"a{i}"] = rule.when.args.fullmatch(args) is not None
    return event


class _Compiled:
    """One service's ruleset; ``decide`` returns the first rule that matches."""

    _names = itertools.count()

    def __init__(self, service: Service) -> None:
        self.rules = service.rules
        self._chosen: list[int] = []
        definition = {
            f"r{i}": {
                "all": [{"m": condition_to_durable(i, rule.when)}],
                "pri": i,
                "run": self._recorder(i),
            }
            for i, rule in enumerate(service.rules)
        }
        # Ruleset names must be unique per process; the engine keeps them in C.
        self._ruleset = Ruleset(f"svc{next(self._names)}", None, definition) if definition else None
        self._ids = itertools.count()
        self._used = False

    def _recorder(self, index: int) -> Any:
        def run(_closure: Any) -> None:
            self._chosen.append(index)

        return run

    def decide(self, event: dict[str, Any]) -> Rule | None:
        if self._ruleset is None:
            return None
        self._chosen.clear()
        event = {**event, "id": next(self._ids), "sid": "0"}
        try:
            state = self._ruleset.assert_event(event)
        except MessageNotHandledException:  # no rule matched, and the engine made no session state
            return None
        self._used = True
        errors: list[Any] = []
        self._ruleset.do_actions(state, lambda error, _state: errors.append(error))
        if errors and errors[0]:
            raise RuntimeError(f"rules engine failed: {errors[0]}")
        return self.rules[self._chosen[0]] if self._chosen else None

    def close(self) -> None:
        if self._ruleset is not None:
            if self._used:  # else its session state leaks; deleting one never made crashes
                durable_rules_engine.delete_state(self._ruleset._handle, "0")
            durable_rules_engine.delete_ruleset(self._ruleset._handle)
            self._ruleset = None


class Engine:
    """Decides which rule of a service applies to an event; thread-safe."""

    def __init__(self, cache_size: int = 512) -> None:
        self.cache_size = cache_size
        self._cache: OrderedDict[int, tuple[Service, _Compiled]] = OrderedDict()
        self._lock = threading.Lock()

    def decide(self, service: Service, event: dict[str, Any]) -> Rule | None:
        """The first rule of ``service`` whose condition holds for ``event``, or None."""
        with self._lock:
            compiled = self._compiled(service)
            return compiled.decide(event)

    def check(self, service: Service) -> None:
        """Compile ``service`` once to prove the engine accepts it (raises on failure)."""
        with self._lock:
            _Compiled(service).close()

    def _compiled(self, service: Service) -> _Compiled:
        # Keyed by identity: a reload makes new Service objects, so stale rules are never used.
        key = id(service)
        entry = self._cache.get(key)
        if entry is not None and entry[0] is service:
            self._cache.move_to_end(key)
            return entry[1]
        if entry is not None:  # the id of a freed Service was reused
            entry[1].close()
        compiled = _Compiled(service)
        self._cache[key] = (service, compiled)
        while len(self._cache) > self.cache_size:
            _, (_, old) = self._cache.popitem(last=False)
            old.close()
        return compiled

    def close(self) -> None:
        """Free every compiled ruleset."""
        with self._lock:
            for _, compiled in self._cache.values():
                compiled.close()
            self._cache.clear()

    def __len__(self) -> int:
        return len(self._cache)


def describe(service: Service) -> str:
    """The compiled definition as JSON (for debugging a rule file)."""
    return json.dumps(
        {f"r{i}": condition_to_durable(i, r.when) for i, r in enumerate(service.rules)}, ensure_ascii=False, indent=2
    )

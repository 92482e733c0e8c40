"""The gateways file: which gateways exist, how messages are routed to them, and where alerts go.

One YAML file (``KODEORD_GATEWAYS``) with three sections, ``gateways``, ``routing`` and ``alerts``; see
docs/gateways.md. Values written ``${NAME}`` are read from the environment, so secrets stay out of the file,
and out of error messages too: such a value shows itself as written (``'${NAME}'``), never as what it stands for.
Every problem is reported with file, line and column, all at once.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from kodeord.config.schema import Checker, Field, Flag, ListOf, Loc, MapOf, Number, Obj, Record, Text, value_loc
from kodeord.config.yamlfile import parse_yaml
from kodeord.outbound.gateway import GatewayType
from kodeord.outbound.operators import RouteOption, RoutingTable
from kodeord.support.errors import KodeordError, Problem, RuleFileError
from kodeord.watch.alerts import AlertConfig

ID = Text("a gateway id of letters, digits, '-' and '_'", pattern=r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")

COMMON = {
    "type": Field(Text("a gateway type"), required=True, doc="kannel, elks, json, console"),
    "rate": Field(Number("messages per second", minimum=0), default=0, doc="limit across all workers; 0: none"),
    "charging": Field(Flag(), default=False, doc="can send premium (charged) messages"),
}

ROUTE = Record(
    "a route",
    {
        "gateway": Field(ID, required=True),
        "price": Field(Number("a price per SMS", minimum=0), required=True),
        "quality": Field(Number("a quality figure", minimum=0, maximum=1), default=1.0),
    },
)
ROUTING = Record(
    "routing",
    {
        "min_quality": Field(Number("a quality figure", minimum=0, maximum=1), default=0.0),
        "default_operator": Field(Text(), default="default"),
        "operators": Field(
            MapOf(Text("an E.164 prefix such as +4670", pattern=r"\+\d{1,14}"), Text("an operator name")), default={}
        ),
        "routes": Field(MapOf(Text("an operator name"), ListOf(ROUTE, min_items=1)), default={}),
    },
)
SMTP = Record(
    "SMTP settings",
    {
        "host": Field(Text(), default="localhost"),
        "port": Field(Number("a port", minimum=1, maximum=65535, integer=True), default=25),
        "from": Field(Text("an email address"), default="kodeord@localhost"),
        "user": Field(Text()),
        "password": Field(Text()),
        "starttls": Field(Flag(), default=False),
    },
)
ALERTS = Record(
    "alerts",
    {
        "email": Field(ListOf(Text("an email address"), single=True), default=[]),
        "smtp": Field(SMTP),
        "webhook": Field(
            Record("a webhook", {"url": Field(Text("a URL"), required=True), "secret": Field(Text(), required=True)})
        ),
        "interval": Field(Number("seconds", minimum=1), default=900),
        "failure_rate": Field(Number("a share", minimum=0, maximum=1), default=0.2),
        "min_attempts": Field(Number("a count", minimum=1, integer=True), default=20),
        "window": Field(Number("seconds", minimum=1), default=300),
        "oldest_unsent": Field(Number("seconds", minimum=1), default=300),
    },
)


@dataclass(frozen=True)
class GatewaySpec:
    """One configured gateway: its id, type and checked options (``rate`` and ``charging`` included)."""

    id: str
    type: str
    options: Mapping[str, Any]
    loc: Loc


@dataclass(frozen=True)
class GatewaysConfig:
    """The checked gateways file."""

    gateways: tuple[GatewaySpec, ...] = ()
    routing: RoutingTable = field(default_factory=RoutingTable.console)
    alerts: AlertConfig | None = None
    file: str = ""
    routed: bool = False  # the file has a routing section (without one, every message goes to the console)


class Substituted(str):
    """Text with ``${NAME}`` references replaced by their values, whose ``repr`` is the text as written.

    Error messages show values with ``!r``, so a misplaced ``${PASSWORD}`` is reported as ``'${PASSWORD}'``.
    ``str()`` keeps the mark, so values checked by the schema (``str(value)``) still hide what they hold.
    """

    written: str

    def __new__(cls, value: str, written: str) -> Substituted:
        self = super().__new__(cls, value)
        self.written = written
        return self

    def __repr__(self) -> str:
        return repr(self.written)

    def __str__(self) -> str:
        return self

    def __reduce__(self) -> tuple[type[Substituted], tuple[str, str]]:
        return Substituted, (str.__str__(self), self.written)


def _substituted_in(node: Any) -> list[Substituted]:
    """Every :class:`Substituted` value in a YAML node, recursively."""
    if isinstance(node, Substituted):
        return [node]
    if isinstance(node, Mapping):
        return [found for item in node.values() for found in _substituted_in(item)]
    if isinstance(node, list):
        return [found for item in node for found in _substituted_in(item)]
    return []


def _conceal(message: str, section: Any) -> str:
    """``message`` with each substituted value of ``section`` that other code quoted (as is or normalised) shown
    as written. For messages built where the mark is lost (RoutingTable normalises names)."""
    for value in sorted(_substituted_in(section), key=len, reverse=True):
        plain = str.__str__(value)
        for form in dict.fromkeys((plain, plain.strip(), plain.strip().lower())):
            message = message.replace(repr(form), repr(value))
    return message


def _expand(node: Any, c: Checker, loc: Loc, path: str, environ: Mapping[str, str]) -> Any:
    """``node`` with ``${NAME}`` replaced by environment values (as :class:`Substituted` text), recursively
    (in place for YAML nodes)."""
    if isinstance(node, str):

        def value(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in environ:
                c.problem(loc, path, f"environment variable {name} is not set")
                return ""
            return environ[name]

        if not _VARIABLE.search(node):
            return node
        return Substituted(_VARIABLE.sub(value, node), str.__str__(node))
    if isinstance(node, Mapping):
        for key in list(node):
            where, sub_path = value_loc(node, key, c.file, loc), f"{path}.{key}" if path else str(key)
            node[key] = _expand(node[key], c, where, sub_path, environ)  # type: ignore[index]
    elif isinstance(node, list):
        for i, item in enumerate(node):
            node[i] = _expand(item, c, value_loc(node, i, c.file, loc), f"{path}[{i}]", environ)
    return node


def load(path: Path, types: Mapping[str, GatewayType], environ: Mapping[str, str] | None = None) -> GatewaysConfig:
    """Read and check the gateways file; raise :class:`RuleFileError` listing every problem."""
    data, problems = parse_yaml(path)
    if problems:
        raise RuleFileError(problems)
    name = str(path)
    c = Checker(name)
    top = Loc(name, 1, 1)
    data = _expand(data, c, top, "", os.environ if environ is None else environ)
    shape = Record(
        "a gateways file",
        {
            "gateways": Field(MapOf(ID, _AnyMapping()), default={}),
            "routing": Field(ROUTING),
            "alerts": Field(ALERTS),
        },
    )
    obj = shape.check(data, c, top, "")
    if obj is None:
        raise RuleFileError(c.problems or [Problem(name, 1, 1, "not a gateways file")])
    gateways = tuple(_gateways(data.get("gateways") or {}, types, c, obj.where("gateways")[0]))
    routing = _routing(obj, c, {g.id for g in gateways} | {"console"}, data.get("routing"))
    alerts = _alerts(obj, c, data.get("alerts"))
    if c.problems:
        raise RuleFileError(c.problems)
    return GatewaysConfig(gateways, routing or RoutingTable.console(), alerts, name, routing is not None)


class _AnyMapping(Record):
    """Accepts any mapping (checked later against its gateway type)."""

    def __init__(self) -> None:
        super().__init__("a gateway's settings", {})

    def check(self, value: Any, c: Checker, loc: Loc, path: str) -> Any:
        if not isinstance(value, Mapping):
            self.wrong(value, c, loc, path)
            return None
        return value


def _gateways(section: Mapping[str, Any], types: Mapping[str, GatewayType], c: Checker, loc: Loc) -> list[GatewaySpec]:
    specs = []
    for gid, raw in section.items():
        where, path = value_loc(section, gid, c.file, loc), f"gateways.{gid}"
        kind = raw.get("type")
        gateway_type = types.get(str(kind)) if kind is not None else None
        if gateway_type is None:
            known = ", ".join(sorted(types))
            c.problem(
                where, path, f"unknown gateway type {kind!r}; known: {known}" if kind else "missing required key 'type'"
            )
            continue
        obj = Record(f"a {kind} gateway", {**COMMON, **gateway_type.options.fields}).check(raw, c, where, path)
        if isinstance(obj, Obj):
            specs.append(GatewaySpec(str(gid), str(kind), dict(obj.values), where))
    return specs


def _routing(obj: Obj, c: Checker, gateway_ids: set[str], raw: Any) -> RoutingTable | None:
    section: Obj | None = obj.get("routing")
    if section is None:
        return None
    loc, path = obj.where("routing")
    routes: dict[str, list[RouteOption]] = {}
    for operator, options in section.get("routes", {}).items():
        routes[operator] = []
        for option in options:
            if option["gateway"] not in gateway_ids:
                c.problem(option.loc, option.path, f"route to unknown gateway {option['gateway']!r}")
            routes[operator].append(
                RouteOption(option["gateway"], Decimal(str(option["price"])), float(option["quality"]))
            )
    try:
        return RoutingTable(
            section.get("operators", {}),
            routes,
            float(section.get("min_quality", 0.0)),
            section.get("default_operator", "default"),
        )
    except KodeordError as exc:
        c.problem(loc, path, _conceal(str(exc), raw))
        return None


def _alerts(obj: Obj, c: Checker, raw: Any) -> AlertConfig | None:
    section: Obj | None = obj.get("alerts")
    if section is None:
        return None
    smtp: Obj | None = section.get("smtp")
    hook: Obj | None = section.get("webhook")
    try:
        return AlertConfig(
            emails=tuple(section.get("email", [])),
            smtp_host=smtp.get("host", "localhost") if smtp else "localhost",
            smtp_port=int(smtp.get("port", 25)) if smtp else 25,
            smtp_from=smtp.get("from", "kodeord@localhost") if smtp else "kodeord@localhost",
            smtp_user=smtp.get("user") if smtp else None,
            smtp_password=smtp.get("password") if smtp else None,
            smtp_starttls=bool(smtp.get("starttls", False)) if smtp else False,
            webhook_url=hook["url"] if hook else None,
            webhook_secret=hook["secret"] if hook else None,
            interval_s=float(section["interval"]),
            failure_rate=float(section["failure_rate"]),
            min_attempts=int(section["min_attempts"]),
            window_s=float(section["window"]),
            oldest_unsent_s=float(section["oldest_unsent"]),
        )
    except KodeordError as exc:
        loc, path = obj.where("alerts")
        c.problem(loc, path, _conceal(str(exc), raw))
        return None

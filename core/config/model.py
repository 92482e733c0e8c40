"""The typed configuration that rule files are parsed into, once."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from kodeord.config.schema import Loc
from kodeord.inbound.messages import Channel
from kodeord.support import moved

ROLES = ("member", "writer", "functionary", "stranger")
RESERVED = ("start", "stop", "help")
NUMBER_TYPES = ("shared", "dedicated", "voice", "email")
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# durable_rules hangs above about 480 rules in one ruleset; stay far below it.
MAX_RULES_PER_SERVICE = 100


@dataclass(frozen=True)
class Hours:
    """When a customer service answers: ``days`` (0 = Monday) from ``start`` until ``end``, in minutes of the
    day, local time; ``text`` as written (``mon-fri 09:00-17:00``)."""

    days: frozenset[int]
    start: int
    end: int
    text: str

    def covers(self, day: int, start: int, end: int) -> bool:
        """Whether these hours include all of ``start``-``end`` on ``day``."""
        return day in self.days and self.start <= start and end <= self.end


@dataclass(frozen=True)
class Company:
    """The company behind a tenant's services, as marketing must name it (ERB): its name, postal address,
    customer-service number as written, that service's opening hours, and an email address (optional)."""

    name: str | None = None
    address: str | None = None
    customer_service: str | None = None
    hours: tuple[Hours, ...] = ()
    email: str | None = None


@dataclass(frozen=True)
class Tenant:
    """A customer: owns services and dedicated numbers."""

    id: str
    name: str
    timezone: str
    file: str
    company: Company | None = None  # ``company:``, where the tenant declares it


@dataclass(frozen=True)
class Words:
    """Reserved words of a number, in folded form, handled before any keyword."""

    start: frozenset[str]
    stop: frozenset[str]
    help: frozenset[str]

    def reserved(self, folded_word: str) -> str | None:
        """Which reserved word (start/stop/help) ``folded_word`` is, if any."""
        for name in RESERVED:
            if folded_word in getattr(self, name):
                return name
        return None


@dataclass(frozen=True)
class OwnNumber:
    """An address messages arrive at: short code, dedicated/voice number, list email."""

    address: str
    type: str
    country: str
    words: Words
    replies: dict[str, str]  # platform texts: start, stop, help, unknown
    loc: Loc


@dataclass(frozen=True)
class Condition:
    """When a rule applies. ``None`` means "any"."""

    reserved: frozenset[str] | None = None
    keywords: frozenset[str] | None = None  # folded
    args: re.Pattern[str] | None = None
    roles: frozenset[str] | None = None
    channels: frozenset[Channel] | None = None
    start: datetime | None = None
    end: datetime | None = None
    hours: tuple[int, int] | None = None  # minutes of day [from, until)
    days: frozenset[int] | None = None  # 0 = Monday


@dataclass(frozen=True)
class Rule:
    """One rule: a condition and what to do."""

    name: str
    when: Condition
    action: str | None
    params: dict[str, Any]
    reply: str | None
    loc: Loc
    price: str | None = None  # premium: the reply is charged to the sender, e.g. "5.00"


@dataclass(frozen=True)
class Marketing:
    """A marketing text of a service, as it will be printed, shown or sent: ``medium`` is ``sms``, ``email``,
    ``print``, ``tv``, ``web``, ``radio`` or ``other``; on TV and the web how long the number and the price are
    shown, in seconds, when the file says."""

    name: str
    medium: str
    text: str
    number_seconds: float | None = None
    price_seconds: float | None = None
    loc: Loc | None = None


@dataclass(frozen=True)
class Subscription:
    """A premium subscription: ``price`` is charged for every message sent to a subscriber, ``frequency`` says
    how often they come (as the marketing and first message say it), ``welcome`` is the first message (a
    template), ``footer`` ends every message sent (a template), and after ``confirm_after`` messages the
    subscriber is asked with ``confirm`` to answer ``confirm_word`` to go on."""

    price: str
    frequency: str
    welcome: str
    footer: str
    confirm_after: int
    confirm: str
    confirm_word: str


@dataclass(frozen=True)
class Service:
    """A customer's service on one number, with its rules."""

    tenant: str
    id: str
    number: str
    keyword: str | None
    aliases: tuple[str, ...]
    catch_all: bool
    accent_sensitive: bool
    fallback: str | None
    rules: tuple[Rule, ...]
    timezone: str
    settings: dict[str, Any]
    loc: Loc
    calls: dict[str, str] = field(default_factory=dict)  # voice number -> the words a call to it stands for
    telemarketing: bool = False  # its outgoing messages pass the do-not-call register (the nix plugin's veto)
    marketing: tuple[Marketing, ...] = ()  # its marketing texts, as declared for checks (the erb plugin's)
    subscription: Subscription | None = None  # a premium subscription: what is charged, how often, the texts

    @property
    def key(self) -> str:
        """Globally unique name, ``tenant/service``."""
        return f"{self.tenant}/{self.id}"

    @property
    def keywords(self) -> tuple[str, ...]:
        """The keyword and its aliases as written."""
        return ((self.keyword,) if self.keyword else ()) + self.aliases

    @property
    def prices(self) -> tuple[str, ...]:
        """Every price the service charges: its rules' and its subscription's."""
        found = tuple(rule.price for rule in self.rules if rule.price is not None)
        return found + ((self.subscription.price,) if self.subscription is not None else ())


@dataclass(frozen=True)
class Config:
    """Everything loaded from a set of rule files."""

    tenants: dict[str, Tenant] = field(default_factory=dict)
    numbers: dict[str, OwnNumber] = field(default_factory=dict)
    services: dict[str, Service] = field(default_factory=dict)
    files: tuple[str, ...] = ()

    def of_tenant(self, tenant: str) -> list[Service]:
        """The tenant's services, in the order the rule files declare them."""
        return [service for service in self.services.values() if service.tenant == tenant]


def __getattr__(name: str) -> Any:  # Number, the class's name before the core was laid out by stage
    return moved.renamed(__name__, name)

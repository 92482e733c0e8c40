"""The rule file format, declared as data (see docs/rules.md for the guide)."""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from kodeord.config.model import DAYS, NUMBER_TYPES, RESERVED, ROLES, Hours
from kodeord.config.schema import (
    Anything,
    Checker,
    Choice,
    Field,
    Flag,
    ListOf,
    Loc,
    MapOf,
    Number,
    Record,
    Spec,
    Text,
)

ID = Text("a name of letters, digits, '-' and '_'", pattern=r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
WORD = Text("a single word", pattern=r"[^\s]{1,40}")
ACTION = Text("an action name such as addressbook.join", pattern=r"[a-z][a-z0-9_]*\.[a-z][a-z0-9_.]*")
TEMPLATE = Text("a reply text", max_length=2000)
CHANNELS = ("sms", "call", "email")
MAX_PRICE = Decimal("500")  # far above any premium SMS price; stops typing mistakes


def _zone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r}; use a name such as Europe/Stockholm") from None
    return name


def _regex(source: str) -> re.Pattern[str]:
    try:
        return re.compile(source, re.IGNORECASE)
    except re.error as exc:
        raise ValueError(f"bad pattern {source!r}: {exc}") from None


def _price(source: str) -> str:
    try:
        price = Decimal(source.strip())
    except InvalidOperation:
        raise ValueError(f"expected a price such as 5.00, got {source!r}") from None
    if not price.is_finite() or price <= 0 or price > MAX_PRICE or price != price.quantize(Decimal("0.01")):
        raise ValueError(f"a price must be above 0 and at most {MAX_PRICE}, in whole öre/øre; got {source!r}")
    return f"{price:.2f}"


def _hours(source: str) -> tuple[int, int]:
    match = re.fullmatch(r"(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})", source.strip())
    if not match:
        raise ValueError(f"expected hours like 09:00-16:00, got {source!r}")
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    if h1 > 24 or h2 > 24 or m1 > 59 or m2 > 59:
        raise ValueError(f"no such time of day in {source!r}")
    return h1 * 60 + m1, h2 * 60 + m2


def _opening(source: str) -> Hours:
    """``mon-fri 09:00-16:00``, ``sat 10:00-14:00``, ``mon,wed 09:00-12:00``: days, then hours of the day."""
    days_text, _, hours_text = source.strip().partition(" ")
    days: set[int] = set()
    for part in days_text.lower().split(","):
        first, _, last = part.partition("-")
        if first not in DAYS or (last and last not in DAYS):
            raise ValueError(f"expected opening hours like mon-fri 09:00-16:00, got {source!r}")
        a, b = DAYS.index(first), DAYS.index(last or first)
        if b < a:
            raise ValueError(f"{part!r}: the days run from monday to sunday, in that order")
        days.update(range(a, b + 1))
    start, end = _hours(hours_text)
    if end <= start:
        raise ValueError(f"opening hours end after they begin, got {source!r}")
    return Hours(frozenset(days), start, end, source.strip())


class Moment(Spec):
    """A date and time; without a zone it is read in the tenant's time zone."""

    what = "a date and time such as 2026-12-24T18:00"

    def check(self, value: object, c: Checker, loc: Loc, path: str) -> object:
        if isinstance(value, datetime):
            return value
        if isinstance(value, str):
            try:
                return datetime.fromisoformat(value)
            except ValueError:
                pass
        self.wrong(value, c, loc, path)
        return None


WHEN = Record(
    "a condition mapping",
    {
        "reserved": Field(ListOf(Choice(RESERVED), single=True), doc="the message was START, STOP or HELP"),
        "keyword": Field(ListOf(WORD, single=True), doc="which of the service's keywords was used"),
        "args": Field(
            Text("a regular expression", convert=_regex), doc="pattern the text after the keyword must match"
        ),
        "role": Field(ListOf(Choice(ROLES), single=True), doc="sender's role"),
        "channel": Field(ListOf(Choice(CHANNELS), single=True), doc="sms, call or email"),
        "from": Field(Moment(), doc="first moment the rule applies"),
        "until": Field(Moment(), doc="moment the rule stops applying"),
        "hours": Field(Text("hours like 09:00-16:00", convert=_hours), doc="daily window, local time"),
        "days": Field(ListOf(Choice(DAYS), single=True), doc="weekdays"),
    },
)

RULE = Record(
    "a rule",
    {
        "name": Field(ID, required=True, doc="unique within the service; shown in logs and `rules try`"),
        "when": Field(WHEN, default=None, doc="conditions; all must hold; none means always"),
        "do": Field(ACTION, doc="the plugin action to run"),
        "with": Field(Anything(), default=None, doc="the action's parameters"),
        "reply": Field(TEMPLATE, doc="reply template sent back to the sender"),
        "price": Field(Text("a price such as 5.00", convert=_price), doc="charge the reply to the sender (premium)"),
    },
)

WORDS = Record(
    "reserved words",
    {name: Field(ListOf(WORD, single=True, min_items=1)) for name in RESERVED},
)

REPLIES = Record(
    "platform replies",
    {name: Field(TEMPLATE) for name in (*RESERVED, "unknown", "receipt")},
)

NUMBER = Record(
    "a number",
    {
        "number": Field(Text("a phone number, short code or email address"), required=True),
        "type": Field(Choice(NUMBER_TYPES), doc="shared short code, dedicated, voice or email"),
        "country": Field(Choice(("se", "no")), default="se"),
        "words": Field(WORDS, doc="override the reserved START/STOP/HELP words"),
        "replies": Field(REPLIES, doc="texts for START, STOP, HELP and unknown keywords"),
    },
)

MEDIA = ("sms", "email", "print", "tv", "web", "radio", "other")

MARKETING = Record(
    "a marketing text",
    {
        "name": Field(ID, required=True, doc="names the text in messages and reports"),
        "medium": Field(Choice(MEDIA), required=True, doc="where it appears: sms, email, print, tv, web, radio"),
        "text": Field(Text("the text as it will appear", max_length=5000), required=True),
        "number_seconds": Field(
            Number("seconds", minimum=0, maximum=3600), doc="TV and web: how long the number is shown"
        ),
        "price_seconds": Field(
            Number("seconds", minimum=0, maximum=3600), doc="TV and web: how long the price is shown"
        ),
    },
)

SUBSCRIPTION = Record(
    "a subscription",
    {
        "price": Field(Text("a price such as 5.00", convert=_price), required=True, doc="charged for every message"),
        "frequency": Field(Text("how often messages come", max_length=200), required=True),
        "welcome": Field(TEMPLATE, required=True, doc="the first message: price, frequency and how to stop"),
        "footer": Field(TEMPLATE, required=True, doc="ends every message: the price and a customer-service number"),
        "confirm_after": Field(
            Number("a number of messages", minimum=1, maximum=1000, integer=True),
            default=10,
            doc="messages before the subscriber is asked to confirm again",
        ),
        "confirm": Field(TEMPLATE, required=True, doc="the question asking the subscriber to confirm again"),
        "confirm_word": Field(WORD, default="JA", doc="the answer that confirms"),
    },
)

SERVICE = Record(
    "a service",
    {
        "id": Field(ID, required=True),
        "number": Field(Text("a phone number, short code or email address"), required=True),
        "keyword": Field(WORD, doc="the code word that selects this service on the number"),
        "aliases": Field(ListOf(WORD, single=True), default=[], doc="other words for the same service"),
        "catch_all": Field(Flag(), default=False, doc="take every message to the number not claimed by a keyword"),
        "calls": Field(
            MapOf(Text("a voice number"), Text("the words a call stands for", max_length=160)),
            default={},
            doc="voice numbers whose calls come to this service, each as if the caller had texted "
            "the keyword and these words",
        ),
        "accent_sensitive": Field(Flag(), default=False, doc="treat ö and o as different letters"),
        "fallback": Field(TEMPLATE, doc="reply when no rule matches"),
        "settings": Field(Anything(), default=None, doc="plugin settings for this service"),
        "telemarketing": Field(
            Flag(), default=False, doc="calls or texts consumers to sell: the do-not-call register applies"
        ),
        "marketing": Field(ListOf(MARKETING), default=[], doc="the service's marketing texts, checked at load"),
        "subscription": Field(SUBSCRIPTION, doc="a premium subscription: price, frequency and its texts"),
        "rules": Field(ListOf(RULE), default=[], doc="tried in order; the first that matches wins"),
    },
)

COMPANY = Record(
    "company details",
    {
        "name": Field(Text(max_length=200), doc="the company's registered name"),
        "address": Field(Text(max_length=300), doc="its postal address"),
        "customer_service": Field(Text("a phone number", max_length=40), doc="the customer-service number"),
        "hours": Field(
            ListOf(Text("opening hours like mon-fri 09:00-16:00", convert=_opening), single=True),
            default=[],
            doc="when customer service answers",
        ),
        "email": Field(Text("an email address", max_length=254)),
    },
)

TENANT = Record(
    "a tenant",
    {
        "id": Field(ID, required=True),
        "name": Field(Text(), doc="shown in the console"),
        "timezone": Field(Text("a time zone name", convert=_zone), doc="for hours, days and dates"),
        "company": Field(COMPANY, doc="the company behind the services, as marketing must name it"),
    },
)

RULE_FILE = Record(
    "a rule file",
    {
        "tenant": Field(TENANT, required=True),
        "numbers": Field(ListOf(NUMBER), default=[]),
        "services": Field(ListOf(SERVICE), default=[]),
    },
)

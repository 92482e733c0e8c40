"""What a marketing text must say, checked as a machine can: prices next to premium numbers (A.1.a), the
company's name, address and customer-service number (CS), and a subscription's price per message, frequency and
stop instruction (A.1.e, B.1).

A price is an amount in Swedish: ``4,90 kr``, ``4:90 kr/sms``, ``9 kronor per samtal``, ``50 öre``, ``9:-``
(``4,90 SEK`` is a price, but not in Swedish). It is next to the number nearest to it, when at most
:data:`NEAR` characters part them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from kodeord.config.model import Company, Subscription

from .numbers import Mention, mentions, phone_key
from .rules import breach

NEAR = 40  # characters between a premium number and its price, at most
_PRICE = re.compile(
    r"(?<![\w,.:])(?P<amount>\d{1,4}(?:[,.:]\d{1,2})?)(?::-)?\s*(?P<unit>kr\b|kronor\b|öre\b|sek\b|:-)"
    r"(?:\s*(?:/|per|i|för|varje)\s*(?P<per>sms|meddelande|mms|min(?:ut)?|samtal|vecka|veckan|dag|dagen|"
    r"månad|månaden)\b)?",
    re.IGNORECASE,
)
_PER_MESSAGE = frozenset({"sms", "meddelande", "mms"})
STOP_WORD = "STOPP"


@dataclass(frozen=True)
class Price:
    """A price in a text: where, the amount in kronor, whether it is written in Swedish, and what it is per."""

    start: int
    end: int
    amount: Decimal
    swedish: bool
    per: str | None


def prices(text: str) -> list[Price]:
    """The prices ``text`` states, in order."""
    found = []
    for match in _PRICE.finditer(text):
        amount = Decimal(match["amount"].replace(",", ".").replace(":", "."))
        unit = match["unit"].lower()
        if unit == "öre":
            amount = amount / 100
        per = match["per"].lower() if match["per"] else None
        found.append(Price(match.start(), match.end(), amount, unit != "sek", per))
    return found


def kronor(amount: Decimal) -> str:
    """An amount as Swedish marketing writes it: ``4,90 kr``."""
    return f"{amount:.2f}".replace(".", ",") + " kr"


@dataclass(frozen=True)
class Context:
    """What a text is checked against: the ``company`` it must name (None: not checked), the prices charged
    at each premium number (E.164 or a short code's digits; an empty tuple: not known), the short codes the
    rule files declare and those of them that are premium (None: any code of a premium code's shape), and
    the ``subscription`` the text markets (A.1.e)."""

    company: Company | None = None
    charges: Mapping[str, tuple[Decimal, ...]] = field(default_factory=dict)
    short_codes: frozenset[str] = frozenset()
    premium_shorts: frozenset[str] | None = None
    subscription: Subscription | None = None

    def mentions(self, text: str) -> list[Mention]:
        """The numbers ``text`` names, premium where this context says so."""
        found = mentions(text, self.short_codes, self.premium_shorts)
        return [m if m.premium or m.key not in self.charges else _premium(m) for m in found]


def _premium(mention: Mention) -> Mention:
    return Mention(mention.start, mention.end, mention.written, mention.key, True, mention.short)


def near_prices(text: str, context: Context) -> list[tuple[Mention, list[Price]]]:
    """Each premium number ``text`` names, with the prices next to it: a price belongs to the number nearest to
    it (the one before it, when two are as near), if at most :data:`NEAR` characters part them."""
    named = context.mentions(text)
    owned: dict[int, list[Price]] = {}
    for price in prices(text):
        gaps = [
            (max(price.start - m.end, m.start - price.end, 0), m.start > price.start, i) for i, m in enumerate(named)
        ]
        if gaps:
            gap, _, nearest = min(gaps)
            if gap <= NEAR:
                owned.setdefault(nearest, []).append(price)
    return [(mention, owned.get(i, [])) for i, mention in enumerate(named) if mention.premium]


def price_faults(text: str, context: Context) -> list[tuple[Mention, str]]:
    """A.1.a: each premium number ``text`` names without its price next to it, in Swedish, as charged."""
    faults = []
    for mention, near in near_prices(text, context):
        charged = context.charges.get(mention.key, ())
        swedish = [p for p in near if p.swedish]
        if not near:
            example = kronor(max(charged)) if charged else "4,90 kr"
            what = (
                f"{mention.written} is named without its price next to it (such as {example!r} right after the number)"
            )
        elif not swedish:
            written = kronor(near[0].amount)
            what = f"the price next to {mention.written} is not written in Swedish (write it as {written!r})"
        elif charged and not any(p.amount in charged for p in swedish):
            said = ", ".join(kronor(p.amount) for p in swedish)
            costs = " or ".join(kronor(c) for c in sorted(charged))
            what = f"the price next to {mention.written} says {said} but it costs {costs}"
        else:
            continue
        faults.append((mention, breach("A.1.a", what)))
    return faults


def _normal(text: str) -> str:
    return re.sub(r"[\s,.;:]+", " ", text).casefold().strip()


def company_faults(text: str, company: Company) -> list[str]:
    """CS: what of the company's name, address and customer-service number ``text`` leaves out."""
    normal = _normal(text)
    left_out = []
    if company.name and _normal(company.name) not in normal:
        left_out.append(f"the company's name ({company.name})")
    if company.address and _normal(company.address) not in normal:
        left_out.append(f"its address ({company.address})")
    if company.customer_service:
        wanted = phone_key(company.customer_service)
        if wanted is None or not any(m.key == wanted for m in mentions(text)):
            left_out.append(f"its customer-service number ({company.customer_service})")
    if not left_out:
        return []
    return [breach("CS", "the marketing must name " + _and(left_out))]


def _and(parts: Sequence[str]) -> str:
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def subscription_faults(text: str, subscription: Subscription, rule: str, what: str) -> list[str]:
    """A.1.e (marketing) or B.1 (the first message): what of the price per message, the frequency and how to stop
    ``text`` leaves out; ``what`` names the text in the message."""
    left_out = []
    charged = Decimal(subscription.price)
    per_message = [p for p in prices(text) if p.swedish and p.per in _PER_MESSAGE]
    if not per_message:
        left_out.append(f"the price per message (such as '{kronor(charged)}/sms')")
    elif not any(p.amount == charged for p in per_message):
        said = kronor(per_message[0].amount)
        return [breach(rule, f"{what} says {said} a message but the subscription charges {kronor(charged)}")]
    if _normal(subscription.frequency) not in _normal(text):
        left_out.append(f"how often messages come ({subscription.frequency!r}, as the subscription declares it)")
    if STOP_WORD not in text:
        left_out.append("how to stop (STOPP, in capitals)")
    if not left_out:
        return []
    return [breach(rule, f"{what} must state " + _and(left_out))]


def footer_faults(text: str, subscription: Subscription) -> list[str]:
    """B.1: every subscription message states the price and a Swedish non-premium phone number."""
    left_out = []
    charged = Decimal(subscription.price)
    stated = [p for p in prices(text) if p.swedish]
    if not stated:
        left_out.append(f"the price (such as '{kronor(charged)}/sms')")
    elif not any(p.amount == charged for p in stated):
        said = kronor(stated[0].amount)
        return [breach("B.1", f"the footer says {said} but the subscription charges {kronor(charged)} a message")]
    if not any(not m.short and not m.premium and m.key.startswith("+46") for m in mentions(text)):
        left_out.append("a Swedish phone number that is not premium-rate (such as customer service's)")
    if not left_out:
        return []
    return [breach("B.1", "every subscription message must state " + _and(left_out) + ": the footer does not")]

"""Numbers in marketing: phone numbers found in a text (premium-rate or not), short codes, and whether a number
can be a customer service's (Swedish, valid, not premium-rate).

Swedish premium-rate numbers are the 0900, 0939 and 0944 series and 099 (televoting); phonenumbers calls them
``PREMIUM_RATE``. A short code is premium where a service with prices lives on it (the rule files say), or, in
an ad read without rule files, when it has the shape of a Swedish premium SMS code (five digits from 71 or 72).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberType

PREMIUM_SERIES = ("900", "939", "944", "99")  # national numbers (without the trunk 0) of premium-rate calls
# A phone number as people write it: + or 00 or 0, then digits in groups of spaces and dashes.
_CANDIDATE = re.compile(r"(?<![\w+])(?:\+|00|0)\d(?:[ \u00a0\-]?\d){4,16}(?![\d])")
_GROUP = re.compile(r"[ \u00a0\-]")
_PRICE_AFTER = re.compile(r"(?:[,.:]\d{1,2})?\s*(?:kr\b|kronor\b|öre\b|sek\b|:-)", re.IGNORECASE)
_SHORT = re.compile(r"(?<![\w+,.:/-])\d{3,6}(?![\w]|[,.:]\d)")
_PREMIUM_SHORT = re.compile(r"7[12]\d{3}")


@dataclass(frozen=True)
class Mention:
    """A number named in a text: where (``start``, ``end``), as written, and as ``key`` (``+46...`` for a phone
    number, the digits for a short code); ``premium`` if calling or texting it costs more than normal traffic."""

    start: int
    end: int
    written: str
    key: str
    premium: bool
    short: bool


def phone_key(written: str) -> str | None:
    """``written`` as an E.164 number (``+46812345678``), if it is a valid phone number (Swedish by default)."""
    try:
        number = phonenumbers.parse(written, "SE")
    except NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def is_premium(key: str) -> bool:
    """Whether the E.164 number ``key`` is a Swedish premium-rate number."""
    if not key.startswith("+46"):
        return False
    if key[3:].startswith(PREMIUM_SERIES):
        return True
    return phonenumbers.number_type(phonenumbers.parse(key)) == PhoneNumberType.PREMIUM_RATE


def customer_service_fault(written: str) -> str | None:
    """Why ``written`` cannot be a customer-service number (not a number, foreign, premium-rate), or None."""
    try:
        number = phonenumbers.parse(written, "SE")
    except NumberParseException:
        return f"{written!r} is not a phone number"
    if number.country_code != 46:
        return f"{written} is a foreign number (+{number.country_code}); it must be a Swedish one"
    if not phonenumbers.is_valid_number(number):
        return f"{written} is not a valid Swedish number"
    key = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    if is_premium(key):
        return f"{written} is a premium-rate number; calling customer service must cost no more than a normal call"
    return None


def mentions(
    text: str, short_codes: frozenset[str] = frozenset(), premium_shorts: frozenset[str] | None = None
) -> list[Mention]:
    """The numbers ``text`` names, in order: phone numbers, and short codes that are in ``short_codes`` (those
    the rule files declare) or, when ``premium_shorts`` is None, have a premium code's shape. ``premium_shorts``
    are the short codes where a premium service lives."""
    found = list(_phones(text))
    taken = [(m.start, m.end) for m in found]
    for match in _SHORT.finditer(text):
        code = match.group()
        if any(start <= match.start() < end for start, end in taken):
            continue
        known = code in short_codes
        shaped = premium_shorts is None and _PREMIUM_SHORT.fullmatch(code) is not None
        if known or shaped:
            premium = shaped or (premium_shorts is not None and code in premium_shorts)
            found.append(Mention(match.start(), match.end(), code, code, premium, True))
    return sorted(found, key=lambda m: m.start)


def _phones(text: str) -> Iterator[Mention]:
    """Phone numbers in ``text``: each candidate cut to its longest valid beginning, group by group, and without
    a last group that begins a price (``0900-123 45 67 9,90 kr`` is the number and then a price)."""
    for match in _CANDIDATE.finditer(text):
        written = match.group()
        cuts = [m.start() for m in _GROUP.finditer(written)]
        ends = [len(written), *reversed(cuts)]
        if cuts and len(written) - cuts[-1] <= 4 and _PRICE_AFTER.match(text, match.end()):
            ends = ends[1:]  # "... 9 kr/min", "... 9,90 kr": the last group is the price's
        for end in ends:
            key = phone_key(written[:end])
            if key is not None:
                yield Mention(match.start(), match.start() + end, written[:end], key, is_premium(key), False)
                break


def same_number(written: str, key: str) -> bool:
    """Whether ``written`` is the number ``key`` (an E.164 number or a short code's digits)."""
    if key.startswith("+"):
        return phone_key(written) == key
    return written.strip() == key

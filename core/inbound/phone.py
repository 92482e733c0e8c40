"""Phone numbers: parse to E.164 or refuse with the reason, never guess."""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberType

from kodeord.support.errors import InvalidNumber

_PARSE_REASONS = {
    NumberParseException.INVALID_COUNTRY_CODE: "unknown country code",
    NumberParseException.NOT_A_NUMBER: "not a phone number",
    NumberParseException.TOO_SHORT_AFTER_IDD: "too short after the international prefix",
    NumberParseException.TOO_SHORT_NSN: "too short",
    NumberParseException.TOO_LONG: "too long",
}
_MOBILE_TYPES = {PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE}


def parse(raw: str, regions: Sequence[str] = ("SE", "NO")) -> str:
    """Return ``raw`` as E.164, trying each default region for national numbers.

    A number in international form (``+46...`` or ``0046...``) is parsed as it is.
    A national number must be valid in exactly one of ``regions`` (the first
    that accepts it wins, in order). Raise :class:`InvalidNumber` with a reason.
    """
    text = raw.strip()
    if not text:
        raise InvalidNumber(raw, "empty")
    if text.startswith("00"):
        text = "+" + text[2:]
    last_reason = "not valid in any of " + ", ".join(regions)
    for region in regions if not text.startswith("+") else (None,):
        try:
            number = phonenumbers.parse(text, region)
        except NumberParseException as exc:
            last_reason = _PARSE_REASONS.get(exc.error_type, str(exc))
            continue
        if phonenumbers.is_valid_number(number):
            return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
        if text.startswith("+"):
            last_reason = "not a valid number for its country"
    raise InvalidNumber(raw, last_reason)


def is_mobile(e164: str) -> bool:
    """Whether an E.164 number is a mobile number (may receive SMS)."""
    number = phonenumbers.parse(e164, None)
    return phonenumbers.number_type(number) in _MOBILE_TYPES


_E164 = re.compile(r"\+([1-9][0-9]{6,14})")


@functools.cache
def _read_as_written(country_code: int) -> bool:
    """Whether ``phonenumbers.parse`` takes ``+<country code><national number>`` as exactly that national number
    whenever the national number does not begin with 0 (its country strips no other national prefix)."""
    region = phonenumbers.region_code_for_country_code(country_code)
    metadata = phonenumbers.PhoneMetadata.metadata_for_region_or_calling_code(country_code, region)
    return (
        metadata is not None
        and metadata.national_prefix_for_parsing in (None, "0")
        and metadata.national_prefix_transform_rule is None
    )


def _from_e164(address: str) -> phonenumbers.PhoneNumber | None:
    """``address`` as ``phonenumbers.parse(address, None)`` would read it, where that is plain to see without
    its normalising (the common case: a well-formed E.164 number); else None."""
    found = _E164.fullmatch(address)
    if found is None:
        return None
    digits = found.group(1)
    for length in (1, 2, 3):  # country codes are prefix-free
        country_code = int(digits[:length])
        if country_code in phonenumbers.COUNTRY_CODE_TO_REGION_CODE:
            national = digits[length:]
            if national.startswith("0") or len(national) < 2 or not _read_as_written(country_code):
                return None
            return phonenumbers.PhoneNumber(country_code=country_code, national_number=int(national))
    return None


@functools.lru_cache(maxsize=65536)
def mobile_problem(address: str) -> str | None:
    """Why ``address`` cannot receive an SMS from a gateway (not E.164, invalid, not a mobile), or None.

    Cached: a televote sends to the same numbers again and again. A well-formed E.164 number skips
    ``phonenumbers.parse`` (half the cost of the check, which a broadcast pays once per member).
    """
    if not address.startswith("+"):
        return "not an E.164 phone number"
    number = _from_e164(address)
    if number is None:
        try:
            number = phonenumbers.parse(address, None)
        except phonenumbers.NumberParseException as exc:
            return f"not a phone number ({exc})"
    kind = phonenumbers.number_type(number)  # UNKNOWN unless valid for its country: one check, not two
    if kind == phonenumbers.PhoneNumberType.UNKNOWN:
        return "not a valid number for its country"
    if kind not in _MOBILE_TYPES:
        return "not a mobile number"
    return None


def parse_address(raw: str, regions: Sequence[str] = ("SE", "NO")) -> str:
    """Parse a recipient address: a short code (3-6 digits) stays as digits, else E.164.

    Short codes such as ``72500`` (Sweden) or ``2040`` (Norway) are not E.164
    numbers; they are kept as their digits.
    """
    text = raw.strip()
    if text.isascii() and text.isdigit() and 3 <= len(text) <= 6:  # not "²²²" or other scripts' digits
        return text
    return parse(text, regions)

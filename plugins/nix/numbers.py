"""Phone numbers as a register holds them: the national significant number, as an int, read fast and exactly.

"08-123 456 78", "+46 8 12345678", "0046812345678" and "812345678" are all 812345678 in Sweden. A number is
valid when ``phonenumbers`` would call it valid for the register's country; anything else is an
:class:`Invalid` with the reason in a short English phrase.

``phonenumbers`` costs tens of microseconds a number, too slow for a list of a million. The common shapes
(digits with spaces or dashes, after a trunk prefix, ``+46`` or ``0046``, or none; another country's ``+47``;
text without a digit) are read here instead, with ``phonenumbers``' own metadata compiled into one regular
expression per number length, so the answer is the one it would give; every other shape (brackets, letters
among digits, an extension) is left to ``phonenumbers`` itself. Where its rules make a shortcut doubtful (a
number that keeps its trunk prefix, one that starts with the country code, a leading zero that is part of the
number), the shortcut steps aside too. ``tests/plugins/test_nix_numbers.py`` holds the two to agreement.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import phonenumbers
from phonenumbers import NumberParseException, PhoneMetadata, ValidationResult

from .spec import RegisterSpec


@dataclass(frozen=True, slots=True)
class Invalid:
    """Not a number of the register's country, and why ("too short", "a foreign number (+47)")."""

    reason: str


Parsed = int | Invalid

EMPTY = Invalid("empty")
TOO_SHORT = Invalid("too short")
TOO_LONG = Invalid("too long")
NOT_A_NUMBER = Invalid("not a phone number")
SERVICE_NUMBER = Invalid("a service number, not a subscriber's")
_PARSE_REASONS = {
    NumberParseException.INVALID_COUNTRY_CODE: Invalid("unknown country code"),
    NumberParseException.NOT_A_NUMBER: NOT_A_NUMBER,
    NumberParseException.TOO_SHORT_AFTER_IDD: TOO_SHORT,
    NumberParseException.TOO_SHORT_NSN: TOO_SHORT,
    NumberParseException.TOO_LONG: TOO_LONG,
}
# Any of these types is valid; the usual ones first, as an expression tries its alternatives in order.
_TYPES = (
    "mobile",
    "fixed_line",
    "premium_rate",
    "toll_free",
    "shared_cost",
    "voip",
    "personal_number",
    "pager",
    "uan",
    "voicemail",
)
_FOREIGN = {str(code): Invalid(f"a foreign number (+{code})") for code in phonenumbers.COUNTRY_CODE_TO_REGION_CODE}
_DIGIT = re.compile(r"\d")  # a text without any digit phonenumbers calls not a number
LONGEST_INPUT = 64  # longer text (padding, notes) is left to phonenumbers, which refuses text over 250 characters
# Separators phonenumbers ignores that spreadsheets write: no-break space, soft hyphen, the Unicode dashes, minus.
_SEPARATORS = str.maketrans(dict.fromkeys("\u00a0\u00ad\u2010\u2011\u2012\u2013\u2014\u2015\u2212"))


def _valid_patterns(metadata: PhoneMetadata) -> dict[int, re.Pattern[str]]:
    """By length, one expression matching exactly the national numbers of that length phonenumbers calls valid for
    ``metadata``'s region: the pattern of the whole region and that of one number type of that length."""
    general = metadata.general_desc
    if general is None or not general.national_number_pattern:
        return {}
    patterns = {}
    for length in general.possible_length:
        kinds = []
        for kind in _TYPES:
            desc = getattr(metadata, kind)
            if desc is None or not desc.national_number_pattern:
                continue
            if not desc.possible_length or length in desc.possible_length:
                kinds.append(desc.national_number_pattern)
        if kinds:
            patterns[length] = re.compile(rf"(?=(?:{general.national_number_pattern})\Z)(?:{'|'.join(kinds)})")
    return patterns


def _validator(country_code: int) -> Callable[[str], bool]:
    """Whether a national significant number is valid, as ``phonenumbers.is_valid_number`` decides it: a country
    code shared by several regions (Norway and Svalbard) goes to the first region its leading digits name."""
    regions = phonenumbers.COUNTRY_CODE_TO_REGION_CODE[country_code]
    if len(regions) == 1:
        only = PhoneMetadata.metadata_for_region(regions[0])
        get = (_valid_patterns(only) if only is not None else {}).get

        def valid_in_one(nsn: str) -> bool:
            pattern = get(len(nsn))
            return pattern is not None and pattern.fullmatch(nsn) is not None

        return valid_in_one
    tried = []
    for region in regions:
        metadata = PhoneMetadata.metadata_for_region(region)
        if metadata is not None:
            leading = re.compile(metadata.leading_digits) if metadata.leading_digits is not None else None
            tried.append((leading, _valid_patterns(metadata)))

    def valid_in_its_region(nsn: str) -> bool:
        for leading, patterns in tried:
            pattern = patterns.get(len(nsn))
            if leading is not None:
                if leading.match(nsn):
                    return pattern is not None and pattern.fullmatch(nsn) is not None
            elif pattern is not None and pattern.fullmatch(nsn):
                return True
        return False

    return valid_in_its_region


def _literal(pattern: str | None) -> str | None:
    """``pattern`` when it matches only itself (digits), else None."""
    return pattern if pattern and pattern.isascii() and pattern.isdigit() else None


class NumberReader:
    """Reads numbers for one register: ``reader(raw)`` is the national significant number or an ``Invalid``."""

    def __init__(self, spec: RegisterSpec) -> None:
        self.spec = spec
        self.not_valid = Invalid(f"not a valid number in {spec.country}")
        self.fast, self.usual = self._shortcut()

    def __call__(self, raw: str) -> Parsed:
        """``raw`` read as the register's number, or why it is not one."""
        found = self.fast(raw)
        return found if found is not None else self.slow(raw)

    def _shortcut(self) -> tuple[Callable[[str], Parsed | None], Callable[[str], int | None]]:
        """``fast(raw)``: ``raw`` read without phonenumbers, or None when only phonenumbers may say; and
        ``usual(digits)``, ``raw`` without spaces and dashes read if it has the usual shape of a valid number
        (trunk prefix or ``+`` and country code, then digits), else None: ``fast`` says the rest.

        Functions with everything they need in local names: they run once per row of a call list.
        """
        never = (lambda raw: None), (lambda digits: None)
        metadata = PhoneMetadata.metadata_for_region(self.spec.region)
        general = metadata.general_desc if metadata is not None else None
        if metadata is None or general is None or not general.national_number_pattern:
            return never  # a region phonenumbers knows little of: it reads every number
        possible = re.compile(general.national_number_pattern).fullmatch
        valid = _validator(self.spec.country_code)
        lengths = general.possible_length or (1, 17)
        shortest, longest, not_valid = min(lengths), max(lengths), self.not_valid
        country = str(self.spec.country_code)
        after_country = len(country)
        trunk = metadata.national_prefix_for_parsing
        if not (trunk is None or (_literal(trunk) is not None and not metadata.national_prefix_transform_rule)):
            return never  # a trunk prefix only phonenumbers can strip: it reads every number
        trunk = trunk or ""
        idd = _literal(metadata.international_prefix)

        def national(rest: str) -> Parsed | None:
            stripped = trunk != "" and rest.startswith(trunk)
            nsn = rest[len(trunk) :] if stripped else rest
            if nsn[:1] == "0":
                return None  # a number whose own first digit is 0 (phonenumbers' "leading zero")
            if valid(nsn):
                return int(nsn)  # valid, so phonenumbers strips the trunk prefix too
            if stripped and possible(rest):
                return None  # phonenumbers keeps a trunk prefix when that leaves a possible number
            length = len(nsn)
            return TOO_SHORT if length < shortest else TOO_LONG if length > longest else not_valid

        def abroad(rest: str) -> Parsed | None:
            """``rest`` (digits after + or the international prefix, not our country code): another country's."""
            if rest[:1] in ("", "0"):
                return None
            return _FOREIGN.get(rest[:1]) or _FOREIGN.get(rest[:2]) or _FOREIGN.get(rest[:3])

        def fast(raw: str) -> Parsed | None:
            if len(raw) > LONGEST_INPUT:
                return None
            digits = raw.replace(" ", "").replace("-", "")
            if not (digits.isdigit() and digits.isascii()):
                digits = digits.strip().translate(_SEPARATORS)
                if not digits:
                    return EMPTY
                if digits[0] == "+":
                    rest = digits[1:]
                    if not (rest.isdigit() and rest.isascii()):
                        return None
                    return national(rest[after_country:]) if rest.startswith(country) else abroad(rest)
                if not (digits.isdigit() and digits.isascii()):
                    return NOT_A_NUMBER if _DIGIT.search(digits) is None else None
            if idd is None:
                return None  # phonenumbers may read any digits as after an international prefix
            if digits.startswith(idd):
                rest = digits[len(idd) :]
                return national(rest[after_country:]) if rest.startswith(country) else abroad(rest)
            if digits.startswith(country):
                return None  # phonenumbers may read "46..." as "+46..."
            return national(digits)

        if idd is None:
            return fast, never[1]
        plus_country = "+" + country
        after_plus = len(plus_country)
        after_trunk = len(trunk)

        def usual(digits: str) -> int | None:
            if trunk and digits.startswith(trunk) and not (digits.startswith(idd) or digits.startswith(country)):
                nsn = digits[after_trunk:]
            elif digits.startswith(plus_country):
                nsn = digits[after_plus:]
                if trunk and nsn.startswith(trunk):
                    return None
            else:
                return None
            if nsn[:1] in ("0", "") or not (nsn.isdigit() and nsn.isascii()) or not valid(nsn):
                return None
            return int(nsn)

        return fast, usual

    def slow(self, raw: str) -> Parsed:
        """``raw`` read by phonenumbers (any shape it knows)."""
        spec = self.spec
        try:
            number = phonenumbers.parse(raw, spec.region)
        except NumberParseException as exc:
            return _PARSE_REASONS.get(exc.error_type, NOT_A_NUMBER)
        if number.country_code != spec.country_code:
            return Invalid(f"a foreign number (+{number.country_code})")
        if not phonenumbers.is_valid_number(number):
            why = phonenumbers.is_possible_number_with_reason(number)
            return {ValidationResult.TOO_SHORT: TOO_SHORT, ValidationResult.TOO_LONG: TOO_LONG}.get(why, self.not_valid)
        if number.italian_leading_zero:
            return SERVICE_NUMBER
        return int(number.national_number or 0)

    def many(self, raws: Iterable[str]) -> list[Parsed]:
        """Each of ``raws`` read, in order."""
        fast, slow, usual = self.fast, self.slow, self.usual
        found: list[Parsed] = []
        add = found.append
        for raw in raws:
            one: Parsed | None = usual(raw.replace(" ", "").replace("-", "")) if len(raw) <= LONGEST_INPUT else None
            if one is None:
                one = fast(raw)
                if one is None:
                    one = slow(raw)
            add(one)
        return found


@functools.cache
def reader(register: RegisterSpec) -> NumberReader:
    """The reader of ``register``'s numbers (made once per register)."""
    return NumberReader(register)


def parse(raw: str, register: RegisterSpec) -> Parsed:
    """``raw`` as ``register``'s national significant number, or an :class:`Invalid` saying why it is not one."""
    return reader(register)(raw)


def parse_many(raws: Iterable[str], register: RegisterSpec) -> list[Parsed]:
    """:func:`parse` of each of ``raws``, in order (faster than one call at a time)."""
    return reader(register).many(raws)


def by_phonenumbers(raw: str, register: RegisterSpec) -> Parsed:
    """:func:`parse` done by phonenumbers alone: what the fast reading must agree with."""
    return reader(register).slow(raw)

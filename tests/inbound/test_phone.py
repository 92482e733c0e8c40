"""Phone numbers: E.164 or a refusal with the reason."""

from __future__ import annotations

import phonenumbers
import pytest
from hypothesis import given
from hypothesis import strategies as st

from kodeord.inbound import phone
from kodeord.support.errors import InvalidNumber


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("070-123 45 67", "+46701234567"),
        ("+46 70 123 45 67", "+46701234567"),
        ("0046701234567", "+46701234567"),
        ("412 34 567", "+4741234567"),  # Norwegian mobile, national form
        ("+47 412 34 567", "+4741234567"),
    ],
)
def test_parses_swedish_and_norwegian_numbers(raw: str, expected: str) -> None:
    assert phone.parse(raw) == expected


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("", "empty"),
        ("hello", "not a phone number"),
        ("+46 70", "not a valid number for its country"),
        ("+999 1234567", "unknown country code"),
    ],
)
def test_refuses_with_reason(raw: str, reason: str) -> None:
    with pytest.raises(InvalidNumber) as info:
        phone.parse(raw)
    assert info.value.reason == reason


def test_regions_are_tried_in_order() -> None:
    assert phone.parse("412 34 567", regions=("NO",)) == "+4741234567"
    with pytest.raises(InvalidNumber):
        phone.parse("412 34 567", regions=("SE",))


def test_short_codes_stay_digits() -> None:
    assert phone.parse_address("72500") == "72500"
    assert phone.parse_address("2040") == "2040"
    assert phone.parse_address("0701234567") == "+46701234567"


def test_mobile_check() -> None:
    assert phone.is_mobile("+46701234567")
    assert not phone.is_mobile("+4687654321")  # Stockholm landline


@given(st.text(max_size=30))
def test_any_input_is_e164_or_refused(raw: str) -> None:
    try:
        result = phone.parse(raw)
    except InvalidNumber as exc:
        assert exc.reason
        return
    assert result.startswith("+") and result[1:].isdigit()
    assert phone.parse(result) == result


COUNTRY_CODES = sorted(phonenumbers.COUNTRY_CODE_TO_REGION_CODE)


@given(
    st.one_of(
        st.tuples(st.sampled_from(COUNTRY_CODES), st.text("0123456789", min_size=0, max_size=15)).map(
            lambda parts: f"+{parts[0]}{parts[1]}"
        ),
        st.sampled_from(
            [
                phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164)
                for region in sorted(phonenumbers.SUPPORTED_REGIONS)
                for kind in (phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE)
                if (example := phonenumbers.example_number_for_type(region, kind)) is not None
            ]
        ),
        st.text("+0123456789 -()", max_size=20),
    )
)
def test_the_quick_reading_of_an_e164_number_is_what_phonenumbers_reads(address: str) -> None:
    quick = phone._from_e164(address)
    if quick is not None:  # where it reads a number at all, it is exactly the one parse() reads
        assert quick == phonenumbers.parse(address, None)


def test_the_quick_reading_covers_the_numbers_kodeord_sends_to() -> None:
    for address in ("+46701234567", "+4791234567", "+4520123456", "+358401234567"):
        assert phone._from_e164(address) is not None
    assert phone._from_e164("+460701234567") is None  # a national prefix inside: parse() strips it
    assert phone.mobile_problem("+460701234567") is None

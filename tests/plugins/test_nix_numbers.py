"""Reading numbers for a register: the shapes people and files write, the reasons for refusing, and the fast
reading agreeing with phonenumbers on every input it answers itself."""

from __future__ import annotations

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from kodeord.plugins.nix.numbers import Invalid, by_phonenumbers, parse, parse_many, reader
from kodeord.plugins.nix.spec import SWEDEN, RegisterSpec, parse_registers

NORWAY = parse_registers(
    '{"no": {"name": "Reservasjonsregisteret", "country": "Norway", "country_code": 47, "trunk_prefix": "",'
    ' "months": 1}}'
)["no"]


@pytest.mark.parametrize(
    ("raw", "national"),
    [
        ("08-123 456 78", 812345678),
        ("+46 8 12345678", 812345678),
        ("0046812345678", 812345678),
        ("812345678", 812345678),
        ("070-123 45 67", 701234567),
        ("+46 (0)70 123 45 67", 701234567),
        ("+46 070-1234567", 701234567),
        ("031-12 34 56", 31123456),
        ("0910-123 45", 91012345),
        (" 08\u00a0123\u00a045\u00a067 ", 81234567),  # no-break spaces, as spreadsheets write them
        ("08\u2013123 45 67", 81234567),  # an en dash
        ("\uff10\uff17\uff10\uff11\uff12\uff13\uff14\uff15\uff16\uff17", 701234567),  # full-width digits
    ],
)
def test_the_shapes_people_write_are_one_national_number(raw: str, national: int) -> None:
    assert parse(raw, SWEDEN) == national
    assert by_phonenumbers(raw, SWEDEN) == national


@pytest.mark.parametrize(
    "raw",
    ["08-123 456 78", "+46 8 12345678", "0046812345678", "812345678", "070-123 45 67", "0701234567", "08-12", "", "hej"]
    + ["+47 22 12 34 56", "0047 22 12 34 56", "070-123 45 6"],
)
def test_common_shapes_are_read_without_phonenumbers(raw: str) -> None:
    assert reader(SWEDEN).fast(raw) == parse(raw, SWEDEN)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("", "empty"),
        ("  -  ", "empty"),
        ("hej", "not a phone number"),
        ("+47 22 12 34 56", "a foreign number (+47)"),
        ("0047 22 12 34 56", "a foreign number (+47)"),
        ("08-12", "too short"),
        ("070-123 45 67 89 01 23", "too long"),
        ("070-123 45 6", "not a valid number in Sweden"),
        ("071-123 45 67", "not a valid number in Sweden"),
        ("+999 1234567", "unknown country code"),
    ],
)
def test_invalid_numbers_say_why(raw: str, reason: str) -> None:
    assert parse(raw, SWEDEN) == Invalid(reason)


def test_a_batch_reads_as_one_at_a_time() -> None:
    raws = ["08-123 456 78", "hej", "+47 22 12 34 56", "0701234567", ""]
    assert parse_many(raws, SWEDEN) == [parse(raw, SWEDEN) for raw in raws]
    assert parse_many([], SWEDEN) == []


def test_norway_is_configuration_with_its_own_rules() -> None:
    assert parse("22 12 34 56", NORWAY) == 22123456
    assert parse("+47 912 34 567", NORWAY) == 91234567
    assert parse("0047 79 12 34 56", NORWAY) == 79123456  # Svalbard shares +47
    assert parse("08-123 456 78", NORWAY) == Invalid("too long")
    assert parse("1234 5678", NORWAY) == Invalid("not a valid number in Norway")
    assert parse("+46 8 123 456 78", NORWAY) == Invalid("a foreign number (+46)")
    assert parse("02345", NORWAY) == Invalid("a service number, not a subscriber's")


AREAS = ["8", "31", "40", "90", "910", "70", "72", "73", "76", "79", "20", "77", "74", "75", "10", "900", "99", "254"]
PREFIXES = [
    "",
    "0",
    "+46",
    "+46 ",
    "0046",
    "+46 0",
    "+460",
    "46",
    "00",
    "+",
    "+47",
    "0047",
    "000",
    "4646",
    "0 0",
    "++46",
]
SEPARATORS = [" ", "-", "", "", "", "\u00a0", "\u2013", "  ", "- ", "\t", "(", ")", "/", ".", "+", "x"]


@st.composite
def written_numbers(draw: st.DrawFn, areas: list[str] = AREAS) -> str:
    """A number as someone may write it: a prefix, an area code (real or not), digits, separators between."""
    digits = draw(st.sampled_from(areas) | st.text("0123456789", max_size=3)) + draw(
        st.text("0123456789", min_size=0, max_size=11)
    )
    cuts = sorted(draw(st.lists(st.integers(0, len(digits)), max_size=4)))
    chunks = [digits[a:b] for a, b in zip([0, *cuts], [*cuts, len(digits)], strict=True)]
    separator = st.sampled_from(SEPARATORS)
    written = chunks[0] + "".join(draw(separator) + chunk for chunk in chunks[1:])
    return draw(st.sampled_from(PREFIXES)) + written + draw(st.sampled_from(["", "", " ", "\n", "-"]))


def agrees(raw: str, register: RegisterSpec) -> None:
    numbers = reader(register)
    assert numbers.many([raw]) == [numbers(raw)]
    usual = numbers.usual(raw.replace(" ", "").replace("-", ""))
    if usual is not None:  # the shortcut of the shortcut, for a list's rows
        assert usual == by_phonenumbers(raw, register), (raw, usual)
    fast = numbers.fast(raw)
    if fast is None:
        return  # left to phonenumbers
    expected = by_phonenumbers(raw, register)
    if isinstance(expected, Invalid):
        assert isinstance(fast, Invalid), (raw, fast, expected)
    else:
        assert fast == expected, (raw, fast, expected)


@settings(max_examples=3000)
@given(written_numbers())
@example("+46 0046812345678")
@example("4681234567")
@example("08" + " " * 70 + "1234567")
def test_the_fast_reading_agrees_with_phonenumbers_on_written_numbers(raw: str) -> None:
    agrees(raw, SWEDEN)


@settings(max_examples=1000)
@given(written_numbers(["2", "22", "79", "4", "9", "0", "8", "80", "47", "23"]))
def test_the_fast_reading_agrees_with_phonenumbers_for_norway(raw: str) -> None:
    agrees(raw, NORWAY)


@settings(max_examples=1000)
@given(st.text(st.sampled_from("0123456789+- ()\u00a0x#*.;,/\t\u0660\uff10") | st.characters(), max_size=30))
def test_any_text_is_a_number_or_a_reason_and_never_an_error(raw: str) -> None:
    found = parse(raw, SWEDEN)
    assert isinstance(found, int) or (isinstance(found, Invalid) and found.reason)
    agrees(raw, SWEDEN)

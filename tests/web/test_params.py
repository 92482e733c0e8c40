"""Whole numbers from a request's untrusted text: ASCII digits up to a maximum, nothing else."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kodeord.web.params import parse_whole


@given(value=st.integers(0, 10**12), maximum=st.integers(0, 10**12), zeros=st.integers(0, 3))
def test_digits_up_to_the_maximum_are_their_number(value: int, maximum: int, zeros: int) -> None:
    assert parse_whole("0" * zeros + str(value), maximum) == (value if value <= maximum else None)


@pytest.mark.parametrize("text", ["", " 7", "7 ", "+7", "-3", "1_000", "1e3", "٣", "²", "0x10", "9" * 5000])
def test_anything_but_plain_digits_is_none(text: str) -> None:
    assert parse_whole(text, 10**6) is None


@given(text=st.text())
def test_any_text_gives_a_number_in_range_or_none(text: str) -> None:
    result = parse_whole(text, 1000)
    assert result is None or (0 <= result <= 1000 and text.isascii() and text.isdigit())

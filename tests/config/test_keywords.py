"""Keyword folding: case- and accent-insensitive."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from kodeord.config import keywords


def test_swedish_and_norwegian_letters_fold() -> None:
    assert keywords.fold("RÖSTA") == keywords.fold("rösta") == keywords.fold("ROSTA") == "rosta"
    assert keywords.fold("BLÅBÆR") == "blabaer"
    assert keywords.fold("Søk") == "sok"
    assert keywords.casefold("RÖSTA") == "rösta" != keywords.casefold("ROSTA")


def test_split_first() -> None:
    assert keywords.split_first("  mello   03  ") == ("mello", "03")
    assert keywords.split_first("START") == ("START", "")
    assert keywords.split_first("   ") == ("", "")


@given(st.text())
def test_fold_is_idempotent_and_case_blind(word: str) -> None:
    folded = keywords.fold(word)
    assert keywords.fold(folded) == folded
    assert keywords.fold(word.upper()) == keywords.fold(word.lower()) or not word.isascii()

"""Webhook signatures and callback tokens: genuine ones pass, anything altered, stale or foreign is refused."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kodeord.inbound import signing
from kodeord.inbound.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, SignatureError

NOW = 1_800_000_000.0


@given(secret=st.text(min_size=1), body=st.binary())
def test_a_signed_body_verifies_and_any_change_to_it_does_not(secret: str, body: bytes) -> None:
    headers = signing.sign(secret, body, now=NOW)
    signing.verify(secret, body, headers[TIMESTAMP_HEADER], headers[SIGNATURE_HEADER], now=NOW + 10)
    with pytest.raises(SignatureError, match="does not match"):
        signing.verify(secret, body + b"x", headers[TIMESTAMP_HEADER], headers[SIGNATURE_HEADER], now=NOW)
    with pytest.raises(SignatureError, match="does not match"):
        signing.verify(secret + "x", body, headers[TIMESTAMP_HEADER], headers[SIGNATURE_HEADER], now=NOW)


@pytest.mark.parametrize(
    ("timestamp", "signed", "problem"),
    [
        (None, "sha256=00", "missing"),
        ("1800000000", "", "missing"),
        ("18e8", "sha256=00", "Unix seconds"),
        ("-1800000000", "sha256=00", "Unix seconds"),
        ("٣", "sha256=00", "Unix seconds"),
        ("1799999000", "sha256=00", "more than 300 s away"),
        ("1800001000", "sha256=00", "more than 300 s away"),
    ],
)
def test_a_missing_malformed_or_stale_signature_says_which(timestamp: str | None, signed: str, problem: str) -> None:
    with pytest.raises(SignatureError, match=problem):
        signing.verify("k", b"{}", timestamp, signed, now=NOW)


def test_an_old_signature_replayed_later_is_refused() -> None:
    headers = signing.sign("k", b"{}", now=NOW)
    with pytest.raises(SignatureError, match="replayed"):
        signing.verify("k", b"{}", headers[TIMESTAMP_HEADER], headers[SIGNATURE_HEADER], now=NOW + 301)


@given(secret=st.text(min_size=1), parts=st.lists(st.text(), min_size=1, max_size=3), other=st.text())
def test_a_token_checks_only_for_its_own_parts(secret: str, parts: list[str], other: str) -> None:
    token = signing.token(secret, *parts)
    assert signing.check_token(secret, token, *parts)
    assert not signing.check_token(secret, token, *parts, other)
    assert not signing.check_token(secret, other, *parts) or other == token


@given(given_text=st.text())
def test_any_presented_text_is_compared_without_an_error(given_text: str) -> None:
    assert signing.same(given_text, "genuine") is (given_text == "genuine")
    assert signing.same(None, "genuine") is False

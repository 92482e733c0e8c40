"""Signed links: a token loads only for its purpose and only as made; the key is read on first use."""

from __future__ import annotations

from urllib.parse import unquote

from hypothesis import given
from hypothesis import strategies as st

from kodeord.web.links import Links

PAYLOADS = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=8,
)


@given(payload=PAYLOADS)
def test_a_token_loads_its_payload_for_its_purpose_only(payload: object) -> None:
    links = Links("https://kodeord.example/", lambda: "key")
    token = links.token("leave", payload)
    assert links.load("leave", token) == payload
    assert links.load("join", token) is None
    assert Links("https://kodeord.example", lambda: "other key").load("leave", token) is None


@given(token=st.text())
def test_any_text_that_was_not_made_as_a_token_is_refused(token: str) -> None:
    assert Links("https://kodeord.example", lambda: "key").load("leave", token) is None


def test_an_altered_token_is_refused_and_a_url_carries_the_token_under_the_public_url() -> None:
    links = Links("https://kodeord.example/", lambda: "key")
    url = links.url("/addressbook/leave", "leave", ["forening/medlemmar", "+46701234567"])
    assert url.startswith("https://kodeord.example/addressbook/leave/")
    token = unquote(url.rsplit("/", 1)[1])
    assert links.load("leave", token) == ["forening/medlemmar", "+46701234567"]
    assert links.load("leave", token[:-1] + ("A" if token[-1] != "A" else "B")) is None


def test_the_secret_key_is_read_once_and_only_when_a_link_is_made() -> None:
    asked: list[int] = []

    def key() -> str:
        asked.append(1)
        return "key"

    links = Links("https://kodeord.example", key)
    assert asked == []
    links.token("leave", 1)
    links.token("leave", 2)
    assert asked == [1]

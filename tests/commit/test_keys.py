"""Key names: every key of a scope carries its one hash tag, whatever text names the scope."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kodeord.commit.keys import OUTBOXES, Keys, platform_key

TAG = re.compile(r"\{([^{}]*)\}")


@given(service=st.text(min_size=1), parts=st.lists(st.text(), max_size=3), plugin=st.text(min_size=1))
def test_every_key_of_a_scope_has_the_scope_hash_tag_and_no_other_brace(
    service: str, parts: list[str], plugin: str
) -> None:
    keys = Keys.for_service(service)
    made = [keys.key_for(*parts), keys.plugin(plugin).key_for(*parts), keys.outbox, keys.bulk, keys.retries]
    tags = {tuple(TAG.findall(key)) for key in made}
    assert tags == {(keys.scope,)}
    assert all(key.count("{") == 1 and key.count("}") == 1 for key in made)
    assert Keys.of_stream(keys.outbox) == Keys(keys.scope) == Keys.of_stream(keys.bulk)


def test_a_service_and_a_number_have_scopes_of_their_own() -> None:
    assert Keys.for_service("tv/mello").key_for("votes") == "kodeord:{s:tv/mello}:votes"
    assert Keys.for_number("+4672500").optout("+46701234567") == "kodeord:{n:+4672500}:optout:+46701234567"
    assert Keys.for_service("tv/mello").plugin("voting").key_for("x") == "kodeord:{s:tv/mello}:voting:x"


def test_platform_keys_are_built_in_one_place() -> None:
    assert platform_key("outboxes") == OUTBOXES == "kodeord:outboxes"


@pytest.mark.parametrize("stream", ["kodeord:outbox", "kodeord:}x{", ""])
def test_a_stream_that_is_no_outbox_says_so(stream: str) -> None:
    with pytest.raises(ValueError, match="not an outbox stream"):
        Keys.of_stream(stream)

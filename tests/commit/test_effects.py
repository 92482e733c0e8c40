"""Effects as data: the writes a plugin may ask for, and guards that say what they check."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kodeord.commit.effects import ALLOWED_COMMANDS, Effects, Guard, GuardKind, Write


@given(command=st.text(max_size=12))
def test_only_the_allowed_writes_can_be_made(command: str) -> None:
    if command.upper() in ALLOWED_COMMANDS:
        assert Write(command, "k").command == command
    else:
        with pytest.raises(ValueError, match=re.escape(f"write command {command!r} is not allowed; use one of")):
            Write(command, "k")


@pytest.mark.parametrize("command", ["EVAL", "FLUSHALL", "RENAME", "SCRIPT", "CONFIG", "GETDEL"])
def test_commands_that_could_touch_other_keys_or_the_server_are_refused(command: str) -> None:
    with pytest.raises(ValueError, match="not allowed"):
        Write(command, "k")


def test_each_guard_says_what_it_checks() -> None:
    otherwise = Effects(silent=True)
    cap = Guard.cap("capped", "voters", "+461", 5, otherwise, by=2)
    assert (cap.kind, cap.field, cap.most, cap.by, cap.otherwise) == (GuardKind.CAP, "+461", 5, 2, otherwise)
    assert Guard.unset("closed", "closed", otherwise).kind is GuardKind.UNSET
    within = Guard.within("not-pending", "pending", "+461", "+462")
    assert (within.kind, within.members, within.otherwise) == (GuardKind.IN, ("+461", "+462"), Effects())
    assert Guard.outside("unsubscribed", "gone", "+461").kind is GuardKind.NOT_IN
    assert Guard("old", "k", "f", 3).kind is GuardKind.CAP  # as plugins built them before the kinds
    assert Guard("old", "k").kind is GuardKind.UNSET


def test_a_membership_guard_without_members_is_refused() -> None:
    with pytest.raises(ValueError, match="guard 'unsubscribed': a membership guard needs at least one member"):
        Guard.outside("unsubscribed", "gone")


def test_a_cap_without_its_most_is_refused() -> None:
    with pytest.raises(ValueError, match="guard 'capped': a cap needs its most"):
        Guard("capped", "voters", "+461", kind=GuardKind.CAP)

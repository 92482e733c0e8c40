"""Email addresses where they enter: checked by a real validator, normalised, refused with the reason (the API's
side is in tests/inbound/test_fuzz.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from kodeord.inbound.messages import Inbound, check_email
from kodeord.support.errors import InvalidMessage

from ..addressbook_rig import RULES

KODEORD = [sys.executable, "-c", "from kodeord.cli import main; main()"]


@pytest.mark.parametrize(
    ("raw", "address"),
    [
        (" Anna.Berg@Example.SE ", "anna.berg@example.se"),
        ("På@Exämple.se", "på@exämple.se"),
        ("kansli@例子.广告", "kansli@例子.广告"),
    ],
)
def test_an_address_is_normalised(raw: str, address: str) -> None:
    assert check_email(raw) == address


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("a\r\nb@example.se", "The email address contains invalid characters before the @-sign: U+000A, U+000D."),
        ('a"b@example.se', "An email address must have an @-sign."),
        ('"a b"@example.se', "Quoting the part before the @-sign is not allowed here."),
        ("anna@[192.0.2.1]", "A bracketed IP address after the @-sign is not allowed here."),
        ("anna@example", "The part after the @-sign is not valid. It should have a period."),
        ("anna", "An email address must have an @-sign."),
        ("anna@-x.se", "An email address cannot have a hyphen immediately after the @-sign."),
        ("a" * 60 + "@" + ("b" * 60 + ".") * 4 + "se", "The email address is too long (53 characters too many)."),
    ],
)
def test_a_malformed_address_is_refused_with_the_reason(raw: str, reason: str) -> None:
    with pytest.raises(InvalidMessage) as refused:
        check_email(raw)
    assert str(refused.value) == f"invalid email address {raw!r}: {reason}"


def test_an_email_event_carries_checked_addresses() -> None:
    mail = Inbound.create(
        sender="Anna@Example.SE", recipient="Lista@Kodeord.SE", channel="email", gateway="smtp", message_id="1"
    )
    assert (mail.sender, mail.recipient) == ("anna@example.se", "lista@kodeord.se")
    with pytest.raises(InvalidMessage, match="invalid characters before the @-sign"):
        Inbound.create(
            sender="a\nb@example.se", recipient="lista@kodeord.se", channel="email", gateway="smtp", message_id="2"
        )


def test_the_cli_refuses_a_malformed_address_with_the_reason(
    tmp_path: Path, kodeord_redis_url: str, kodeord_redis: Any
) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES, encoding="utf-8")
    env = {
        **os.environ,
        "KODEORD_REDIS_URL": kodeord_redis_url,
        "KODEORD_RULES": str(rules),
        "KODEORD_LOG_LEVEL": "WARNING",
        "KODEORD_DATA_DIR": str(tmp_path / "var"),
    }
    add = subprocess.run(
        [*KODEORD, "lists", "add", "forening/medlemmar", "--email", 'anna"@example.se'],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert add.returncode == 1
    assert add.stderr == "error: invalid email address 'anna\"@example.se': An email address must have an @-sign.\n"
    csv_file = tmp_path / "members.csv"
    csv_file.write_text("phone,email\n,Cecilia@Example.SE\n,bo@exam ple.se\n", encoding="utf-8")
    imported = subprocess.run(
        [*KODEORD, "lists", "import", "forening/medlemmar", str(csv_file)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert imported.returncode == 1
    assert imported.stderr == (
        f"error: {csv_file}:3: invalid email address 'bo@exam ple.se': The part after the "
        "@-sign contains invalid characters: SPACE.\n"
    )

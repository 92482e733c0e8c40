"""Settings: declared once, read from the environment, documented."""

from __future__ import annotations

from pathlib import Path

import pytest

from kodeord.config.settings import CORE_SETTINGS, Setting, Settings, SettingsError

DOCS = Path(__file__).parents[2] / "docs" / "commands.md"


def test_environment_values_are_parsed() -> None:
    settings = Settings(environ={"KODEORD_PORT": "9000", "KODEORD_REGIONS": "NO, SE", "KODEORD_RULES": "a.yaml:b"})
    assert settings.port == 9000
    assert settings.regions == ("NO", "SE")
    assert settings.rules == (Path("a.yaml"), Path("b"))
    assert settings.redis_url is None


def test_bad_value_names_the_variable() -> None:
    with pytest.raises(SettingsError, match="KODEORD_PORT: invalid literal"):
        Settings(environ={"KODEORD_PORT": "eighty"})


def test_unknown_override_is_refused() -> None:
    with pytest.raises(SettingsError, match="unknown setting 'prot'"):
        Settings(environ={}, prot=1)


def test_every_setting_is_documented() -> None:
    text = DOCS.read_text(encoding="utf-8")
    assert [s.env for s in CORE_SETTINGS if s.env not in text] == []


def test_plugin_settings_are_read_from_the_environ_given_at_creation() -> None:
    settings = Settings(environ={"KODEORD_COUPON_PREFIX": "X-"}, log_level="DEBUG")
    settings.declare([Setting("coupon_prefix", str, "C-", "prefix")])
    assert settings.coupon_prefix == "X-"
    assert settings.log_level == "DEBUG"

"""Every setting declared once, with its type, default and description.

Settings are read from the environment as ``KODEORD_<NAME>``. Plugins declare
their own through the ``kodeord_register_settings`` hook.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from kodeord.support.errors import KodeordError


def _words(raw: str) -> tuple[str, ...]:
    return tuple(w.strip() for w in raw.split(",") if w.strip())


def _paths(raw: str) -> tuple[Path, ...]:
    return tuple(Path(p) for p in raw.split(os.pathsep) if p)


def _optional_path(raw: str) -> Path | None:
    return Path(raw) if raw.strip() else None


def _amount(raw: str) -> Decimal:
    try:
        amount = Decimal(raw.strip())
    except InvalidOperation:
        raise ValueError(f"expected an amount such as 10.00, got {raw!r}") from None
    if not amount.is_finite() or amount < 0:
        raise ValueError(f"expected an amount of 0 or more, got {raw!r}")
    return amount


def _flag(raw: str) -> bool:
    if raw.lower() in ("1", "true", "yes", "on"):
        return True
    if raw.lower() in ("0", "false", "no", "off", ""):
        return False
    raise ValueError(f"expected true or false, got {raw!r}")


@dataclass(frozen=True)
class Setting:
    """One setting: ``name`` becomes the environment variable ``KODEORD_<NAME>``."""

    name: str
    parse: Callable[[str], Any]
    default: Any
    description: str

    @property
    def env(self) -> str:
        """The environment variable that sets it."""
        return "KODEORD_" + self.name.upper()


CORE_SETTINGS: tuple[Setting, ...] = (
    Setting("redis_url", str, None, "Redis URL; unset starts an embedded Redis in the data dir"),
    Setting(
        "redis_wait_replicas",
        int,
        0,
        "Replicas that must have a message's commit before its webhook answers 200 (Redis WAIT); 0: no wait",
    ),
    Setting("redis_wait_ms", int, 500, "Longest wait for those replicas; unconfirmed in time, the webhook answers 503"),
    Setting("data_dir", Path, Path("var"), "Where the embedded Redis keeps its append-only file"),
    Setting("rules", _paths, (), f"Rule files or folders, separated by {os.pathsep!r}"),
    Setting("regions", _words, ("SE", "NO"), "Default regions for national phone numbers, in order"),
    Setting("disable_plugins", _words, (), "Names of plugins not to load, comma separated"),
    Setting("host", str, "127.0.0.1", "Address the web app listens on"),
    Setting("port", int, 8000, "Port the web app listens on"),
    Setting("timezone", str, "Europe/Stockholm", "Default time zone of tenants"),
    Setting("dedupe_hours", int, 48, "How long a gateway message id is remembered"),
    Setting(
        "receipt_above",
        _amount,
        Decimal("10.00"),
        "A charge above this (in the number's currency) gets an SMS receipt at once, committed with it (ERB B.1)",
    ),
    Setting("engine_cache", int, 512, "Compiled rule sets kept in memory per process"),
    Setting("secret_key", str, None, "Key that signs console sessions and links"),
    Setting("log_level", str, "INFO", "Log level"),
    Setting("gateways", _optional_path, None, "The gateways file (gateways, routing, alerts); unset: console only"),
    Setting("public_url", str, "http://127.0.0.1:8000", "Where gateways reach Kodeord (delivery reports)"),
    Setting("status_hours", int, 72, "How long the status of an outgoing message is kept"),
    Setting("send_batch", int, 500, "Messages a sender takes from an outbox at a time"),
    Setting("send_attempts", int, 8, "Tries per message before a temporary error counts as failure"),
    Setting("retry_base_seconds", float, 2.0, "First retry delay; doubled for every further try"),
    Setting("retry_max_seconds", float, 600.0, "Longest retry delay"),
    Setting("claim_after_ms", int, 30_000, "Idle time after which a dead sender's messages are taken over"),
    Setting("fanout_page", int, 1000, "Recipients a broadcast adds to its outbox at a time"),
    Setting("smtp_url", str, None, "SMTP relay for email messages: smtp://user:password@host:587 (smtps:// for TLS)"),
    Setting("mail_from", str, "Kodeord <noreply@localhost>", "From address of email messages"),
    Setting("smtp_timeout", float, 30.0, "Seconds to wait for the SMTP relay"),
    Setting("template_ms", float, 50.0, "Longest time one customer template may take to render"),
    Setting(
        "routing_threads",
        int,
        8,
        "Threads a web process routes slow tenants' messages on; one tenant gets at most half",
    ),
    Setting("template_chars", int, 1_000_000, "Characters and items one template may produce in all while rendering"),
    Setting(
        "template_output", int, 20_000, "Longest text a template may output; also the largest width it may ask for"
    ),
)


class SettingsError(KodeordError):
    """A setting has a value that does not parse."""


class Settings:
    """Parsed settings; attribute access by name (``settings.redis_url``)."""

    def __init__(
        self,
        declared: Iterable[Setting] = CORE_SETTINGS,
        environ: Mapping[str, str] | None = None,
        **overrides: Any,
    ) -> None:
        self._declared = {s.name: s for s in declared}
        self._values: dict[str, Any] = {}
        self._environ: Mapping[str, str] = dict(environ if environ is not None else os.environ)
        self._overrides = dict(overrides)
        self.load(self._environ, self._overrides)

    def load(self, environ: Mapping[str, str], overrides: Mapping[str, Any] | None = None) -> None:
        """(Re)read every declared setting; ``overrides`` win over the environment."""
        overrides = overrides or {}
        for name in overrides:
            if name not in self._declared:
                raise SettingsError(f"unknown setting {name!r}")
        for name, setting in self._declared.items():
            if name in overrides:
                self._values[name] = overrides[name]
            elif setting.env in environ:
                try:
                    self._values[name] = setting.parse(environ[setting.env])
                except ValueError as exc:
                    raise SettingsError(f"{setting.env}: {exc}") from None
            else:
                self._values.setdefault(name, setting.default)

    def declare(self, settings: Iterable[Setting]) -> None:
        """Add plugin settings after the fact and read them from the environment and overrides given at creation."""
        for setting in settings:
            self._declared.setdefault(setting.name, setting)
        self.load(self._environ, self._overrides)

    @property
    def declared(self) -> tuple[Setting, ...]:
        """Every known setting."""
        return tuple(self._declared.values())

    def __getattr__(self, name: str) -> Any:
        try:
            return self.__dict__["_values"][name]
        except KeyError:
            raise AttributeError(name) from None

    def as_dict(self) -> dict[str, Any]:
        """Name to value."""
        return dict(self._values)


parse_flag = _flag

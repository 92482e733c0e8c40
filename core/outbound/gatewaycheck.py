"""What a gateways file (and Kannel's own configuration) would get wrong in production, beyond its schema.

``kodeord gateways check`` prints every finding; ``kodeord serve`` and ``kodeord worker`` refuse to start on an
error, since each one loses replies or delivery reports without a word:

- gateways but no ``routing:`` section: every reply goes to the console gateway, and no SMS leaves;
- a gateway that asks for delivery reports while ``KODEORD_PUBLIC_URL`` is not set: the report URL names
  ``http://127.0.0.1:8000``, which a gateway elsewhere cannot reach.

Given Kannel's ``kannel.conf``, it also finds what the Kannel run behind Kodeord met: a comment after a value
(bearerbox refuses to start), smsbox's ``global-sender`` (it overrides the sender Kodeord sets),
``accept-x-kannel-headers`` (a warning in Kannel's log for every message), and a ``sendsms-user`` that does not
match the gateway's ``username`` and ``password`` (every send refused).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from kodeord.outbound.gatewayconfig import GatewaysConfig

DEFAULT_PUBLIC_URL = "http://127.0.0.1:8000"
_LOOPBACK = {"127.0.0.1", "localhost", "::1"}


@dataclass(frozen=True)
class Finding:
    """One thing to fix (``error``) or to know (``warning``), located."""

    file: str
    line: int
    column: int
    message: str
    error: bool = True

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}: {'' if self.error else 'warning: '}{self.message}"


def check(config: GatewaysConfig, environ: Mapping[str, str]) -> list[Finding]:
    """Findings of a checked gateways file, with the settings in ``environ`` (``KODEORD_PUBLIC_URL``)."""
    found: list[Finding] = []
    if config.gateways and not config.routed:
        found.append(
            Finding(
                config.file,
                1,
                1,
                "no routing: section, so every reply goes to the console gateway "
                "and no SMS leaves; add routing: with routes to your gateways (docs/routing.md)",
            )
        )
    public = environ.get("KODEORD_PUBLIC_URL", "")
    for spec in config.gateways:
        if not spec.options.get("dlr"):
            continue
        loc = spec.loc
        if not public:
            found.append(
                Finding(
                    loc.file,
                    loc.line,
                    loc.column,
                    f"gateway {spec.id} asks for delivery reports, but "
                    f"KODEORD_PUBLIC_URL is not set: they would go to {DEFAULT_PUBLIC_URL}; set it to "
                    "where the gateway reaches Kodeord (or dlr: false)",
                )
            )
            continue
        target = urlsplit(str(spec.options.get("sendsms_url") or spec.options.get("api_url") or "")).hostname
        if urlsplit(public).hostname in _LOOPBACK and target and target not in _LOOPBACK:
            found.append(
                Finding(
                    loc.file,
                    loc.line,
                    loc.column,
                    f"gateway {spec.id} is at {target}, but its "
                    f"delivery reports go to {public} (KODEORD_PUBLIC_URL), which only this machine "
                    "reaches",
                    error=False,
                )
            )
    return found


_SETTING = re.compile(r"^\s*([A-Za-z0-9-]+)\s*=\s*(.*?)\s*$")


def kannel_conf(path: Path, config: GatewaysConfig) -> list[Finding]:
    """Findings of Kannel's configuration file at ``path`` against the gateways file's ``kannel`` gateways."""
    name = str(path)
    found: list[Finding] = []
    groups: list[dict[str, tuple[int, str]]] = []  # per group: key -> (line, value)
    for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = _SETTING.match(line)
        if match is None:
            found.append(Finding(name, number, 1, "not a 'key = value' line; bearerbox refuses the file"))
            continue
        key, value = match.groups()
        if "#" in value and not (value.startswith('"') and value.rstrip().endswith('"')):
            found.append(
                Finding(
                    name,
                    number,
                    line.index("#") + 1,
                    "a comment after a value: bearerbox refuses to start; put the comment on a line of its own",
                )
            )
            value = value.split("#", 1)[0].strip()
        if key == "group":
            groups.append({"group": (number, value.strip('"'))})
        elif groups:
            groups[-1][key] = (number, value.strip('"'))
    users = set()
    for settings in groups:
        kind = settings["group"][1]
        if kind == "smsbox" and "global-sender" in settings:
            at = settings["global-sender"][0]
            found.append(
                Finding(
                    name,
                    at,
                    1,
                    "global-sender overrides the sender Kodeord gives each message "
                    "(from=, the service's number); remove it",
                    error=False,
                )
            )
        if "accept-x-kannel-headers" in settings:
            at = settings["accept-x-kannel-headers"][0]
            found.append(
                Finding(
                    name,
                    at,
                    1,
                    "accept-x-kannel-headers makes Kannel log a warning for every message Kodeord sends; remove it",
                    error=False,
                )
            )
        if kind == "sendsms-user" and "username" in settings:
            users.add((settings["username"][1], settings.get("password", (0, ""))[1]))
    for spec in config.gateways:
        if (
            spec.type == "kannel"
            and users
            and (spec.options.get("username"), spec.options.get("password")) not in users
        ):
            found.append(
                Finding(
                    spec.loc.file,
                    spec.loc.line,
                    spec.loc.column,
                    f"gateway {spec.id}: no sendsms-user "
                    f"in {name} has its username and password; Kannel would refuse every message",
                )
            )
    return found

"""Which do-not-call registers Kodeord keeps, and the plugin's settings: a register per country is data.

Sweden's NIX-Telefon is shipped. Another country's register (Norway's Reservasjonsregisteret, say) is added
with the setting ``KODEORD_NIX_REGISTERS``, a JSON object of registers by code, merged over the shipped ones::

    KODEORD_NIX_REGISTERS='{"no": {"name": "Reservasjonsregisteret", "country": "Norway",
                             "country_code": 47, "trunk_prefix": "", "months": 1}}'
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

import phonenumbers

from kodeord.config.settings import Setting, Settings

_CODE = re.compile(r"[a-z][a-z0-9-]{0,15}")


@dataclass(frozen=True)
class RegisterSpec:
    """One country's register: what it is called, how its numbers are written, and how long a check holds."""

    code: str  # in commands, the API and key names: "se"
    name: str  # "NIX-Telefon"
    country: str  # "Sweden", in reasons ("not a valid number in Sweden")
    country_code: int  # 46
    trunk_prefix: str  # "0": dialled before an area code at home (08-...); "" where there is none
    months: int  # a number checked clear may be called until the version's date plus this many months

    def __post_init__(self) -> None:
        if not _CODE.fullmatch(self.code):
            raise ValueError(f"register code {self.code!r}: use lower-case letters, digits and dashes")
        if not self.name.strip() or not self.country.strip():
            raise ValueError(f"register {self.code!r}: name and country must not be empty")
        if phonenumbers.region_code_for_country_code(self.country_code) == phonenumbers.UNKNOWN_REGION:
            raise ValueError(f"register {self.code!r}: {self.country_code} is not a country calling code")
        if self.trunk_prefix and not (self.trunk_prefix.isascii() and self.trunk_prefix.isdigit()):
            raise ValueError(f"register {self.code!r}: trunk_prefix must be digits or empty, not {self.trunk_prefix!r}")
        if not 1 <= self.months <= 24:
            raise ValueError(f"register {self.code!r}: months must be between 1 and 24, not {self.months}")

    @property
    def region(self) -> str:
        """The phonenumbers region national numbers are read in ("SE")."""
        return str(phonenumbers.region_code_for_country_code(self.country_code))


SWEDEN = RegisterSpec("se", "NIX-Telefon", "Sweden", 46, "0", 2)
SHIPPED: Mapping[str, RegisterSpec] = {SWEDEN.code: SWEDEN}
_FIELDS = {f.name: f.type for f in fields(RegisterSpec)}


def _spec(code: str, given: Any, base: RegisterSpec | None) -> RegisterSpec:
    if not isinstance(given, dict):
        raise ValueError(f"register {code!r} must be a JSON object of its fields")
    unknown = sorted(set(given) - set(_FIELDS) - {"code"})
    if unknown:
        raise ValueError(f"register {code!r}: unknown field {unknown[0]!r} (known: {', '.join(sorted(_FIELDS))})")
    values: dict[str, Any] = {f: getattr(base, f) for f in _FIELDS} if base is not None else {"code": code}
    values.update(given)
    values["code"] = code
    missing = sorted(set(_FIELDS) - set(values))
    if missing:
        raise ValueError(f"register {code!r}: missing field {missing[0]!r}")
    for name in ("months", "country_code"):
        if isinstance(values[name], bool) or not isinstance(values[name], int):
            raise ValueError(f"register {code!r}: {name} must be a whole number")
    for name in ("name", "country", "trunk_prefix"):
        if not isinstance(values[name], str):
            raise ValueError(f"register {code!r}: {name} must be a string")
    return RegisterSpec(**values)


def parse_registers(raw: str) -> Mapping[str, RegisterSpec]:
    """The registers of ``KODEORD_NIX_REGISTERS`` (JSON) merged over the shipped ones; ``ValueError`` says why not."""
    try:
        given = json.loads(raw) if raw.strip() else {}
    except json.JSONDecodeError as exc:
        raise ValueError(f"not JSON: {exc}") from None
    if not isinstance(given, dict):
        raise ValueError("must be a JSON object of registers by code")
    found = dict(SHIPPED)
    for code, fields_given in given.items():
        found[code] = _spec(code, fields_given, SHIPPED.get(code))
    return found


def _positive(raw: str) -> int:
    value = int(raw)
    if value < 1:
        raise ValueError(f"must be at least 1, not {value}")
    return value


def _price(raw: str) -> int:
    value = int(raw)
    if not 0 <= value <= 10_000:
        raise ValueError(f"must be between 0 and 10000 öre, not {value}")
    return value


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "nix_registers",
        parse_registers,
        SHIPPED,
        "Do-not-call registers besides Sweden's NIX-Telefon, as JSON by code (see docs/nix.md)",
    ),
    Setting("nix_register", str, SWEDEN.code, "The register checks use when none is named"),
    Setting(
        "nix_keep_versions", _positive, 3, "How many versions of each register are kept (the newest is always current)"
    ),
    Setting("nix_stale_days", _positive, 10, "Alert when a register's newest version is older than this many days"),
    Setting("nix_price_ore", _price, 15, "The price of one checked number in öre (the usage report's cost)"),
)


def registers(settings: Settings) -> Mapping[str, RegisterSpec]:
    """Every configured register by code."""
    found: Mapping[str, RegisterSpec] = settings.nix_registers
    return found

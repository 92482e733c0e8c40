"""Where each of a tenant's services stands against the ERB's rules: compliant, or each rule it breaks and
where (``kodeord erb report``, ``GET /api/erb/report``, the console's page), with the marketing messages the
rules stopped when they were to be sent.

The rule files are loaded as a reload loads them, but what the ERB's checks find is reported rather than
refused, so that a tenant can see where a draft stands before it goes on air; a fault outside the ERB's rules
(a typing mistake) still stops the report, as it stops a reload.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kodeord.config.model import Config, Service
from kodeord.config.rulefile import load
from kodeord.config.servicecheck import ServiceCheck
from kodeord.support.errors import Problem

from .services import check_service, is_premium_service

if TYPE_CHECKING:
    from kodeord.decide.actions import ActionSpec


@dataclass(frozen=True)
class Status:
    """One service: whether it is premium, the rules that apply to it, and what breaks them (none: compliant)."""

    service: str
    premium: bool
    rules: tuple[str, ...]
    problems: tuple[Problem, ...] = ()
    stopped: Mapping[str, int] = field(default_factory=dict)

    @property
    def compliant(self) -> bool:
        """Whether the service breaks no rule."""
        return not self.problems

    def as_json(self, full_paths: bool = False) -> dict[str, Any]:
        """The status as the API gives it (each fault's file by its name; ``full_paths``: as given)."""
        return {
            "service": self.service,
            "premium": self.premium,
            "rules": list(self.rules),
            "status": "compliant" if self.compliant else "breaks",
            "problems": [
                {
                    "rule": p.message.split(":", 1)[0].removeprefix("ERB "),
                    "message": p.message,
                    "file": p.file if full_paths else Path(p.file).name,
                    "line": p.line,
                    "column": p.column,
                    "at": p.path,
                }
                for p in self.problems
            ],
            "stopped": dict(self.stopped),
        }


def rules_of(service: Service, premium: bool) -> tuple[str, ...]:
    """The ERB rules that apply to ``service``."""
    rules: list[str] = []
    if premium:
        rules += ["CS", "STOP", "B.1"]
    if service.marketing:
        rules.append("A.1.a")
        if any(text.medium in ("tv", "web") for text in service.marketing):
            rules.append("A.1.c")
    if service.subscription is not None:
        rules += ["A.1.e", "B.1", "STOP"]
    return tuple(dict.fromkeys(rules))


def load_reported(
    paths: Iterable[Path], actions: Mapping[str, ActionSpec], timezone: str, regions: tuple[str, ...]
) -> tuple[Config, dict[str, list[Problem]]]:
    """The rule files loaded, and the ERB's faults by service (``RuleFileError`` for any other fault)."""
    found: dict[str, list[Problem]] = {}

    def collect(check: ServiceCheck) -> None:
        check_service(check)
        found[check.service.key] = list(dict.fromkeys(check.problems))
        check.problems.clear()

    return load(paths, actions, timezone, regions, collect), found


def statuses(
    config: Config, tenant: str, found: Mapping[str, list[Problem]], stopped: Mapping[str, Mapping[str, int]]
) -> list[Status]:
    """Each of ``tenant``'s services, in the files' order."""
    result = []
    for service in config.of_tenant(tenant):
        premium = is_premium_service(service, config)
        result.append(
            Status(
                service.key,
                premium,
                rules_of(service, premium),
                tuple(found.get(service.key, ())),
                stopped.get(service.key, {}),
            )
        )
    return result

"""The live configuration: which service a message to a number and keyword selects.

Routing is a plain dictionary lookup, so 10,000 keywords cost no more than ten.
A reload builds a complete new catalog first and swaps it in only if the files
load cleanly: a broken file never replaces a working configuration.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from kodeord.config import keywords
from kodeord.config.model import Config, OwnNumber, Rule, Service
from kodeord.config.rulefile import load
from kodeord.config.servicecheck import ServiceCheck
from kodeord.decide.actions import ActionSpec
from kodeord.support import moved
from kodeord.support.errors import Problem, RuleFileError


@dataclass(frozen=True)
class Destination:
    """Where one message goes."""

    number: OwnNumber | None
    service: Service | None
    keyword: str  # the first word as written ("" when a catch-all took the message)
    args: str  # the rest of the text
    reserved: str | None  # start, stop or help


class Index:
    """Keyword lookup tables for one ``Config``."""

    def __init__(self, config: Config) -> None:
        self.config = config
        # (number, folded word) and (number, case-folded word) for accent-sensitive services
        self.folded: dict[tuple[str, str], Service] = {}
        self.exact: dict[tuple[str, str], Service] = {}
        self.catch_all: dict[str, Service] = {}
        self.calls: dict[str, tuple[Service, str]] = {}  # voice number -> service and the words a call means
        self.problems: list[Problem] = []
        for service in config.services.values():
            self._add(service)

    def _conflict(self, service: Service, other: Service, what: str) -> None:
        loc = service.loc
        self.problems.append(
            Problem(
                loc.file,
                loc.line,
                loc.column,
                f"{what} on number {service.number} is claimed by both {other.key} "
                f"({other.loc.file}:{other.loc.line}) and {service.key} ({loc.file}:{loc.line})",
            )
        )

    def _add(self, service: Service) -> None:
        for address, words in service.calls.items():
            other, _ = self.calls.setdefault(address, (service, words))
            if other is not service:
                self._conflict(replace(service, number=address), other, "calls")
        if service.catch_all:
            other = self.catch_all.setdefault(service.number, service)
            if other is not service:
                self._conflict(service, other, "catch-all")
        for word in service.keywords:
            table, key = (
                (self.exact, keywords.casefold(word))
                if service.accent_sensitive
                else (self.folded, keywords.fold(word))
            )
            other = table.setdefault((service.number, key), service)
            if other is not service:
                self._conflict(service, other, f"keyword {word!r}")
            number = self.config.numbers[service.number]
            if number.words.reserved(keywords.fold(word)):
                self.problems.append(
                    Problem(
                        service.loc.file,
                        service.loc.line,
                        service.loc.column,
                        f"keyword {word!r} is a reserved word on number {service.number}",
                    )
                )

    def keyword(self, number: str, word: str) -> Service | None:
        """The service a first word selects on ``number``, if any."""
        return self.exact.get((number, keywords.casefold(word))) or self.folded.get((number, keywords.fold(word)))

    def call_route(self, number: OwnNumber) -> Destination:
        """Where a call to ``number`` goes: the service whose ``calls:`` name it, else the number's catch-all."""
        target = self.calls.get(number.address)
        if target is not None:
            service, words = target
            return Destination(number, service, service.keyword or "", words, None)
        return Destination(number, self.catch_all.get(number.address), "", "", None)

    def route(self, recipient: str, text: str) -> Destination:
        """Number, reserved word, keyword and service for a message."""
        number = self.config.numbers.get(recipient)
        if number is None:
            return Destination(None, None, "", text.strip(), None)
        first, rest = keywords.split_first(text)
        reserved = number.words.reserved(keywords.fold(first)) if first else None
        if reserved is not None:
            # "STOPP MELLO" on a shared code stops one service; "STOPP" alone the number.
            second, _ = keywords.split_first(rest)
            target = self.keyword(recipient, second) if second else None
            return Destination(number, target or self.catch_all.get(recipient), first, rest, reserved)
        service = self.keyword(recipient, first) if first else None
        if service is not None:
            return Destination(number, service, first, rest, None)
        return Destination(number, self.catch_all.get(recipient), "", text.strip(), None)


class Catalog:
    """Holds the current ``Index``; reloads atomically."""

    def __init__(
        self,
        paths: Iterable[Path],
        actions: Callable[[], Mapping[str, ActionSpec]],
        timezone: str,
        regions: tuple[str, ...],
        check_service: Callable[[ServiceCheck], None] | None = None,
    ) -> None:
        self.paths = tuple(paths)
        self._actions = actions
        self._check_service = check_service
        self._timezone = timezone
        self._regions = regions
        self._lock = threading.Lock()
        self.generation = 0
        self.index = self._build()

    def _build(self) -> Index:
        config = (
            load(self.paths, self._actions(), self._timezone, self._regions, self._check_service)
            if self.paths
            else Config()
        )
        index = Index(config)
        if index.problems:
            raise RuleFileError(index.problems)
        return index

    def reload(self, paths: Iterable[Path] | None = None) -> Index:
        """Load the files again (or ``paths``); on any problem keep the old index and raise."""
        with self._lock:
            previous = self.paths
            if paths is not None:
                self.paths = tuple(paths)
            try:
                self.index = self._build()
            except RuleFileError:
                self.paths = previous
                raise
            self.generation += 1
            return self.index

    @property
    def config(self) -> Config:
        """The current configuration."""
        return self.index.config

    def using(self, tenant: str, action: str) -> list[tuple[Service, list[Rule]]]:
        """The tenant's services with rules that name ``action`` (a plugin's polls, lists, campaigns), in the
        order the rule files declare them, each with those rules."""
        found = []
        for service in self.config.of_tenant(tenant):
            if rules := [r for r in service.rules if r.action == action]:
                found.append((service, rules))
        return found


def __getattr__(name: str) -> Any:  # Route, the class's name before the core was laid out by stage
    return moved.renamed(__name__, name)

"""Outgoing routes: find a recipient's current operator, then choose the gateway.

The operator comes from the number-portability table (one Redis hash, replaced
whole by :func:`import_portability`), else from the longest matching number
prefix, else the default operator. :class:`RoutingTable` then picks the
cheapest route of that operator that meets the minimum quality.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import redis
from redis.typing import EncodableT, FieldT

from kodeord.commit.keys import platform_key
from kodeord.inbound.phone import parse
from kodeord.support import csvfile, moved
from kodeord.support.errors import InvalidNumber, KodeordError

PORTABILITY = platform_key("portability")  # hash: E.164 number -> operator
CHUNK_SIZE = 5_000
# A crashed import leaves its temporary key behind only this long.
_TEMPORARY_TTL_SECONDS = 3_600
_HEADER = ["number", "operator"]


class PortabilityError(KodeordError):
    """A portability file with a bad row; nothing was imported."""

    def __init__(self, file: str, line: int, reason: str) -> None:
        super().__init__(f"{file}:{line}: {reason}")
        self.file = file
        self.line = line
        self.reason = reason


class RoutingError(KodeordError):
    """A routing configuration that cannot route correctly."""


def _operator_name(raw: str) -> str:
    return str(raw).strip().lower()


def _portability_rows(path: Path, regions: Sequence[str]) -> Iterator[tuple[str, str]]:
    """Yield ``(e164, operator)`` per data row, streaming the file."""
    header_allowed = True
    for line, row in csvfile.rows(path):  # comma or semicolon, UTF-8 (with or without BOM) or Windows-1252
        if not any(cell.strip() for cell in row) or row[0].lstrip().startswith("#"):
            continue
        if header_allowed and [cell.strip().lower() for cell in row] == _HEADER:
            continue
        header_allowed = False
        try:
            if len(row) != 2:
                raise ValueError(f"expected 2 columns (number,operator), got {len(row)}")
            operator = _operator_name(row[1])
            if not operator:
                raise ValueError("empty operator name")
            number = parse(row[0], regions)
        except (ValueError, InvalidNumber) as exc:
            raise PortabilityError(str(path), line, str(exc)) from exc
        yield number, operator


def import_portability(
    client: redis.Redis, path: Path, regions: Sequence[str] = ("SE", "NO"), done: Callable[[int], None] | None = None
) -> int:
    """Replace the portability table with the rows of CSV file ``path``; return the row count.

    Rows are ``number,operator``; an optional ``number,operator`` header, blank
    lines and lines starting with ``#`` are skipped. Numbers are parsed with
    :func:`kodeord.inbound.phone.parse`. The rows go into a temporary key in chunks,
    which is renamed over the table only once every row is good, so readers
    see the old table or the new one, never a mix. Raise
    :class:`PortabilityError` (naming file and line) and keep the old table on
    the first bad row. A number listed twice keeps its last operator. ``done(n)`` is told of every ``n`` rows
    stored (a progress bar).
    """
    # In the table's slot of a cluster (hashed as its name is, having no braces of its own): renamed within it.
    temporary = f"{{{PORTABILITY}}}:import:{uuid.uuid4().hex}"
    count = 0
    chunk: dict[FieldT, EncodableT] = {}
    pipe = client.pipeline(transaction=False)

    def flush() -> None:
        pipe.hset(temporary, mapping=chunk)
        pipe.expire(temporary, _TEMPORARY_TTL_SECONDS)
        pipe.execute()
        if done is not None:
            done(len(chunk))
        chunk.clear()

    try:
        for number, operator in _portability_rows(path, regions):
            chunk[number] = operator
            count += 1
            if len(chunk) >= CHUNK_SIZE:
                flush()
        if chunk:
            flush()
    except BaseException:
        client.delete(temporary)
        raise
    with client.pipeline(transaction=True) as swap:
        if count:
            # RENAME carries the temporary key's TTL over; the table must not expire.
            swap.rename(temporary, PORTABILITY)
            swap.persist(PORTABILITY)
        else:
            swap.delete(PORTABILITY)
        swap.execute()
    return count


@dataclass(frozen=True)
class RouteOption:
    """One gateway that reaches an operator: price per SMS segment, quality 0..1 (e.g. delivery rate)."""

    gateway: str
    price: Decimal
    quality: float


@dataclass(frozen=True)
class ChosenRoute:
    """The route chosen for one recipient; ``below_quality`` if none met the minimum quality."""

    operator: str
    gateway: str
    price: Decimal
    below_quality: bool


def _always(gateway: str) -> bool:
    return True


class RoutingTable:
    """Operators by number prefix, routes by operator, and the rule that picks a route."""

    def __init__(
        self,
        prefixes: Mapping[str, str],
        routes: Mapping[str, Sequence[RouteOption]],
        min_quality: float = 0.0,
        default_operator: str = "default",
    ) -> None:
        """Validate the configuration; raise :class:`RoutingError` naming what is wrong."""
        if not 0.0 <= min_quality <= 1.0:
            raise RoutingError(f"min_quality must be between 0 and 1, got {min_quality}")
        self.min_quality = min_quality
        self.routes: dict[str, tuple[RouteOption, ...]] = {}
        for raw_operator, options in routes.items():
            operator = _operator_name(raw_operator)
            if not operator:
                raise RoutingError("routes for operator '': empty name")
            if operator in self.routes:
                raise RoutingError(f"routes for operator {operator!r}: given twice")
            if not options:
                raise RoutingError(f"routes for operator {operator!r}: no routes listed")
            for option in options:
                where = f"routes for operator {operator!r}, gateway {option.gateway!r}"
                if not option.gateway:
                    raise RoutingError(f"{where}: empty gateway name")
                if not option.price.is_finite() or option.price < 0:
                    raise RoutingError(f"{where}: price must be 0 or more, got {option.price}")
                if not 0.0 <= option.quality <= 1.0:
                    raise RoutingError(f"{where}: quality must be between 0 and 1, got {option.quality}")
            self.routes[operator] = tuple(options)
        self.prefixes: dict[str, str] = {}
        for prefix, raw_operator in prefixes.items():
            operator = _operator_name(raw_operator)
            # An unquoted +4670 in YAML is the integer 4670, hence the hint.
            if not isinstance(prefix, str) or not re.fullmatch(r"\+[0-9]+", prefix):
                raise RoutingError(f"prefix {prefix!r} of operator {operator!r}: must be '+' then digits, quoted")
            self._check_routed(operator, f"prefix {prefix!r}")
            self.prefixes[prefix] = operator
        self.default_operator = _operator_name(default_operator)
        self._check_routed(self.default_operator, "the default operator")
        # Longest first, so the first hit is the longest matching prefix.
        self._prefix_lengths = sorted({len(p) for p in self.prefixes}, reverse=True)

    def _check_routed(self, operator: str, used_by: str) -> None:
        if operator not in self.routes and "default" not in self.routes:
            raise RoutingError(f"operator {operator!r} ({used_by}) has no routes, and there are no 'default' routes")

    @classmethod
    def console(cls) -> RoutingTable:
        """A table that sends everything through gateway ``console`` for free (nothing configured)."""
        return cls({}, {"default": [RouteOption("console", Decimal(0), 1.0)]})

    def operators(self, client: redis.Redis, numbers: Sequence[str]) -> list[str]:
        """The operator of each E.164 number: portability table, longest prefix, default (one round trip)."""
        if not numbers:
            return []
        ported = client.hmget(PORTABILITY, list(numbers))
        return [
            self._by_prefix(number) if value is None else (value.decode() if isinstance(value, bytes) else value)
            for number, value in zip(numbers, ported, strict=True)
        ]

    def _by_prefix(self, number: str) -> str:
        for length in self._prefix_lengths:
            operator = self.prefixes.get(number[:length])
            if operator is not None:
                return operator
        return self.default_operator

    def choose(
        self,
        operator: str,
        *,
        charged: bool = False,
        can_charge: Callable[[str], bool] = _always,
        available: Callable[[str], bool] = _always,
    ) -> ChosenRoute | None:
        """The route for ``operator`` (its own routes, else the ``default`` routes), or ``None``.

        Only gateways that are ``available`` and, for a ``charged`` (premium)
        message, ``can_charge`` count. Of those meeting ``min_quality`` the
        cheapest wins (ties: higher quality, then the order given); if none
        meets it, the best quality wins (then the cheaper) with
        ``below_quality=True``.
        """
        name = _operator_name(operator)
        options = self.routes.get(name, self.routes.get("default", ()))
        usable = [o for o in options if available(o.gateway) and (not charged or can_charge(o.gateway))]
        if not usable:
            return None
        good = [o for o in usable if o.quality >= self.min_quality]
        if good:
            best = min(good, key=lambda o: (o.price, -o.quality))
        else:
            best = min(usable, key=lambda o: (-o.quality, o.price))
        return ChosenRoute(name, best.gateway, best.price, below_quality=not good)

    def route(
        self,
        client: redis.Redis,
        numbers: Sequence[str],
        *,
        charged: Sequence[bool] | None = None,
        can_charge: Callable[[str], bool] = _always,
        available: Callable[[str], bool] = _always,
    ) -> list[ChosenRoute | None]:
        """:meth:`operators` then :meth:`choose` for each number; ``charged`` per number (default: none)."""
        flags = [False] * len(numbers) if charged is None else list(charged)
        if len(flags) != len(numbers):
            raise ValueError(f"{len(numbers)} numbers but {len(flags)} charged flags")
        cache: dict[tuple[str, bool], ChosenRoute | None] = {}
        choices: list[ChosenRoute | None] = []
        for operator, flag in zip(self.operators(client, numbers), flags, strict=True):
            if (operator, flag) not in cache:
                cache[operator, flag] = self.choose(operator, charged=flag, can_charge=can_charge, available=available)
            choices.append(cache[operator, flag])
        return choices


def __getattr__(name: str) -> Any:  # Choice, the class's name before the core was laid out by stage
    return moved.renamed(__name__, name)

"""A do-not-call register in Redis: versions imported whole and switched to atomically, and checks against the
current one, exact (no probabilistic structure: a number is registered only if the register holds it).

Storage, per version: one hash whose fields are buckets, a number's high bits (``number >> 16``), and whose
values are the bucket's low 16 bits, sorted, packed two bytes each (little-endian), searched by bisection. Three
million Swedish numbers fill some fifteen thousand buckets of a few hundred bytes: about 2 bytes a number with
Redis' own overhead, against some 60 for a set of strings. A check reads one field; a wash reads each bucket its
list touches once.

Keys share the register's hash tag (``kodeord:{nix:se}:...``, see :class:`RegisterKeys`): ``current`` names the
version checks use, ``versions`` holds each kept version's record, ``v:<id>`` its numbers. An import builds the
new version under its own id, with an expiry so that a crashed import leaves nothing for long, then makes it
current in one transaction: checks see the old version until the new one is whole. A failed import deletes what
it wrote and the old version stays current. The newest ``keep`` versions are kept; older ones are deleted.
"""

from __future__ import annotations

import json
import sys
import time
from array import array
from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import closing, suppress
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import redis
from redis.typing import EncodableT

from kodeord.commit.keys import Keys
from kodeord.support.errors import RequestError

from .numbers import Invalid, Parsed, reader
from .registerfile import RegisterFileError, Tally, lines_of, read_numbers
from .result import Result, Status, add_months
from .spec import RegisterSpec, registers

if TYPE_CHECKING:
    from kodeord.platform import PluginHost

BUCKET_BITS = 16
LOW = (1 << BUCKET_BITS) - 1
BUILD_TTL_S = 3600  # a version being built expires unless its import makes it current
WRITE_BYTES = 1 << 20  # bytes of buckets sent to Redis at a time
FIELDS_PER_READ = 2000  # buckets asked for in one HMGET
ATTEMPTS = 5  # tries to read a version that an import may delete under a check
_NATIVE_LITTLE = sys.byteorder == "little"

Progress = Callable[[str, int], None]  # (stage "read" or "write", how far: lines read or buckets written)


class RegisterError(RequestError):
    """Something asked of a register that cannot be done; ``http_status`` says how the API answers."""


@dataclass(frozen=True)
class RegisterKeys:
    """Key names of one register (its own hash tag)."""

    code: str

    @cached_property
    def base(self) -> Keys:
        """The register's scope: ``kodeord:{nix:<code>}``."""
        return Keys(f"nix:{self.code}")

    @property
    def current(self) -> str:
        """String: the id of the version checks use."""
        return self.base.key_for("current")

    @property
    def versions(self) -> str:
        """Hash: each kept version's record (JSON) by id."""
        return self.base.key_for("versions")

    @property
    def imports(self) -> str:
        """Counter: the sequence number of the latest import (part of a version's id)."""
        return self.base.key_for("imports")

    def numbers(self, version_id: str) -> str:
        """Hash: one version's numbers, bucket (``number >> 16``) to its packed low 16 bits."""
        return self.base.key_for("v", version_id)


@dataclass(frozen=True)
class Version:
    """One imported version of a register: its date (the publisher's update date) and what the import read."""

    id: str  # "<date>.<import sequence number>", unique per import
    version: date
    numbers: int
    imported_at: datetime
    source: str  # the file's name
    lines: int
    bad_lines: int
    duplicates: int
    by: str

    @property
    def order(self) -> tuple[date, int]:
        """Newer versions sort after older ones; of one date, the later import."""
        return self.version, int(self.id.rpartition(".")[2] or 0)

    def to_json(self) -> str:
        """The record as stored."""
        data = asdict(self)
        data["version"] = self.version.isoformat()
        data["imported_at"] = self.imported_at.isoformat()
        return json.dumps(data)

    @classmethod
    def from_json(cls, raw: str | bytes) -> Version:
        """The stored record."""
        data = json.loads(raw)
        data["version"] = date.fromisoformat(data["version"])
        data["imported_at"] = datetime.fromisoformat(data["imported_at"])
        return cls(**data)


@dataclass
class Imported:
    """What an import did: the version made current, what the file held, the versions deleted, how long."""

    version: Version
    tally: Tally
    pruned: list[str] = field(default_factory=list)
    seconds: float = 0.0


def _date_of(version_id: str) -> date:
    return date.fromisoformat(version_id.partition(".")[0])


def _pack(lows: Iterable[int]) -> bytes:
    packed = array("H", sorted(set(lows)))
    if not _NATIVE_LITTLE:
        packed.byteswap()
    return packed.tobytes()


def _unpack(data: bytes) -> Sequence[int]:
    if _NATIVE_LITTLE:
        return memoryview(data).cast("H")
    values = array("H")
    values.frombytes(data)
    values.byteswap()
    return values


def _text(value: Any) -> str | None:
    return value.decode() if isinstance(value, bytes) else value


class _Gone(Exception):
    """The version asked for was deleted (by a later import) while it was being read."""


class Register:
    """One register's versions and checks, on ``client``; ``keep``: how many versions are kept."""

    def __init__(self, client: redis.Redis, spec: RegisterSpec, keep: int = 3) -> None:
        if keep < 1:
            raise ValueError(f"keep at least one version, not {keep}")
        self.redis = client
        self.spec = spec
        self.keep = keep
        self.keys = RegisterKeys(spec.code)
        self.read = reader(spec)

    # Importing

    def import_version(
        self,
        source: Path | Iterable[str],
        version: date,
        *,
        by: str = "",
        progress: Progress | None = None,
        allow_shrink: bool = False,
        today: date | None = None,
    ) -> Imported:
        """Read a version of the register (a file, or its lines) dated ``version``, store it and make it current.

        Refused (:class:`RegisterFileError`, :class:`RegisterError`), leaving the current version in use: a file
        that is not a register (see :mod:`.registerfile`), a version dated after ``today`` or older than the
        current one, or one with fewer than half the current one's numbers unless ``allow_shrink`` (a cut-off
        file would let registered numbers pass). ``progress`` is called now and then while reading and writing.
        """
        started = time.monotonic()
        today = today or date.today()
        if version > today:
            raise RegisterError(f"version {version} is in the future (today is {today})")
        self._refuse_older(version)
        if isinstance(source, Path):
            with closing(lines_of(source)) as lines:
                buckets, tally = self._read(lines, progress)
        else:
            buckets, tally = self._read(source, progress)
        name = source.name if isinstance(source, Path) else ""
        packed = {high: _pack(lows) for high, lows in sorted(buckets.items())}
        del buckets
        distinct = sum(len(data) for data in packed.values()) // 2
        current = self.current()
        if current is not None and distinct < current.numbers / 2 and not allow_shrink:
            raise RegisterError(
                f"version {version} has {distinct} numbers, fewer than half of the current version "
                f"{current.version}'s {current.numbers}: is the file whole? (import it anyway with --allow-shrink)"
            )
        sequence = int(self.redis.incr(self.keys.imports))
        record = Version(
            f"{version.isoformat()}.{sequence}",
            version,
            distinct,
            datetime.now(UTC),
            name,
            tally.lines,
            tally.bad,
            tally.numbers - distinct,
            by,
        )
        try:
            self._write(self.keys.numbers(record.id), packed, progress)
            self._switch(record)
        except BaseException:
            self._discard(record)
            raise
        pruned = self._prune()
        return Imported(record, tally, pruned, time.monotonic() - started)

    def _read(self, lines: Iterable[str], progress: Progress | None) -> tuple[dict[int, array[int]], Tally]:
        tally = Tally()
        buckets: dict[int, array[int]] = {}
        get = buckets.get
        for chunk in read_numbers(lines, self.spec, tally):
            for number in chunk:
                high = number >> BUCKET_BITS
                lows = get(high)
                if lows is None:
                    lows = buckets[high] = array("H")
                lows.append(number & LOW)
            if progress is not None:
                progress("read", tally.lines)
        tally.judge()
        return buckets, tally

    def _write(self, key: str, packed: dict[int, bytes], progress: Progress | None) -> None:
        """Store the buckets under ``key`` (expiring until the switch), a megabyte at a time."""
        batch: dict[EncodableT, EncodableT] = {}
        size = written = 0
        items = list(packed.items())
        for index, (high, data) in enumerate(items, 1):
            batch[high] = data
            size += len(data) + 16
            if size >= WRITE_BYTES or index == len(items):
                pipe = self.redis.pipeline(transaction=False)
                pipe.hset(key, mapping=batch)
                pipe.expire(key, BUILD_TTL_S)
                pipe.execute()
                written += len(batch)
                batch, size = {}, 0
                if progress is not None:
                    progress("write", written)

    def _discard(self, record: Version) -> None:
        """Delete the numbers of a version whose import failed, unless it became current after all (an error after
        the switch); if Redis cannot be reached, their expiry deletes them."""
        with suppress(redis.RedisError):
            if _text(self.redis.get(self.keys.current)) != record.id:
                self.redis.unlink(self.keys.numbers(record.id))

    def _refuse_older(self, version: date, sequence: int | None = None, current_id: str | None = None) -> None:
        current_id = current_id if current_id is not None else _text(self.redis.get(self.keys.current))
        if current_id is None:
            return
        current = (_date_of(current_id), int(current_id.rpartition(".")[2]))
        if current[0] > version or (sequence is not None and current > (version, sequence)):
            raise RegisterError(
                f"version {version} is older than the current version {current_id.partition('.')[0]}: "
                "checks use the newest version (drop that one first if it is wrong)"
            )

    def _switch(self, record: Version) -> None:
        """Make ``record``'s version current, atomically, unless a newer one became current meanwhile."""
        key = self.keys.numbers(record.id)
        with self.redis.pipeline(transaction=True) as pipe:
            while True:
                try:
                    pipe.watch(self.keys.current)
                    self._refuse_older(record.version, record.order[1], _text(pipe.get(self.keys.current)))
                    pipe.multi()
                    pipe.persist(key)
                    pipe.hset(self.keys.versions, record.id, record.to_json())
                    pipe.set(self.keys.current, record.id)
                    pipe.execute()
                    return
                except redis.WatchError:
                    continue

    def _prune(self) -> list[str]:
        """Delete the versions beyond the newest ``keep`` (never the current one); their ids."""
        with self.redis.pipeline(transaction=True) as pipe:
            while True:
                try:
                    pipe.watch(self.keys.current, self.keys.versions)
                    current = _text(pipe.get(self.keys.current))
                    kept = sorted(self._records(pipe.hvals(self.keys.versions)), key=lambda v: v.order, reverse=True)
                    old = [v.id for v in kept[self.keep :] if v.id != current]
                    if not old:
                        pipe.unwatch()
                        return []
                    pipe.multi()
                    pipe.hdel(self.keys.versions, *old)
                    pipe.unlink(*(self.keys.numbers(i) for i in old))
                    pipe.execute()
                    return old
                except redis.WatchError:
                    continue

    def drop(self, version_id: str) -> Version:
        """Delete one version (a wrong import); when it was current, the newest other version becomes current."""
        with self.redis.pipeline(transaction=True) as pipe:
            while True:
                try:
                    pipe.watch(self.keys.current, self.keys.versions)
                    records = {v.id: v for v in self._records(pipe.hvals(self.keys.versions))}
                    if version_id not in records:
                        raise RegisterError(f"{self.spec.name} has no version {version_id!r}", 404)
                    others = sorted((v for v in records.values() if v.id != version_id), key=lambda v: v.order)
                    pipe.multi()
                    pipe.hdel(self.keys.versions, version_id)
                    pipe.unlink(self.keys.numbers(version_id))
                    if others:
                        pipe.set(self.keys.current, others[-1].id)
                    else:
                        pipe.delete(self.keys.current)
                    pipe.execute()
                    return records[version_id]
                except redis.WatchError:
                    continue

    # Reading

    @staticmethod
    def _records(values: Iterable[Any]) -> list[Version]:
        return [Version.from_json(raw) for raw in values]

    def versions(self) -> list[Version]:
        """Every kept version, newest first."""
        found = self._records(self.redis.hvals(self.keys.versions))
        return sorted(found, key=lambda v: v.order, reverse=True)

    def current(self) -> Version | None:
        """The version checks use, or None before the first import."""
        version_id = self.redis.get(self.keys.current)
        if version_id is None:
            return None
        raw = self.redis.hget(self.keys.versions, version_id)
        return Version.from_json(raw) if raw is not None else None

    def _current_id(self) -> str:
        version_id = _text(self.redis.get(self.keys.current))
        if version_id is None:
            raise RegisterError(f"no version of {self.spec.name} has been imported: checks cannot be made", 503)
        return version_id

    def _buckets(self, version_id: str, wanted: Sequence[int]) -> dict[int, Sequence[int]]:
        """The buckets ``wanted`` of one version (those it has), read in one transaction; _Gone if it was deleted."""
        key = self.keys.numbers(version_id)
        pipe = self.redis.pipeline(transaction=True)
        pipe.exists(key)
        for start in range(0, len(wanted), FIELDS_PER_READ):
            pipe.hmget(key, wanted[start : start + FIELDS_PER_READ])
        exists, *replies = pipe.execute()
        if not exists:
            raise _Gone(version_id)
        found: dict[int, Sequence[int]] = {}
        values = (value for reply in replies for value in reply)
        for high, data in zip(wanted, values, strict=True):
            if data is not None:
                found[high] = _unpack(data)
        return found

    def check(self, number: str) -> Result:
        """Whether ``number`` is in the current version, and until when it may be called if not."""
        return self.check_parsed([self.read(number)])[0]

    def check_many(self, numbers: Iterable[str]) -> list[Result]:
        """:meth:`check` of each of ``numbers``, in order, all against one version, reading each bucket once."""
        return self.check_parsed(self.read.many(numbers))

    def check_parsed(self, parsed: Sequence[Parsed]) -> list[Result]:
        """:meth:`check_many` of numbers already read (with :func:`.numbers.parse_many`)."""
        return self.pinned().check_parsed(parsed)

    def pinned(self) -> PinnedChecks:
        """Checks of batch after batch (a wash) against the version current at the first, each bucket read once."""
        return PinnedChecks(self)

    def _answers(self, version_id: str, buckets: dict[int, Sequence[int]], parsed: Sequence[Parsed]) -> list[Result]:
        """The result for each of ``parsed`` in the version ``version_id``, whose buckets they fall in are given."""
        day = _date_of(version_id)
        clear = Result(Status.CLEAR, day, add_months(day, self.spec.months))
        registered = Result(Status.REGISTERED, day)
        invalid: dict[str, Result] = {}
        found: list[Result] = []
        add = found.append
        for number in parsed:
            if type(number) is int:
                lows = buckets[number >> BUCKET_BITS]
                if lows:
                    low = number & LOW
                    at = bisect_left(lows, low)
                    if at < len(lows) and lows[at] == low:
                        add(registered)
                        continue
                add(clear)
            else:
                reason = number.reason if isinstance(number, Invalid) else "not a number"
                result = invalid.get(reason)
                if result is None:
                    result = invalid[reason] = Result(Status.INVALID, day, None, reason)
                add(result)
        return found

    def extract(self, area: str) -> Iterator[str]:
        """The registered numbers of area code ``area`` ("08" or "8": every number whose national number starts
        with 8) in the current version, written as the register writes them ("08-1234567"), in order."""
        digits = area.strip().replace(" ", "").replace("-", "")
        trunk = self.spec.trunk_prefix
        if trunk and digits.startswith(trunk):
            digits = digits[len(trunk) :]
        if not (digits.isascii() and digits.isdigit()) or digits.startswith("0") or len(digits) > 6:
            raise RegisterError(f"{area!r} is not an area code (digits, such as 08 or 8)")
        prefix = int(digits)
        # Every length a national number may have after the area code: 8x, 8xx, ... up to 15 digits in all.
        ranges = [(prefix * 10**rest, (prefix + 1) * 10**rest) for rest in range(1, 16 - len(digits))]
        for _ in range(ATTEMPTS):
            version_id = self._current_id()
            key = self.keys.numbers(version_id)
            highs = sorted(int(h) for h in self.redis.hkeys(key))
            wanted = [h for h in highs if any(lo >> BUCKET_BITS <= h <= (hi - 1) >> BUCKET_BITS for lo, hi in ranges)]
            try:
                yield from self._extracted(version_id, wanted, ranges, digits)
                return
            except _Gone:
                continue
        raise RegisterError(f"{self.spec.name} changed {ATTEMPTS} times while being read: extract again", 503)

    def _extracted(self, version_id: str, wanted: list[int], ranges: list[tuple[int, int]], area: str) -> Iterator[str]:
        """The numbers in ``ranges`` of one version's buckets ``wanted``, read whole before the first is yielded."""
        numbers: list[int] = []
        for start in range(0, len(wanted), FIELDS_PER_READ):
            for high, lows in self._buckets(version_id, wanted[start : start + FIELDS_PER_READ]).items():
                base, top = high << BUCKET_BITS, (high << BUCKET_BITS) | LOW
                for lo, hi in ranges:
                    if lo <= base and top < hi:
                        numbers.extend(base | low for low in lows)
                    elif base < hi and lo <= top:
                        numbers.extend(n for n in (base | low for low in lows) if lo <= n < hi)
        numbers.sort()  # a range of longer numbers lies above every shorter one: this is also by length
        head = f"{self.spec.trunk_prefix}{area}-" if self.spec.trunk_prefix else area
        for number in numbers:
            yield head + str(number)[len(area) :]


class PinnedChecks:
    """Checks of many batches against one version of a register, the buckets read kept for the next batch: a
    wash of a million rows reads each bucket once, not once a batch. Each batch is checked against a version that
    exists when it is checked: when the pinned one is deleted (dropped, or pruned by imports), the batch and those
    after it are checked against the version current then. ``versions`` holds every version used."""

    def __init__(self, register: Register) -> None:
        self.register = register
        self.version_id: str | None = None
        self.buckets: dict[int, Sequence[int]] = {}
        self.versions: set[str] = set()

    @property
    def dates(self) -> set[date]:
        """The dates of the versions used."""
        return {_date_of(version_id) for version_id in self.versions}

    def check_many(self, numbers: Iterable[str]) -> list[Result]:
        """:meth:`Register.check_many` against the pinned version."""
        return self.check_parsed(self.register.read.many(numbers))

    def check_parsed(self, parsed: Sequence[Parsed]) -> list[Result]:
        """:meth:`Register.check_parsed` against the pinned version."""
        register = self.register
        for _ in range(ATTEMPTS):
            if self.version_id is None:
                self.version_id, self.buckets = register._current_id(), {}
            buckets = self.buckets
            wanted = sorted({number >> BUCKET_BITS for number in parsed if type(number) is int}.difference(buckets))
            try:
                read = register._buckets(self.version_id, wanted)  # the version's existence is checked even if none
            except _Gone:
                self.version_id = None
                continue
            for high in wanted:
                buckets[high] = read.get(high, ())
            self.versions.add(self.version_id)
            return register._answers(self.version_id, buckets, parsed)
        raise RegisterError(f"{register.spec.name} changed {ATTEMPTS} times while being read: check again", 503)


def open_register(host: PluginHost, code: str | None = None) -> Register:
    """Register ``code`` (the ``nix_register`` setting when None) as the host's settings configure it."""
    known = registers(host.settings)
    code = code or host.settings.nix_register
    spec = known.get(code or "")
    if spec is None:
        raise RegisterError(f"no register {code!r} (configured: {', '.join(sorted(known))})", 404)
    return Register(host.redis, spec, keep=host.settings.nix_keep_versions)


__all__ = ["Imported", "Register", "RegisterError", "RegisterFileError", "RegisterKeys", "Version", "open_register"]

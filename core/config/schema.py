"""A small schema language for customer YAML: declared as data, located errors.

Each spec checks one YAML node (as read by :func:`kodeord.config.yamlfile.parse_yaml`,
which remembers line and column) and converts it to plain Python. Problems are
collected, not raised, so a customer sees every fault in a file at once.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from difflib import get_close_matches
from typing import Any

from kodeord.support.errors import Problem

MAX_DEPTH = 64  # levels of plain values inside one another (yamlfile refuses deeper files before this)


@dataclass(frozen=True)
class Loc:
    """A place in a file, 1-based."""

    file: str
    line: int
    column: int


class Checker:
    """Collects problems for one file."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.problems: list[Problem] = []

    def problem(self, loc: Loc, path: str, message: str) -> None:
        self.problems.append(Problem(loc.file, loc.line, loc.column, message, path))


def key_loc(node: Any, key: Any, file: str, fallback: Loc) -> Loc:
    """Where ``key`` of a mapping node (or item ``key`` of a sequence node) starts."""
    lc = getattr(node, "lc", None)
    try:
        if lc is not None:
            line, col = lc.key(key) if isinstance(node, Mapping) else lc.item(key)
            return Loc(file, line + 1, col + 1)
    except (KeyError, IndexError, TypeError):
        pass
    return fallback


def value_loc(node: Any, key: Any, file: str, fallback: Loc) -> Loc:
    """Where the value of ``key`` (mapping) or item ``key`` (sequence) starts."""
    lc = getattr(node, "lc", None)
    try:
        if lc is not None:
            if isinstance(node, Mapping):
                line, col = lc.value(key)
            else:
                line, col = lc.item(key)
            return Loc(file, line + 1, col + 1)
    except (KeyError, IndexError, TypeError):
        pass
    return fallback


def _describe(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, (int, float)):
        return f"the number {value}"
    if isinstance(value, str):
        return f"the text {value!r}"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return type(value).__name__


class Spec:
    """Base class: ``check`` returns the converted value or None after a problem."""

    what = "a value"

    def check(self, value: Any, c: Checker, loc: Loc, path: str) -> Any:
        raise NotImplementedError

    def wrong(self, value: Any, c: Checker, loc: Loc, path: str) -> None:
        c.problem(loc, path, f"expected {self.what}, got {_describe(value)}")


class _TooDeep(Exception):
    pass


class Anything(Spec):
    """Any YAML value, converted to plain Python (for plugin action parameters)."""

    what = "any value"

    def check(self, value: Any, c: Checker, loc: Loc, path: str) -> Any:
        try:
            return self.plain(value, MAX_DEPTH)
        except _TooDeep:  # parse_yaml refuses such files; this guards values that come from elsewhere
            c.problem(loc, path, f"values nested more than {MAX_DEPTH} levels deep")
            return None

    def plain(self, value: Any, levels: int) -> Any:
        """``value`` as plain dicts and lists, at most ``levels`` of them deep."""
        if isinstance(value, (Mapping, list)) and levels == 0:
            raise _TooDeep
        if isinstance(value, Mapping):
            return {str(k): self.plain(v, levels - 1) for k, v in value.items()}
        if isinstance(value, list):
            return [self.plain(v, levels - 1) for v in value]
        return value


@dataclass
class Text(Spec):
    """A string, optionally matching a full regex; numbers are accepted as their text."""

    what: str = "text"
    pattern: str | None = None
    max_length: int = 2000
    convert: Callable[[str], Any] | None = None

    def check(self, value: Any, c: Checker, loc: Loc, path: str) -> Any:
        if isinstance(value, bool) or value is None or isinstance(value, (Mapping, list)):
            self.wrong(value, c, loc, path)
            return None
        text = str(value)
        if len(text) > self.max_length:
            c.problem(loc, path, f"text longer than {self.max_length} characters")
            return None
        if self.pattern is not None and not re.fullmatch(self.pattern, text):
            self.wrong(value, c, loc, path)
            return None
        if self.convert is not None:
            try:
                return self.convert(text)
            except ValueError as exc:
                c.problem(loc, path, str(exc))
                return None
        return text


@dataclass
class Flag(Spec):
    """true or false."""

    what: str = "true or false"

    def check(self, value: Any, c: Checker, loc: Loc, path: str) -> Any:
        if not isinstance(value, bool):
            self.wrong(value, c, loc, path)
            return None
        return value


@dataclass
class Choice(Spec):
    """One of a fixed set of words (compared case-insensitively)."""

    choices: tuple[str, ...]

    @property
    def what(self) -> str:  # type: ignore[override]
        return "one of " + ", ".join(self.choices)

    def check(self, value: Any, c: Checker, loc: Loc, path: str) -> Any:
        if isinstance(value, str) and value.lower() in self.choices:
            return value.lower()
        self.wrong(value, c, loc, path)
        return None


@dataclass
class ListOf(Spec):
    """A list of items; ``single=True`` also accepts one bare item."""

    item: Spec
    single: bool = False
    min_items: int = 0
    max_items: int = 10_000

    @property
    def what(self) -> str:  # type: ignore[override]
        return f"a list of {self.item.what}"

    def check(self, value: Any, c: Checker, loc: Loc, path: str) -> Any:
        if self.single and not isinstance(value, list):
            value, node = [value], None
        elif not isinstance(value, list):
            self.wrong(value, c, loc, path)
            return None
        else:
            node = value
        if not self.min_items <= len(value) <= self.max_items:
            c.problem(loc, path, f"expected {self.min_items} to {self.max_items} items, got {len(value)}")
            return None
        out = []
        for i, item in enumerate(value):
            item_loc = value_loc(node, i, c.file, loc) if node is not None else loc
            checked = self.item.check(item, c, item_loc, f"{path}[{i}]")
            if checked is not None:  # a broken item is reported and left out; the others are still checked
                out.append(checked)
        return out


@dataclass
class Field:
    """One key of a :class:`Record`."""

    spec: Spec
    required: bool = False
    default: Any = None
    doc: str = ""


@dataclass
class Obj:
    """A checked mapping: its values plus where each key was written."""

    values: dict[str, Any]
    loc: Loc
    path: str
    key_locs: dict[str, Loc] = field(default_factory=dict)

    def __getitem__(self, key: str) -> Any:
        return self.values[key]

    def get(self, key: str, default: Any = None) -> Any:
        value = self.values.get(key)
        return default if value is None else value

    def where(self, key: str) -> tuple[Loc, str]:
        """Location and key path of ``key`` (of the mapping itself if absent)."""
        return self.key_locs.get(key, self.loc), f"{self.path}.{key}" if self.path else key


class Record(Spec):
    """A mapping with known keys; unknown keys are problems with a suggestion."""

    def __init__(self, what: str, fields: dict[str, Field]) -> None:
        self.what = what
        self.fields = fields

    def check(self, value: Any, c: Checker, loc: Loc, path: str) -> Any:
        if not isinstance(value, Mapping):
            self.wrong(value, c, loc, path)
            return None
        # Every problem is reported, but only a missing or unusable required key makes the record unusable: the
        # rest of it (and of the file) is still checked, so a customer sees every fault at once.
        obj = Obj({}, loc, path)
        ok = True
        for key in value:
            if key not in self.fields:
                hint = get_close_matches(str(key), list(self.fields), n=1)
                extra = f" (did you mean {hint[0]!r}?)" if hint else ""
                c.problem(key_loc(value, key, c.file, loc), path, f"unknown key {key!r}{extra}")
                if hint and hint[0] not in value:  # a misspelt key: what follows from its absence would mislead
                    ok = False
        for name, spec in self.fields.items():
            sub_path = f"{path}.{name}" if path else name
            if name not in value or value[name] is None:
                if spec.required:
                    c.problem(loc, path, f"missing required key {name!r}")
                    ok = False
                obj.values[name] = spec.default
                continue
            obj.key_locs[name] = key_loc(value, name, c.file, loc)
            checked = spec.spec.check(value[name], c, value_loc(value, name, c.file, loc), sub_path)
            if checked is None:
                ok = ok and not spec.required
                checked = spec.default
            obj.values[name] = checked
        return obj if ok else None


@dataclass
class Number(Spec):
    """A number within bounds; ``integer=True`` refuses fractions."""

    what: str = "a number"
    minimum: float | None = None
    maximum: float | None = None
    integer: bool = False

    def check(self, value: Any, c: Checker, loc: Loc, path: str) -> Any:
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or (self.integer and not isinstance(value, int))
        ):
            self.wrong(value, c, loc, path)
            return None
        if (self.minimum is not None and value < self.minimum) or (self.maximum is not None and value > self.maximum):
            low = "" if self.minimum is None else f" from {self.minimum:g}"
            high = "" if self.maximum is None else f" up to {self.maximum:g}"
            c.problem(loc, path, f"expected {self.what}{low}{high}, got {value!r}")
            return None
        return value


@dataclass
class MapOf(Spec):
    """A mapping whose keys match ``key`` and whose values match ``value``; keys are kept as text."""

    key: Text
    value: Spec
    what: str = "a mapping"

    def check(self, value: Any, c: Checker, loc: Loc, path: str) -> Any:
        if not isinstance(value, Mapping):
            self.wrong(value, c, loc, path)
            return None
        out: dict[str, Any] = {}
        for key, item in value.items():
            where = key_loc(value, key, c.file, loc)
            name = self.key.check(key, c, where, path)
            checked = self.value.check(
                item, c, value_loc(value, key, c.file, loc), f"{path}.{key}" if path else str(key)
            )
            if name is not None:
                out[str(name)] = checked
        return out

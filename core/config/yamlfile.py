"""Reading customer YAML files: ruamel.yaml's round-trip loader (line and column of every node) within limits.

A file's size, its nesting and what its aliases stand for are limited, so that reading it costs time and
memory in proportion to its size; each limit is refused with its place in the file. Comments are dropped as
they are read (nothing is written back). Problems are returned, not raised.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.composer import Composer
from ruamel.yaml.constructor import RoundTripConstructor
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.events import AliasEvent, MappingStartEvent, SequenceStartEvent
from ruamel.yaml.reader import ReaderError
from ruamel.yaml.scanner import RoundTripScanner, Scanner

from kodeord.config.schema import MAX_DEPTH
from kodeord.support.errors import Problem

# Limits on one customer YAML file, so that reading it costs time and memory in proportion to its size.
MAX_FILE_BYTES = 8_000_000
MAX_ALIAS_VALUES = 1_000_000  # values that aliases stand for, in all; fewer than a file of the largest size can hold
_TOO_DEEP = f"lists and mappings nested more than {MAX_DEPTH} levels deep here; at most {MAX_DEPTH} levels are allowed"


class _LocatedError(Exception):
    """A file is past a limit or holds a value that cannot be built; ``mark`` is where (0-based, as ruamel counts)."""

    def __init__(self, mark: Any, message: str) -> None:
        super().__init__(message)
        self.mark = mark
        self.message = message


class _Scanner(RoundTripScanner):
    """The round-trip scanner, dropping comments as the plain scanner does.

    Nothing read here is written back, and the round-trip scanner joins a run of comment
    lines after a value by repeated concatenation: time quadratic in the run's length.
    """

    check_token = Scanner.check_token
    peek_token = Scanner.peek_token
    get_token = Scanner.get_token
    scan_to_next_token = Scanner.scan_to_next_token

    def fetch_flow_collection_start(self, *args: Any, **kwargs: Any) -> None:
        # Refused here, not only when composing: the scanner looks ahead up to 1,024 characters for a
        # possible key at every open flow level, so deep flow nesting would cost time before it is seen.
        # Open block collections (``indents``) plus flow levels never count more levels than composing does.
        if len(self.indents) + self.flow_level >= MAX_DEPTH:
            raise _LocatedError(self.reader.get_mark(), _TOO_DEEP)
        super().fetch_flow_collection_start(*args, **kwargs)


class _Composer(Composer):
    """Builds the node graph while measuring nesting and what aliases stand for, refusing past the limits."""

    def __init__(self, loader: Any = None) -> None:
        super().__init__(loader)
        self.warn_double_anchors = False  # YAML allows reusing an anchor name; later aliases mean the later one
        self.open: list[list[int]] = []  # per collection being composed: values so far, height of its children
        self.finished: dict[int, tuple[int, int]] = {}  # id of each finished anchored node -> values, height
        self.alias_values = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.parser.peek_event()
        if isinstance(event, AliasEvent):
            node = super().compose_node(parent, index)
            values, height = self.expand(node, event)
        elif isinstance(event, (SequenceStartEvent, MappingStartEvent)):
            if len(self.open) >= MAX_DEPTH:
                raise _LocatedError(event.start_mark, _TOO_DEEP)
            self.open.append([1, 0])
            node = super().compose_node(parent, index)
            values, height = self.open.pop()
            height += 1
        else:
            node = super().compose_node(parent, index)
            values, height = 1, 0
        if not isinstance(event, AliasEvent) and event.anchor is not None:
            self.finished[id(node)] = (values, height)
        if self.open:
            self.open[-1][0] += values
            self.open[-1][1] = max(self.open[-1][1], height)
        return node

    def expand(self, node: Any, event: Any) -> tuple[int, int]:
        """Values and height the alias ``event`` (resolved to ``node``) stands for, within the limits."""
        known = self.finished.get(id(node))
        if known is None:  # the anchored node is still open: the alias is inside it
            message = f"alias *{event.anchor} is inside the value it names; a value cannot contain itself"
            raise _LocatedError(event.start_mark, message)
        values, height = known
        if len(self.open) + height > MAX_DEPTH:
            raise _LocatedError(
                event.start_mark,
                f"alias *{event.anchor} nests lists and mappings {len(self.open) + height:,} levels deep here, "
                f"{len(self.open) + height - MAX_DEPTH:,} more than the {MAX_DEPTH} allowed",
            )
        self.alias_values += values
        if self.alias_values > MAX_ALIAS_VALUES:
            raise _LocatedError(
                event.start_mark,
                f"with alias *{event.anchor} the aliases in this file stand for {self.alias_values:,} values, "
                f"{self.alias_values - MAX_ALIAS_VALUES:,} more than the {MAX_ALIAS_VALUES:,} allowed; "
                "use fewer aliases or write the values out",
            )
        return values, height


_TAG_WORDS = {"int": "a whole number", "float": "a number", "bool": "true or false", "timestamp": "a date"}


class _Constructor(RoundTripConstructor):
    """The round-trip constructor, turning a value it cannot build (``2026-13-01``, ``!!int x``) into a located
    error."""

    def construct_object(self, node: Any, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep)
        except (ValueError, LookupError, TypeError, ArithmeticError, AttributeError) as exc:
            tag = str(node.tag).rpartition(":")[2]
            what = repr(node.value[:60]) if isinstance(node.value, str) else "this value"
            message = f"cannot read {what} as {_TAG_WORDS.get(tag, tag)} ({exc})"
            if isinstance(node.value, str):
                message += "; put it in quotes if it is meant as text"
            raise _LocatedError(node.start_mark, message) from None


# The parser's words for a syntax error (problem, then context) -> what to tell a person, and whether the place
# to show is where the broken thing started (an unclosed quote) rather than where the parser gave up.
_PLAIN: tuple[tuple[str, str, str, bool], ...] = (
    ("found character '\\t'", "", "a tab character: indent with spaces only", False),
    ("tab", "", "a tab character: indent with spaces only", False),
    ("end of stream", "quoted scalar", "a quote starts here and is never closed", True),
    (
        "expected <block end>, but found '<scalar>'",
        "",
        "text after a quoted value on the same line (put the "
        "whole value in quotes), or a line indented differently from the lines before it",
        False,
    ),
    (
        "expected <block end>",
        "",
        "this line is indented differently from the lines before it: the keys of one "
        "mapping start in the same column, and each level is indented by the same number of spaces",
        False,
    ),
    (
        "mapping values are not allowed here",
        "",
        "a ': ' where no new key can start: put a value that holds "
        "': ' in quotes (reply: \"Svar: ja\"), or check this line's indentation",
        False,
    ),
    (
        "could not find expected ':'",
        "",
        "a line that is neither 'key: value' nor a list item ('- ...'); a key needs ': ' after it",
        True,
    ),
    (
        "did not find expected key",
        "",
        "a line here is not a 'key: value' of the mapping it is in: check its "
        "indentation, and that list items start with '- '",
        False,
    ),
    (
        "did not find expected '-' indicator",
        "",
        "a list item without '- ' before it, or indented differently from the items before it",
        False,
    ),
    ("expected ',' or ']'", "", "a list in [ ] is not closed, or its items are not separated by commas", True),
    ("expected ',' or '}'", "", "a mapping in { } is not closed, or its entries are not separated by commas", True),
    ("found undefined alias", "", "an alias (*name) with no anchor (&name) before it", False),
    ("found duplicate key", "", "a key that appears twice in the same mapping", False),
    (
        "expected a comment or a line break",
        "",
        "text after a value on the same line: put the whole value in quotes",
        False,
    ),
    ("end of stream", "", "the file ends in the middle of something: a quote, [ or { that is not closed", True),
)


def plain_words(exc: MarkedYAMLError) -> tuple[str, bool]:
    """A YAML syntax error as a person reads it, and whether to point at where the broken part starts."""
    problem, context = str(exc.problem or ""), str(exc.context or "")
    for words, within, plain, at_start in _PLAIN:
        if words in problem and within in context:
            return f"YAML syntax error: {plain}", at_start and exc.context_mark is not None
    return f"YAML syntax error: {problem or context}", False


def parse_yaml(path: Path) -> tuple[Any, list[Problem]]:
    """Parse one YAML file within the limits, keeping line and column of every node; problems instead of exceptions."""
    name = str(path)
    try:
        with path.open("rb") as stream:
            raw = stream.read(MAX_FILE_BYTES + 1)
            size = os.fstat(stream.fileno()).st_size
    except OSError as exc:
        return None, [Problem(name, 1, 1, f"cannot read file: {exc.strerror or exc}")]
    if len(raw) > MAX_FILE_BYTES:
        if size > MAX_FILE_BYTES:
            message = f"file is {size:,} bytes, {size - MAX_FILE_BYTES:,} more than the {MAX_FILE_BYTES:,} allowed"
        else:  # not a regular file: its size is unknown
            message = f"file is longer than the {MAX_FILE_BYTES:,} bytes allowed"
        return None, [Problem(name, 1, 1, message + "; split it into several files")]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None, [Problem(name, 1, 1, "file is not UTF-8 text")]
    yaml = YAML(typ="rt")
    yaml.Scanner, yaml.Composer, yaml.Constructor = _Scanner, _Composer, _Constructor
    try:
        return yaml.load(text), []
    except _LocatedError as exc:
        return None, [Problem(name, exc.mark.line + 1, exc.mark.column + 1, exc.message)]
    except MarkedYAMLError as exc:
        message, at_start = plain_words(exc)
        mark = (exc.context_mark if at_start else None) or exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        return None, [Problem(name, line, col, message)]
    except ReaderError as exc:  # a character YAML does not allow, by its position in the text
        at = min(max(int(getattr(exc, "position", 0) or 0), 0), len(text))
        line = text.count("\n", 0, at) + 1
        column = at - (text.rfind("\n", 0, at) + 1) + 1
        character = int(getattr(exc, "character", 0) or 0)
        return None, [Problem(name, line, column, f"YAML does not allow the character U+{character:04X} here")]
    except YAMLError as exc:
        return None, [Problem(name, 1, 1, "YAML error: " + " ".join(str(exc).split()))]

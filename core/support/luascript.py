"""Redis scripts: each a ``.lua`` file beside the Python that owns it, read once per process and called with
the keys and arguments its header declares.

A script's file is named for what it does and the keys it always takes (``releaseLease-1.lua``, as BullMQ
names its commands), and begins with a header of comment lines::

    -- Release an outbox stream's lease if it still holds the releasing sender's token.
    -- Input:
    --   KEYS[1]   the lease
    --   ARGV[1]   the token it must hold
    -- Output: 1 if released, else 0

``KEYS[n..]`` or ``ARGV[n..]`` declares any number from ``n`` on. A call with other counts than the header
declares raises ``ScriptCallError`` before anything reaches Redis, as do keys under more than one hash tag (a
Redis Cluster runs a script only on keys of one slot; the check runs on a single Redis too, so tests find it).
In a cluster's pipeline a script is sent whole (EVAL): such a pipeline cannot make sure the node has it loaded
first, and a node that has just taken over from a lost primary may not. Shared Lua (``includes/*.lua``) is put
before a script by its owner (``prelude``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import redis
from redis.cluster import ClusterPipeline
from redis.commands.core import Script

_HEADER = re.compile(r"\A(?:--.*\n)+")
_DECLARED = re.compile(r"^--\s+(KEYS|ARGV)\[(\d+)(\.\.)?\]", re.M)
_NAME = re.compile(r"\A[a-z][A-Za-z]*-(\d+)\.lua\Z")


class ScriptCallError(TypeError):
    """A script called with other keys or arguments than its header declares."""


@dataclass(frozen=True)
class Arity:
    """How many keys or arguments a script takes: ``fixed``, and any number more if ``more``."""

    fixed: int
    more: bool

    def allows(self, n: int) -> bool:
        return n == self.fixed or (self.more and n > self.fixed)

    def __str__(self) -> str:
        return f"{self.fixed}{' or more' if self.more else ''}"


@dataclass(frozen=True)
class Header:
    """What a script's header declares."""

    keys: Arity
    argv: Arity


def parse_header(name: str, source: str) -> Header:
    """The header of script ``name``; ``ValueError`` saying what is wrong with it or with the name."""
    header = split(source)[0]
    if not header:
        raise ValueError(f"{name}: no header: the file must begin with -- comment lines listing KEYS and ARGV")
    arities = {}
    for kind in ("KEYS", "ARGV"):
        declared = [(int(n), bool(more)) for k, n, more in _DECLARED.findall(header) if k == kind]
        numbers = [n for n, _ in declared]
        if numbers != list(range(1, len(numbers) + 1)):
            raise ValueError(f"{name}: the header's {kind} must be numbered 1, 2, ... in order, not {numbers}")
        if any(more for _, more in declared[:-1]):
            raise ValueError(f"{name}: only the last of the header's {kind} may be {kind}[n..]")
        more = bool(declared) and declared[-1][1]
        arities[kind] = Arity(len(declared) - more, more)
    named = _NAME.match(name)
    if named is None or int(named.group(1)) != arities["KEYS"].fixed:
        raise ValueError(
            f"{name}: a script is named camelCase-N.lua, N the keys it always takes "
            f"({arities['KEYS'].fixed} by its header)"
        )
    return Header(arities["KEYS"], arities["ARGV"])


def split(source: str) -> tuple[str, str]:
    """A script's header (its leading comment lines) and the rest."""
    found = _HEADER.match(source)
    return (found.group(0), source[found.end() :]) if found else ("", source)


@cache
def source(package: str, name: str) -> str:
    """The text of ``name`` in ``package``, read once per process."""
    return resources.files(package).joinpath(name).read_text(encoding="utf-8")


def hash_tag(key: str | bytes) -> str | bytes:
    """What of ``key`` a Redis Cluster hashes to find its slot: the text between its first ``{`` and the first
    ``}`` after it if that is not empty, else the whole key."""
    opening = "{" if isinstance(key, str) else b"{"
    closing = "}" if isinstance(key, str) else b"}"
    start = key.find(opening)  # type: ignore[arg-type]
    if start >= 0:
        end = key.find(closing, start + 1)  # type: ignore[arg-type]
        if end > start + 1:
            return key[start + 1 : end]
    return key


class LuaScript:
    """One script file, checked and hashed once; call it on any client or pipeline."""

    def __init__(self, package: str, name: str, prelude: str = "") -> None:
        text = source(package, name)
        self.name = name
        self.header = parse_header(name, text)
        self.text = f"{prelude}\n{text}" if prelude else text
        self._script = Script(None, self.text.encode())  # type: ignore[arg-type]  # bytes: no client needed

    @property
    def sha(self) -> str:
        """Its SHA1, by which Redis runs it once loaded."""
        return str(self._script.sha)

    def __call__(self, client: redis.Redis | redis.client.Pipeline, keys: list[Any], args: list[Any]) -> Any:
        """Run it on ``client`` (by its SHA, loading it first where Redis does not have it)."""
        self.check(keys, args)
        if isinstance(client, ClusterPipeline):  # it cannot load scripts: the text goes with the call
            return client.execute_command("EVAL", self.text, len(keys), *keys, *args)
        return self._script(keys=keys, args=args, client=client)

    def check(self, keys: list[Any], args: list[Any]) -> None:
        """Raise ``ScriptCallError`` unless the script may be called with ``keys`` and ``args``."""
        if not self.header.keys.allows(len(keys)) or not self.header.argv.allows(len(args)):
            raise ScriptCallError(
                f"{self.name} takes {self.header.keys} keys and {self.header.argv} arguments, "
                f"called with {len(keys)} and {len(args)}"
            )
        if len(keys) > 1 and len({hash_tag(key) for key in keys}) > 1:
            raise ScriptCallError(
                f"{self.name}'s keys must share one hash tag, so a Redis Cluster has them in one slot: {keys!r}"
            )

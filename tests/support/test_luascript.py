"""Every Redis script is a ``.lua`` file whose header declares its KEYS and ARGV: the header agrees with the
file's name, with what the script reads, and with the Python that calls it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import redis

from kodeord.commit import records
from kodeord.outbound import jobs
from kodeord.support.luascript import LuaScript, ScriptCallError, parse_header, split

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = sorted(
    p for folder in ("core", "plugins") for p in (ROOT / folder).rglob("*.lua") if "includes" not in p.parts
)
USED = re.compile(r"\b(KEYS|ARGV)\[(\d+)\]")
# Slots a script reads through an index rather than by number: the report's digest and words (``report = 8``,
# read by the records library as ARGV[i] and ARGV[i + 1]).
INDIRECT = {("applyReport-4.lua", "ARGV"): {8, 9}}


def test_there_are_scripts_and_no_python_file_holds_one() -> None:
    assert len(SCRIPTS) >= 10
    for path in (p for folder in ("core", "plugins") for p in (ROOT / folder).rglob("*.py")):
        assert "redis.call(" not in path.read_text(encoding="utf-8"), f"{path}: a Lua script belongs in a .lua file"


@pytest.mark.parametrize("path", SCRIPTS, ids=lambda p: p.name)
def test_each_script_reads_only_what_its_header_declares_and_every_fixed_slot_it_declares(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    header = parse_header(path.name, text)
    body = split(text)[1]
    for kind, arity in (("KEYS", header.keys), ("ARGV", header.argv)):
        used = {int(n) for k, n in USED.findall(body) if k == kind}
        beyond = {n for n in used if n > arity.fixed}
        assert arity.more or not beyond, f"{path.name} reads {kind}{sorted(beyond)} beyond its header's {arity}"
        unread = set(range(1, arity.fixed + 1)) - used - INDIRECT.get((path.name, kind), set())
        assert not unread, f"{path.name} declares {kind}{sorted(unread)} and never reads them"


@pytest.mark.parametrize("path", SCRIPTS, ids=lambda p: p.name)
def test_each_script_is_loaded_by_the_python_beside_it(path: Path) -> None:
    loaders = [p for p in path.parent.glob("*.py") if f'"{path.name}"' in p.read_text(encoding="utf-8")]
    assert len(loaders) == 1, f"{path.name} is loaded by {loaders} (one module beside it owns it)"


def test_a_call_with_other_counts_than_the_header_is_refused_before_redis(kodeord_redis: redis.Redis) -> None:
    release = jobs._RELEASE_LEASE
    with pytest.raises(
        ScriptCallError, match=r"^releaseLease-1.lua takes 1 keys and 1 arguments, called with 2 and 1$"
    ):
        release(kodeord_redis, ["a", "b"], ["token"])
    with pytest.raises(ScriptCallError, match="called with 1 and 0"):
        release(kodeord_redis, ["a"], [])
    kodeord_redis.set("a", "token")
    assert release(kodeord_redis, ["a"], ["token"]) == 1
    assert kodeord_redis.get("a") is None


@pytest.mark.parametrize("path", SCRIPTS, ids=lambda p: p.name)
def test_each_script_compiles_in_redis(path: Path, kodeord_redis: redis.Redis) -> None:
    folder = path.parent.relative_to(ROOT).parts
    package = ".".join(("kodeord", *folder[1:])) if folder[0] == "core" else ".".join(("kodeord", *folder))
    prelude = records.library() if "includes/records.lua" in split(path.read_text(encoding="utf-8"))[0] else ""
    script = LuaScript(package, path.name, prelude)
    assert kodeord_redis.script_load(script.text) == script._script.sha


def test_more_arguments_are_allowed_where_the_header_says_n_dots(kodeord_redis: redis.Redis) -> None:
    find = records._FIND
    assert str(find.header.argv) == "2 or more"
    with pytest.raises(ScriptCallError):
        find(kodeord_redis, ["{p}"], [1000])
    assert find(kodeord_redis, ["{p}"], [1000, 2000, b"0123456789"]) == [None, 0, None]


@pytest.mark.parametrize(
    ("name", "text", "problem"),
    [
        ("noHeader-1.lua", "return 1\n", "no header"),
        (
            "gap-1.lua",
            "-- x\n--   KEYS[1] a\n--   ARGV[2] b\nreturn 1\n",
            r"ARGV must be numbered 1, 2, ... in order, not \[2\]",
        ),
        ("early-2.lua", "--   KEYS[1..] a\n--   KEYS[2] b\n", r"only the last of the header's KEYS may be"),
        ("misnamed-2.lua", "--   KEYS[1] a\n", r"named camelCase-N.lua, N the keys it always takes \(1 by"),
        ("snake_case-1.lua", "--   KEYS[1] a\n", "named camelCase-N.lua"),
    ],
)
def test_a_header_that_is_wrong_says_what_is_wrong(name: str, text: str, problem: str) -> None:
    with pytest.raises(ValueError, match=f"^{re.escape(name)}: .*{problem}"):
        parse_header(name, text)


def test_a_script_is_read_once_per_process() -> None:
    first = LuaScript("kodeord.outbound", "releaseLease-1.lua")
    again = LuaScript("kodeord.outbound", "releaseLease-1.lua")
    assert first.text is again.text

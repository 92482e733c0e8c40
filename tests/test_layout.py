"""The shape of the code: the core laid out by stage, one owner of the outbox, plugins on the typed surface."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CORE, PLUGINS = ROOT / "core", ROOT / "plugins"
STAGES = ("inbound", "config", "decide", "commit", "outbound", "watch", "web", "cli", "support", "testing")


def test_the_core_top_level_holds_the_root_the_platform_the_hooks_and_the_stages() -> None:
    modules = sorted(p.name for p in CORE.glob("*.py"))
    assert modules == ["__init__.py", "hookspecs.py", "platform.py"]
    packages = {p.name for p in CORE.iterdir() if (p / "__init__.py").exists()}
    assert packages == set(STAGES)
    for stage in STAGES:
        doc = ast.get_docstring(ast.parse((CORE / stage / "__init__.py").read_text(encoding="utf-8")))
        assert doc and len(doc) > 80, f"core/{stage}/__init__.py must say what the stage does and hands on"


# What writes an outbox stream: the outbox module's writers, a stream write, the committer.
OUTBOX_WRITE = re.compile(
    r"\boutbox\.(append|write|start|retry|step|move_due)\(|\.xadd\([^)]*\.(outbox|bulk)\b|committer"
)


@pytest.mark.parametrize("path", sorted(PLUGINS.rglob("*.py")), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_plugin_writes_an_outbox_or_runs_a_script_of_its_own(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert not OUTBOX_WRITE.search(text), f"{path}: plugins queue messages through Effects, not the outbox"
    assert "LuaScript" not in text and ".eval(" not in text and "register_script" not in text, path
    assert not list(path.parent.glob("*.lua")), f"{path.parent}: plugins change state through Effects"


@pytest.mark.parametrize(
    "path", sorted([*PLUGINS.rglob("*.py"), CORE / "hookspecs.py"]), ids=lambda p: str(p.relative_to(ROOT))
)
def test_plugins_see_the_platform_typed_and_never_match_action_names(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert not re.search(r"\bplatform\w*: Any\b|Iterator\[Any\]", text), f"{path}: annotate with PluginHost"
    assert not re.search(r"\bcall\.action [!=]= ", text), f"{path}: declare the action with ActionSpec(run=...)"
    assert not re.search(r"\bfanout\.source [!=]= ", text), f"{path}: register a FanoutSource"


@pytest.mark.parametrize(
    "path", sorted([*CORE.rglob("*.py"), *PLUGINS.rglob("*.py")]), ids=lambda p: str(p.relative_to(ROOT))
)
def test_every_pipeline_says_whether_it_is_a_transaction(path: Path) -> None:
    """A pipeline is a transaction by default on one Redis and not on a cluster: the code must say which."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "pipeline":
            said = {k.arg for k in node.keywords} | ({"transaction"} if node.args else set())
            assert "transaction" in said, f"{path}:{node.lineno}: say pipeline(transaction=True) or (=False)"

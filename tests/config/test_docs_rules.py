"""Every complete rule file the documentation shows (a YAML block with a ``tenant:``) loads as written, with the
plugins Kodeord ships and their checks: a newcomer who copies one gets a file that works."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from kodeord.config.catalog import Catalog
from kodeord.support.manager import Hooks, make_manager

ROOT = Path(__file__).resolve().parents[2]
_BLOCK = re.compile(r"^```yaml\n(.*?)^```", re.MULTILINE | re.DOTALL)
# Blocks that show a mistake on purpose, by a marker comment in them.
_WRONG = "# refused:"


def rule_files() -> list[tuple[str, str]]:
    found = []
    for doc in sorted([ROOT / "README.md", *(ROOT / "docs").glob("*.md")]):
        for n, match in enumerate(_BLOCK.finditer(doc.read_text(encoding="utf-8"))):
            text = match.group(1)
            if re.search(r"^tenant:", text, re.MULTILINE) and _WRONG not in text:
                found.append((f"{doc.name}#{n}", text))
    return found


@pytest.mark.parametrize(("name", "text"), rule_files(), ids=[name for name, _ in rule_files()])
def test_a_rule_file_in_the_docs_loads_as_written(name: str, text: str, tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(text, encoding="utf-8")
    hooks = Hooks(make_manager())
    catalog = Catalog([path], hooks.actions, "Europe/Stockholm", ("SE", "NO"), hooks.check_service)
    assert catalog.config.tenants, f"{name} declares no tenant"


def test_the_docs_show_rule_files() -> None:
    assert len(rule_files()) >= 6

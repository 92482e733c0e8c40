"""Reloading rules, and a 1,000-service file on one short code."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from kodeord.inbound.messages import Inbound
from kodeord.platform import Platform
from kodeord.support.errors import RuleFileError

from ..conftest import TV_RULES


def test_reload_picks_up_changes(
    make_platform: Callable[..., Platform], make_inbound: Callable[..., Inbound], tmp_path: Path
) -> None:
    path = tmp_path / "tv.yaml"
    path.write_text(TV_RULES, encoding="utf-8")
    platform = make_platform(path)
    assert platform.handle(make_inbound("MELLO 03")).replies[0]["text"] == "Tack för rösten på 03"
    path.write_text(TV_RULES.replace("Tack för rösten", "Tack för din röst"), encoding="utf-8")
    platform.reload_rules()
    assert platform.catalog.generation == 1
    assert platform.handle(make_inbound("MELLO 03")).replies[0]["text"] == "Tack för din röst på 03"


def test_broken_file_never_replaces_working_configuration(
    make_platform: Callable[..., Platform], make_inbound: Callable[..., Inbound], tmp_path: Path
) -> None:
    path = tmp_path / "tv.yaml"
    path.write_text(TV_RULES, encoding="utf-8")
    platform = make_platform(path)
    before = platform.catalog.index
    path.write_text(TV_RULES.replace("keyword: MELLO", "keyword: [MELLO"), encoding="utf-8")
    with pytest.raises(RuleFileError) as info:
        platform.reload_rules()
    assert str(info.value).startswith(f"{path}:")
    assert platform.catalog.index is before
    assert platform.catalog.generation == 0
    assert platform.handle(make_inbound("MELLO 03")).rule == "vote"


def test_reload_with_a_conflicting_new_file_keeps_old_paths(
    make_platform: Callable[..., Platform], make_inbound: Callable[..., Inbound], tmp_path: Path
) -> None:
    good = tmp_path / "tv.yaml"
    good.write_text(TV_RULES, encoding="utf-8")
    clash = tmp_path / "clash.yaml"
    clash.write_text(TV_RULES.replace("id: tv", "id: other"), encoding="utf-8")
    platform = make_platform(good)
    with pytest.raises(RuleFileError, match="claimed by both"):
        platform.reload_rules([good, clash])
    assert platform.catalog.paths == (good,)
    assert platform.handle(make_inbound("MELO 01")).service == "tv/mello"


def thousand_services(path: Path) -> dict[str, str]:
    """1,000 services with 10 keywords each on one short code; returns keyword -> service key."""
    lines = ["tenant: {id: big}", 'numbers: [{number: "72500", type: shared}]', "services:"]
    owner: dict[str, str] = {}
    for i in range(1000):
        words = [f"K{i}W{j}" for j in range(10)]
        owner.update({w: f"big/s{i}" for w in words})
        lines += [
            f"  - id: s{i}",
            '    number: "72500"',
            f"    keyword: {words[0]}",
            f"    aliases: [{', '.join(words[1:])}]",
            f'    fallback: "fallback {i}"',
            "    rules:",
            f"      - {{name: vote, when: {{args: '0[1-9]'}}, reply: 'vote {i} {{{{ args }}}}'}}",
            f"      - {{name: info, when: {{args: ''}}, reply: 'info {i}'}}",
        ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return owner


def test_thousand_services_load_and_route_every_keyword(
    make_platform: Callable[..., Platform], make_inbound: Callable[..., Inbound], tmp_path: Path
) -> None:
    owner = thousand_services(tmp_path / "big.yaml")
    platform = make_platform(tmp_path / "big.yaml")  # load time: bench/rules_load.py
    assert len(platform.catalog.config.services) == 1000
    assert len(owner) == 10_000
    wrong = []
    for n, (word, service) in enumerate(owner.items()):
        text = f"{word.lower()} 0{n % 9 + 1}"
        outcome = platform.handle(make_inbound(text), dry_run=True)
        index = service.split("/s")[1]
        if outcome.service != service or outcome.replies[0]["text"] != f"vote {index} 0{n % 9 + 1}":
            wrong.append((word, outcome.service))
    assert wrong == []


def test_a_plugin_finds_the_services_of_one_tenant_that_use_its_action(
    make_platform: Callable[..., Platform], tmp_path: Path
) -> None:
    rules = """\
tenant: {id: %s}
numbers: [{number: "%s", type: shared}]
services:
  - {id: quiet, number: "%s", keyword: TYST, rules: [{name: a, do: core.silent}, {name: b, do: core.silent}]}
  - {id: loud, number: "%s", keyword: HOJ, rules: [{name: a, reply: Hej}]}
"""
    for tenant, number in (("ett", "72550"), ("tva", "72551")):
        (tmp_path / f"{tenant}.yaml").write_text(rules % (tenant, number, number, number), encoding="utf-8")
    platform = make_platform([tmp_path / "ett.yaml", tmp_path / "tva.yaml"])
    using = platform.catalog.using("ett", "core.silent")
    assert [(service.key, [rule.name for rule in found]) for service, found in using] == [("ett/quiet", ["a", "b"])]
    assert [service.key for service, _ in platform.catalog.using("tva", "core.silent")] == ["tva/quiet"]
    assert platform.catalog.using("ett", "donation.give") == []
    assert platform.catalog.using("nobody", "core.silent") == []

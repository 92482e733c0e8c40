"""The gateways guide's example file is a working gateways file."""

from __future__ import annotations

import re
from pathlib import Path

from kodeord.outbound import gatewaycheck
from kodeord.outbound.gatewayconfig import load
from kodeord.support.manager import Hooks, make_manager

GUIDE = Path(__file__).parents[2] / "docs" / "gateways.md"


def test_the_complete_example_in_the_guide_loads(tmp_path: Path) -> None:
    example = re.search(r"A complete file.*?```yaml\n(.*?)```", GUIDE.read_text(encoding="utf-8"), re.S)
    assert example is not None
    path = tmp_path / "gateways.yaml"
    path.write_text(example.group(1), encoding="utf-8")
    names = set(re.findall(r"\$\{(\w+)\}", example.group(1)))
    config = load(path, Hooks(make_manager()).gateway_types(), environ={n: f"value-of-{n}" for n in names})
    assert [(g.id, g.type) for g in config.gateways] == [("telia", "kannel"), ("elks", "elks"), ("partner", "json")]
    assert config.gateways[0].options["password"] == "value-of-KANNEL_SENDSMS_PASSWORD"
    assert config.routing.choose("telia").gateway == "telia"  # type: ignore[union-attr]
    assert config.alerts is not None and config.alerts.emails == ("ops@example.com",)


def test_the_guide_passes_its_own_check_and_the_check_finds_what_loses_messages(tmp_path: Path) -> None:
    text = GUIDE.read_text(encoding="utf-8")
    example = re.search(r"A complete file.*?```yaml\n(.*?)```", text, re.S)
    kannel = re.search(r"\*\*Kannel's side\*\* \(`kannel.conf`\).*?```\n(.*?)```", text, re.S)
    assert example is not None and kannel is not None
    (tmp_path / "gateways.yaml").write_text(example.group(1), encoding="utf-8")
    (tmp_path / "kannel.conf").write_text(kannel.group(1), encoding="utf-8")
    names = set(re.findall(r"\$\{(\w+)\}", example.group(1)))
    secrets = {n: f"value-of-{n}" for n in names} | {"KANNEL_SENDSMS_PASSWORD": "SENDSMS-PASSWORD"}
    config = load(tmp_path / "gateways.yaml", Hooks(make_manager()).gateway_types(), environ=secrets)
    live = {"KODEORD_PUBLIC_URL": "https://sms.example.com"}
    assert gatewaycheck.check(config, live) + gatewaycheck.kannel_conf(tmp_path / "kannel.conf", config) == []
    unset = [f.message.split(":")[0] for f in gatewaycheck.check(config, {})]
    assert unset == [
        f"gateway {g} asks for delivery reports, but KODEORD_PUBLIC_URL is not set"
        for g in ("telia", "elks", "partner")
    ]
    lossy = kannel.group(1).replace("dlr-storage = internal", "dlr-storage = internal # in memory")
    lossy = lossy.replace("group = core", "group = smsbox\nglobal-sender = 72500\n\ngroup = core")
    (tmp_path / "kannel.conf").write_text(
        lossy.replace("password = SENDSMS-PASSWORD", "password = x"), encoding="utf-8"
    )
    found = [str(f).split(": ", 1)[1] for f in gatewaycheck.kannel_conf(tmp_path / "kannel.conf", config)]
    assert [f.split(":")[0][:40] for f in found] == [
        "a comment after a value",
        "warning",
        "gateway telia",
    ]

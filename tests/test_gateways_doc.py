"""The gateways guide's example file is a working gateways file."""

from __future__ import annotations

import re
from pathlib import Path

from kodeord.gatewayconfig import load
from kodeord.manager import Hooks, make_manager

GUIDE = Path(__file__).parents[1] / "docs" / "gateways.md"


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

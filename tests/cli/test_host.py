"""A plugin command's platform: a wrongly named TENANT/ID and a platform that cannot open end the command with
a message and an exit status, never a traceback."""

from __future__ import annotations

from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from kodeord.cli import host


@click.command()
@click.argument("name")
def show(name: str) -> None:
    tenant, item = host.tenant_and_id(name, "name it as TENANT/ID")
    with host.platform() as platform:
        click.echo(f"{tenant} {item} {len(platform.tenants())}")


@pytest.mark.parametrize("name", ["tv", "tv/", "/mello", ""])
def test_a_wrong_name_ends_the_command_saying_how_to_name_it(name: str) -> None:
    result = CliRunner().invoke(show, [name])
    assert (result.exit_code, result.output) == (2, f"error: name it as TENANT/ID, not {name!r}\n")


def test_an_id_may_be_left_out_where_the_command_allows_it() -> None:
    assert host.tenant_and_id("forening/", "name a list as TENANT/LIST", id_required=False) == ("forening", "")


def test_a_platform_that_cannot_open_ends_the_command_with_its_error(
    tmp_path: Path, kodeord_redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    broken = tmp_path / "rules.yaml"
    broken.write_text("tenant: [", encoding="utf-8")
    monkeypatch.setenv("KODEORD_REDIS_URL", kodeord_redis_url)
    monkeypatch.setenv("KODEORD_RULES", str(broken))
    result = CliRunner().invoke(show, ["tv/mello"])
    assert result.exit_code == 1 and result.output.startswith(f"error: {broken}:1:")
    good = tmp_path / "good.yaml"
    good.write_text("tenant: {id: tv}\nnumbers: []\nservices: []\n", encoding="utf-8")
    monkeypatch.setenv("KODEORD_RULES", str(good))
    result = CliRunner().invoke(show, ["tv/mello"])
    assert (result.exit_code, result.output) == (0, "tv mello 1\n")

"""The kodeord command, run as a real subprocess."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import redis

from kodeord.web import apikeys

from ..conftest import free_port, on_terminal, wait_up
from ..web.test_apikeys import KEY

ROOT = Path(__file__).parents[2]
KODEORD = str(Path(sys.executable).parent / "kodeord")


def run(*args: str, env: dict[str, str] | None = None, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [KODEORD, *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=60,
        input=stdin if stdin is not None else "",
    )


def test_check_accepts_the_shipped_rules() -> None:
    result = run("rules", "check", *sorted(str(p) for p in (ROOT / "rules").glob("*.yaml")))
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("ok: 2 file(s), 2 tenant(s), 4 service(s)")


def test_check_reports_yaml_and_schema_errors_with_location(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("tenant: {id: t1}\nservices:\n  - id: [unclosed\n", encoding="utf-8")
    typo = tmp_path / "typo.yaml"
    typo.write_text('tenant: {id: t2}\nnumbers:\n  - numbr: "72500"\n', encoding="utf-8")
    result = run("rules", "check", str(broken), str(typo))
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert (
        lines[0]
        == f"{broken}:3:9: YAML syntax error: a list in [ ] is not closed, or its items are not separated by commas"
    )
    assert lines[1] == f"{typo}:3:5: unknown key 'numbr' (did you mean 'number'?) (at numbers[0])"
    assert lines[2] == f"{typo}:3:5: missing required key 'number' (at numbers[0])"


def test_try_json_shows_the_decision_and_changes_nothing(cli_env: dict[str, str], kodeord_redis: redis.Redis) -> None:
    result = run("rules", "try", "--to", "72500", "--from", "070-123 45 67", "--json", "MELLO", "03", env=cli_env)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert {k: data[k] for k in ("service", "rule", "action", "replies")} == {
        "service": "demo-tv/mello",
        "rule": "vote",
        "action": "voting.vote",
        "replies": [{"to": "+46701234567", "text": "Tack för din röst på Cilla Carlsson! /Demo-TV"}],
    }
    assert kodeord_redis.dbsize() == 0


def test_try_human_output(cli_env: dict[str, str]) -> None:
    result = run("rules", "try", "--to", "+46766861004", "--from", "+46701234567", "START", env=cli_env)
    assert result.returncode == 0, result.stderr
    assert "service: demo-forening/adressbok" in result.stdout
    assert "rule:    list" in result.stdout
    assert "action:  addressbook.inbox" in result.stdout
    assert "reply to +46701234567 (1 SMS, gsm7): Välkommen till Demoföreningen!" in result.stdout


def test_try_on_an_address_book_writes_nothing_not_even_the_signing_key(
    cli_env: dict[str, str], kodeord_redis: redis.Redis
) -> None:
    result = run("rules", "try", "--to", "+46766861004", "--from", "+46701234567", "--json", "STOPP", env=cli_env)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["action"] == "addressbook.inbox" and data["broadcasts"] == []
    assert "/addressbook/join/" in data["replies"][0]["text"]
    assert kodeord_redis.dbsize() == 0


def test_try_refuses_an_invalid_number(cli_env: dict[str, str]) -> None:
    result = run("rules", "try", "--to", "72500", "--from", "hello", "MELLO", env=cli_env)
    assert result.returncode == 2
    assert "invalid phone number 'hello': not a phone number" in result.stderr


def test_help_lists_core_and_plugin_commands() -> None:
    listed = run("--help").stdout
    for command in ("demo", "serve", "worker", "rules", "coupon-count"):
        assert command in listed
    assert "coupon-count" not in run("--help", env={"KODEORD_DISABLE_PLUGINS": "coupon"}).stdout


def test_routing_import_replaces_the_portability_table_all_or_nothing(
    cli_env: dict[str, str], kodeord_redis: redis.Redis, tmp_path: Path
) -> None:
    good = tmp_path / "ported.csv"
    good.write_text("number,operator\n070-123 45 67,tele2\n+4790000000,telia-no\n", encoding="utf-8")
    result = run("routing", "import", str(good), env=cli_env)
    assert (result.returncode, result.stdout) == (0, f"imported 2 number(s) from {good}\n"), result.stderr
    assert kodeord_redis.hgetall("kodeord:portability") == {b"+46701234567": b"tele2", b"+4790000000": b"telia-no"}
    bad = tmp_path / "bad.csv"
    bad.write_text("+46701234568,telia\n0701,tele2\n", encoding="utf-8")
    result = run("routing", "import", str(bad), env=cli_env)
    assert result.returncode == 1
    assert f"{bad}:2:" in result.stderr
    assert kodeord_redis.hgetall("kodeord:portability")[b"+46701234567"] == b"tele2"  # the old table stays


def test_gateways_check_and_the_commands_that_refuse_to_lose_messages(tmp_path: Path) -> None:
    gateways = tmp_path / "gateways.yaml"
    gateways.write_text(
        "gateways:\n  k1:\n    type: kannel\n    sendsms_url: http://127.0.0.1:9/cgi-bin/sendsms\n"
        "    username: u\n    password: p\n",
        encoding="utf-8",
    )
    checked = run("gateways", "check", str(gateways), env={"KODEORD_PUBLIC_URL": ""})
    assert checked.returncode == 1
    assert checked.stdout.splitlines() == [
        f"{gateways}:1:1: no routing: section, so every reply goes to the console gateway and no SMS leaves; "
        "add routing: with routes to your gateways (docs/routing.md)",
        f"{gateways}:3:5: gateway k1 asks for delivery reports, but KODEORD_PUBLIC_URL is not set: they would go "
        "to http://127.0.0.1:8000; set it to where the gateway reaches Kodeord (or dlr: false)",
    ]
    env = {"KODEORD_GATEWAYS": str(gateways), "KODEORD_PUBLIC_URL": "", "KODEORD_DATA_DIR": str(tmp_path / "var")}
    for command in (["worker", "--burst"], ["serve", "--port", "1"]):
        refused = run(*command, env=env)
        assert refused.returncode == 1 and "not starting: this configuration would lose" in refused.stderr, command
    gateways.write_text(gateways.read_text() + "routing:\n  routes:\n    default: [{gateway: k1, price: 0.05}]\n")
    fine = run("gateways", "check", str(gateways), env={"KODEORD_PUBLIC_URL": "http://127.0.0.1:8000"})
    assert (fine.returncode, fine.stdout) == (0, "ok: 1 gateway(s)\n")


def test_a_long_routing_import_shows_its_progress_on_a_terminal(tmp_path: Path, kodeord_redis_url: str) -> None:
    table = tmp_path / "ported.csv"
    table.write_text("number,operator\n" + "".join(f"+4670{n:07d},tele2\n" for n in range(6000)), encoding="utf-8")
    env = {**os.environ, "KODEORD_REDIS_URL": kodeord_redis_url}
    code, out, shown = on_terminal([KODEORD, "routing", "import", str(table)], env)
    assert code == 0 and out == f"imported 6000 number(s) from {table}\n"
    assert b"importing ported.csv" in shown and b"6001/6001" in shown  # a bar over the file's lines, header too


def test_apikey_creates_lists_and_revokes_keys(cli_env: dict[str, str], kodeord_redis: redis.Redis) -> None:
    made = run("apikey", "create", "demo-tv", "--name", "ci", env=cli_env)
    assert made.returncode == 0, made.stderr
    key = made.stdout.strip()
    assert made.stdout == key + "\n" and KEY.fullmatch(key)
    assert "shown only this once" in made.stderr
    assert apikeys.tenant_for(kodeord_redis, key) == "demo-tv"

    listed = run("apikey", "list", "demo-tv", env=cli_env)
    assert listed.returncode == 0, listed.stderr
    header, row = listed.stdout.splitlines()
    assert header.split() == ["PREFIX", "NAME", "CREATED", "LAST", "USED"]
    assert row.split()[:2] == [key[:12], "ci"] and key[12:] not in listed.stdout

    revoked = run("apikey", "revoke", "demo-tv", "ci", env=cli_env)
    assert (revoked.returncode, revoked.stdout) == (0, "revoked API key 'ci' of tenant 'demo-tv'\n")
    assert apikeys.tenant_for(kodeord_redis, key) is None
    again = run("apikey", "revoke", "demo-tv", "ci", env=cli_env)
    assert again.returncode == 1
    assert again.stderr == (
        "error: tenant 'demo-tv' has no API key with prefix or name 'ci' (see: kodeord apikey list demo-tv)\n"
    )
    empty = run("apikey", "list", "demo-tv", env=cli_env)
    assert (empty.returncode, empty.stdout, empty.stderr) == (0, "", "no API keys for tenant 'demo-tv'\n")


def test_apikey_refuses_a_tenant_not_in_the_rule_files(cli_env: dict[str, str], kodeord_redis: redis.Redis) -> None:
    result = run("apikey", "create", "nobody", env=cli_env)
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == "error: no tenant 'nobody' in the rule files; known tenants: demo-forening, demo-tv\n"
    assert kodeord_redis.keys("kodeord:{apikeys}:*") == []


def test_apikey_refuses_a_name_taken(cli_env: dict[str, str]) -> None:
    assert run("apikey", "create", "demo-tv", "--name", "ci", env=cli_env).returncode == 0
    result = run("apikey", "create", "demo-tv", "--name", "ci", env=cli_env)
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == "error: tenant 'demo-tv' already has a key named 'ci'\n"


def test_settings_lists_the_cores_and_the_plugins_without_showing_a_value() -> None:
    secret = "a-secret-nobody-may-read"
    done = run("settings", env={**os.environ, "KODEORD_SECRET_KEY": secret, "KODEORD_PORT": "8123"})
    assert done.returncode == 0, done.stderr
    lines = {line.split()[0]: line for line in done.stdout.splitlines()[1:]}
    assert lines["KODEORD_PORT"].split()[1:3] == ["set", "8000"]  # the default, not the value set
    assert lines["KODEORD_REDIS_URL"].split()[1] == "-"
    assert "KODEORD_NIX_KEEP_VERSIONS" in lines and "KODEORD_EVERY_LEVEL" not in lines  # a plugin's, loaded ones
    assert secret not in done.stdout and "8123" not in done.stdout


@pytest.fixture
def simulator_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KODEORD_SIMULATOR", "1")


def test_kodeord_serve_mounts_the_phone_simulator_only_when_asked(
    simulator_on: None,
    web_server: tuple[str, subprocess.Popen[bytes]],
    kodeord_redis_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url = web_server[0]
    sent = httpx.post(f"{url}/simulator/send", json={"from": "+46701234567", "to": "72500", "text": "MELLO 01"})
    assert sent.status_code == 200 and sent.json()["status"] == "handled", sent.text
    monkeypatch.delenv("KODEORD_SIMULATOR")  # the next server: as every deployment runs
    env = {**os.environ, "KODEORD_REDIS_URL": kodeord_redis_url, "KODEORD_SECRET_KEY": "test"}
    port = free_port()
    command = [sys.executable, "-c", "from kodeord.cli import main; main()", "serve", "--port", str(port)]
    with subprocess.Popen(command, env=env) as plain:
        try:
            wait_up(f"http://127.0.0.1:{port}", plain)
            assert httpx.post(f"http://127.0.0.1:{port}/simulator/send", json={}).status_code == 404
        finally:
            plain.send_signal(signal.SIGINT)
            plain.wait(15)

"""``kodeord users``: accounts made, listed, disabled and given new passwords from the command line, the
password read from standard input only."""

from __future__ import annotations

import redis

from kodeord.web.console import accounts

from .test_commands import run


def users(*args: str, env: dict[str, str], password: str | None = None) -> tuple[int, str, str]:
    done = run("users", *args, env=env, stdin=password)
    return done.returncode, done.stdout, done.stderr


def test_an_account_is_made_listed_disabled_and_given_a_new_password(
    cli_env: dict[str, str], kodeord_redis: redis.Redis
) -> None:
    made = users(
        "create", "demo-tv", "Producent@example.se", "--role", "owner", env=cli_env, password="ett bra lösenord\n"
    )
    assert made == (0, "created producent@example.se (owner) for tenant 'demo-tv'\n", "")
    assert accounts.login(kodeord_redis, "producent@example.se", "ett bra lösenord", "cli") is not None
    code, listed, _ = users("list", "demo-tv", env=cli_env)
    header, row = listed.splitlines()
    assert code == 0 and header.split() == ["EMAIL", "ROLE", "CREATED", "STATE"]
    assert row.split()[0:2] == ["producent@example.se", "owner"] and row.split()[3] == "active"
    assert users("disable", "demo-tv", "producent@example.se", env=cli_env)[:2] == (
        0,
        "disabled producent@example.se\n",
    )
    assert accounts.login(kodeord_redis, "producent@example.se", "ett bra lösenord", "cli") is None
    assert users("passwd", "demo-tv", "producent@example.se", env=cli_env, password="ett annat lösenord\n")[0] == 0
    assert accounts.login(kodeord_redis, "producent@example.se", "ett annat lösenord", "cli") is not None


def test_bad_input_says_what_is_wrong_and_changes_nothing(cli_env: dict[str, str], kodeord_redis: redis.Redis) -> None:
    assert users("create", "nobody", "a@example.se", env=cli_env, password="ett bra lösenord\n") == (
        1,
        "",
        "error: no tenant 'nobody' in the rule files; known tenants: demo-forening, demo-tv\n",
    )
    assert users("create", "demo-tv", "a@example.se", env=cli_env, password="kort\n") == (
        1,
        "",
        "error: a password needs at least 10 characters\n",
    )
    assert users("create", "demo-tv", "a@example.se", "--role", "god", env=cli_env)[0] == 2
    assert users("disable", "demo-forening", "a@example.se", env=cli_env)[2] == (
        "error: tenant 'demo-forening' has no account 'a@example.se'\n"
    )
    assert users("list", "demo-tv", env=cli_env) == (0, "", "no accounts for tenant 'demo-tv'\n")
    assert not kodeord_redis.exists(accounts.USERS)

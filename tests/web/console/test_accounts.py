"""Console accounts on a real Redis: argon2id hashes and never a password, one tenant each, disabling and new
passwords, and failed logins limited per account and per address."""

from __future__ import annotations

import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kodeord.web.console import accounts
from kodeord.web.console.accounts import MAX_ACCOUNT_FAILURES, USERS, AccountError, Role

PASSWORD = "korrekt häst batteri"


def test_an_account_keeps_an_argon2id_hash_and_never_the_password(kodeord_redis: redis.Redis) -> None:
    made = accounts.create(kodeord_redis, "tv", " Anna@Example.SE ", PASSWORD, Role.EDITOR)
    assert (made.email, made.tenant, made.role, made.disabled) == ("anna@example.se", "tv", Role.EDITOR, False)
    stored = kodeord_redis.hget(USERS, "anna@example.se")
    assert stored is not None and b"$argon2id$" in stored and PASSWORD.encode() not in stored
    assert accounts.login(kodeord_redis, "ANNA@example.se", PASSWORD, "10.0.0.1") == made
    assert accounts.login(kodeord_redis, "anna@example.se", PASSWORD + "x", "10.0.0.1") is None
    assert accounts.login(kodeord_redis, "nobody@example.se", PASSWORD, "10.0.0.1") is None


@pytest.mark.parametrize(
    ("email", "password", "problem"),
    [
        ("anna@example.se", "kort", "at least 10 characters"),
        ("anna@example.se", "x" * 1025, "at most 1024 characters"),
        ("not an address", PASSWORD, "email"),
    ],
)
def test_a_bad_address_or_password_says_what_is_wrong(
    kodeord_redis: redis.Redis, email: str, password: str, problem: str
) -> None:
    with pytest.raises(AccountError, match=problem):
        accounts.create(kodeord_redis, "tv", email, password)
    assert not kodeord_redis.exists(USERS)


def test_one_address_has_one_account_whatever_the_tenant(kodeord_redis: redis.Redis) -> None:
    accounts.create(kodeord_redis, "tv", "anna@example.se", PASSWORD)
    with pytest.raises(AccountError, match="anna@example.se already has an account"):
        accounts.create(kodeord_redis, "forening", "anna@example.se", PASSWORD)
    assert [a.email for a in accounts.of_tenant(kodeord_redis, "tv")] == ["anna@example.se"]
    assert accounts.of_tenant(kodeord_redis, "forening") == []


def test_disabling_and_a_new_password_move_the_generation_and_only_the_tenant_can(kodeord_redis: redis.Redis) -> None:
    made = accounts.create(kodeord_redis, "tv", "anna@example.se", PASSWORD)
    with pytest.raises(AccountError, match="tenant 'forening' has no account 'anna@example.se'"):
        accounts.disable(kodeord_redis, "forening", "anna@example.se")
    disabled = accounts.disable(kodeord_redis, "tv", "anna@example.se")
    assert disabled.disabled and disabled.generation == made.generation + 1
    assert accounts.login(kodeord_redis, "anna@example.se", PASSWORD, "10.0.0.1") is None
    again = accounts.set_password(kodeord_redis, "tv", "anna@example.se", "ett nytt lösenord")
    assert not again.disabled and again.generation == made.generation + 2
    assert accounts.login(kodeord_redis, "anna@example.se", PASSWORD, "10.0.0.1") is None
    assert accounts.login(kodeord_redis, "anna@example.se", "ett nytt lösenord", "10.0.0.1") == again


def test_too_many_failures_refuse_even_the_right_password_per_account_and_per_address(
    kodeord_redis: redis.Redis,
) -> None:
    accounts.create(kodeord_redis, "tv", "anna@example.se", PASSWORD)
    accounts.create(kodeord_redis, "tv", "berit@example.se", PASSWORD)
    for _ in range(MAX_ACCOUNT_FAILURES):
        assert accounts.login(kodeord_redis, "anna@example.se", "fel lösenord!", "10.0.0.1") is None
    assert accounts.login(kodeord_redis, "anna@example.se", PASSWORD, "10.0.0.2") is None  # the account: locked
    assert accounts.login(kodeord_redis, "berit@example.se", PASSWORD, "10.0.0.1") is not None  # not the others
    for n in range(accounts.MAX_ADDRESS_FAILURES):
        accounts.login(kodeord_redis, f"guess{n}@example.se", "fel lösenord!", "10.0.0.9")
    assert accounts.login(kodeord_redis, "berit@example.se", PASSWORD, "10.0.0.9") is None  # the address: locked
    ttl = kodeord_redis.ttl(accounts.failure_keys("", "10.0.0.9")[1])
    assert 0 < ttl <= accounts.ATTEMPT_WINDOW_S


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(email=st.text(max_size=400), password=st.text(max_size=2000), address=st.text(max_size=60))
def test_any_login_attempt_is_refused_without_an_error(
    kodeord_redis: redis.Redis, email: str, password: str, address: str
) -> None:
    assert accounts.login(kodeord_redis, email, password, address) is None


def test_failures_count_against_an_ipv6_addresss_whole_64() -> None:
    assert (
        accounts.client_of("2001:db8:1:2:aaaa::1") == accounts.client_of("2001:db8:1:2:ffff::9") == "2001:db8:1:2::/64"
    )
    assert accounts.client_of("2001:db8:1:3::1") != accounts.client_of("2001:db8:1:2::1")
    assert accounts.client_of("::ffff:10.0.0.1") == accounts.client_of("10.0.0.1") == "10.0.0.1"
    assert accounts.client_of("not an address") == "not an address"
    assert accounts.failure_keys("", "2001:db8:1:2::1") == accounts.failure_keys("", "2001:db8:1:2::2")

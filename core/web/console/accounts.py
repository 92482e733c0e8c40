"""Console accounts: a person of one tenant, with a role, a password hashed with argon2id, and a generation
that ends every session when the password changes or the account is disabled.

An account is a field of one Redis hash (``kodeord:users``), its email address in lower case, its value JSON:
tenant, role, the argon2id hash (never the password), disabled, created, generation. Failed logins are
counted per account and per client address for ``ATTEMPT_WINDOW_S``; past ``MAX_ACCOUNT_FAILURES`` or
``MAX_ADDRESS_FAILURES`` a login is refused, right password or not, until the window has passed.
"""

from __future__ import annotations

import enum
import hashlib
import ipaddress
import json
import os
import time
from dataclasses import asdict, dataclass
from functools import cache
from typing import Any

import redis
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from kodeord.commit.keys import platform_key
from kodeord.inbound.messages import check_email
from kodeord.support.errors import InvalidMessage, KodeordError
from kodeord.support.luascript import LuaScript

USERS = platform_key("users")
_COUNT_ATTEMPT = LuaScript(__package__, "countAttempt-1.lua")
MIN_PASSWORD = 10  # characters
MAX_PASSWORD = 1024  # argon2 hashes anything, but a megabyte "password" is an attack
ATTEMPT_WINDOW_S = 15 * 60
MAX_ACCOUNT_FAILURES = 10
MAX_ADDRESS_FAILURES = 50
# argon2id with argon2-cffi's defaults (RFC 9106's second recommended option: 64 MiB, 3 passes), unless
# KODEORD_PASSWORD_MEMORY_KIB / KODEORD_PASSWORD_PASSES ask for less on a small machine, never below OWASP's
# minimum for argon2id (19 MiB, 2 passes). A hash keeps its own parameters, so changing them later still
# verifies every stored password.
MIN_MEMORY_KIB, MIN_PASSES = 19 * 1024, 2


def _hasher() -> PasswordHasher:
    default = PasswordHasher()
    memory = int(os.environ.get("KODEORD_PASSWORD_MEMORY_KIB") or default.memory_cost)
    passes = int(os.environ.get("KODEORD_PASSWORD_PASSES") or default.time_cost)
    return PasswordHasher(time_cost=max(MIN_PASSES, passes), memory_cost=max(MIN_MEMORY_KIB, memory))


_HASHER = _hasher()


@cache
def _dummy() -> str:
    """A real hash to check against when the account does not exist, so a login takes as long either way
    (made at the first such login, not at import: every command would pay for it)."""
    return _HASHER.hash("not a password of anyone's")


class Role(enum.StrEnum):
    """What an account may do: owners also manage the tenant's accounts; viewers change nothing."""

    OWNER = "owner"
    EDITOR = "editor"
    VIEWER = "viewer"


class AccountError(KodeordError):
    """An account that cannot be made or changed as asked; the message says why."""


@dataclass(frozen=True)
class Account:
    """One person's account (the hash stays in Redis)."""

    email: str
    tenant: str
    role: Role
    disabled: bool
    created: str
    generation: int

    @property
    def can_change(self) -> bool:
        """Whether the account may change anything (owners and editors)."""
        return self.role is not Role.VIEWER


def _email(raw: str) -> str:
    try:
        return check_email(raw)
    except InvalidMessage as exc:
        raise AccountError(str(exc)) from None


def check_password(password: str) -> None:
    """AccountError unless ``password`` is long enough to be one and short enough to hash."""
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"a password needs at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise AccountError(f"a password may have at most {MAX_PASSWORD} characters")


def _account(email: str, data: dict[str, Any]) -> Account:
    return Account(email, data["tenant"], Role(data["role"]), data["disabled"], data["created"], data["generation"])


def _read(client: redis.Redis, email: str) -> tuple[Account, str] | None:
    raw = client.hget(USERS, email)
    if raw is None:
        return None
    data = json.loads(raw)
    return _account(email, data), data["hash"]


def _stored(account: Account, hashed: str) -> dict[str, Any]:
    data = asdict(account) | {"role": account.role.value, "hash": hashed}
    del data["email"]
    return data


def _write(client: redis.Redis, account: Account, hashed: str) -> None:
    client.hset(USERS, account.email, json.dumps(_stored(account, hashed)))


def get(client: redis.Redis, email: str) -> Account | None:
    """The account of ``email``, or None."""
    found = _read(client, email.strip().lower())
    return found[0] if found else None


def create(client: redis.Redis, tenant: str, email: str, password: str, role: Role = Role.VIEWER) -> Account:
    """A new account; AccountError if the address is taken (by any tenant) or the password too short."""
    address = _email(email)
    check_password(password)
    created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    account = Account(address, tenant, role, False, created, 1)
    if not client.hsetnx(USERS, address, json.dumps(_stored(account, _HASHER.hash(password)))):
        raise AccountError(f"{address} already has an account")
    return account


def of_tenant(client: redis.Redis, tenant: str) -> list[Account]:
    """The tenant's accounts, by email address."""
    found = []
    for email, raw in client.hscan_iter(USERS, count=1000):
        data = json.loads(raw)
        if data["tenant"] == tenant:
            found.append(_account(email.decode(), data))
    return sorted(found, key=lambda a: a.email)


def _owned(client: redis.Redis, tenant: str, email: str) -> tuple[Account, str]:
    found = _read(client, email.strip().lower())
    if found is None or found[0].tenant != tenant:
        raise AccountError(f"tenant {tenant!r} has no account {email.strip().lower()!r}")
    return found


def disable(client: redis.Redis, tenant: str, email: str) -> Account:
    """Disable the account (its sessions end at their next request)."""
    account, hashed = _owned(client, tenant, email)
    changed = Account(account.email, tenant, account.role, True, account.created, account.generation + 1)
    _write(client, changed, hashed)
    return changed


def set_password(client: redis.Redis, tenant: str, email: str, password: str) -> Account:
    """A new password (and the account enabled again); its other sessions end."""
    account, _ = _owned(client, tenant, email)
    check_password(password)
    changed = Account(account.email, tenant, account.role, False, account.created, account.generation + 1)
    _write(client, changed, _HASHER.hash(password))
    return changed


def client_of(address: str) -> str:
    """The client a login's failures count against: an IPv4 address, or an IPv6 address's /64 (one household
    or server has a whole /64 to move about in); any other text as it is."""
    try:
        found = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(found, ipaddress.IPv6Address) and found.ipv4_mapped is None:
        return str(ipaddress.IPv6Network(f"{found}/64", strict=False))
    return str(found.ipv4_mapped if isinstance(found, ipaddress.IPv6Address) else found)


def failure_keys(email: str, address: str) -> tuple[str, str]:
    """The counters of recent failed logins of an account and of a client address (named by a digest: the
    text is whatever a client sent)."""

    def digest(value: str) -> str:
        return hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:32]

    return platform_key("logins", "account", digest(email)), platform_key(
        "logins", "address", digest(client_of(address))
    )


def login(client: redis.Redis, email: str, password: str, address: str) -> Account | None:
    """The account if ``password`` is its own and it may log in now; None otherwise (wrong address or
    password, disabled, or too many failures lately: the caller says the same in every case).

    Every attempt is counted before the password is checked, so attempts made at once cannot all pass the
    limit; a successful one is taken off the counts again."""
    email = email.strip().lower()[:320]
    by_account, by_address = failure_keys(email, address)
    pipe = client.pipeline(transaction=False)  # two counters, each counted atomically (in two slots of a cluster)
    for key in (by_account, by_address):
        _COUNT_ATTEMPT(pipe, [key], [ATTEMPT_WINDOW_S])
    account_attempts, address_attempts = pipe.execute()
    if account_attempts > MAX_ACCOUNT_FAILURES or address_attempts > MAX_ADDRESS_FAILURES:
        return None
    found = _read(client, email) if len(password) <= MAX_PASSWORD else None
    try:
        ok = _HASHER.verify(found[1] if found else _dummy(), password[:MAX_PASSWORD]) and found is not None
    except (VerificationError, InvalidHashError):
        ok = False
    if not ok or found is None or found[0].disabled:
        return None
    pipe = client.pipeline(transaction=False)
    pipe.delete(by_account)
    pipe.decr(by_address)
    pipe.execute()
    return found[0]

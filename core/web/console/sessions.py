"""Console sessions: a signed cookie naming an account, checked against the account on every request.

The cookie (``kodeord_session``) carries the account's address, its generation and a random session id,
signed with the platform's secret key (itsdangerous), ``HttpOnly``, ``SameSite=Lax``, ``Secure`` when the
console is served over https, for at most ``MAX_AGE_S``. A session ends when the person logs out (its id is
marked ended in Redis, so a copy of the cookie is refused too), when the account is disabled or its password
changes (the generation moves on), or when it is older than ``MAX_AGE_S``. Every form and every
state-changing request carries the session's CSRF token (``csrf``), an HMAC of the session id: a page of
another site can make a browser send the cookie, never the token.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import redis
from itsdangerous import BadSignature, URLSafeTimedSerializer

from kodeord.commit.keys import platform_key
from kodeord.inbound.signing import same
from kodeord.web.console import accounts
from kodeord.web.console.accounts import Account

COOKIE = "kodeord_session"
LOGIN_COOKIE = "kodeord_login"  # the login form's CSRF token, before there is a session
MAX_AGE_S = 12 * 3600


@dataclass(frozen=True)
class Session:
    """A logged-in person: their account, the session's id and the CSRF token their forms carry."""

    account: Account
    sid: str
    csrf: str


def ended_key(sid: str) -> str:
    """The mark of a session that was logged out (its id is ours: URL-safe base64)."""
    return platform_key("console", "ended", sid)


class Sessions:
    """Makes and reads session cookies; the secret key is fetched on first use."""

    def __init__(self, secret_key: Callable[[], str]) -> None:
        self._secret_key = secret_key
        self._serializer: URLSafeTimedSerializer | None = None

    def _signer(self) -> URLSafeTimedSerializer:
        if self._serializer is None:
            self._serializer = URLSafeTimedSerializer(self._secret_key(), salt="kodeord-console-session")
        return self._serializer

    def _csrf(self, sid: str) -> str:
        return hmac.new(self._secret_key().encode(), f"csrf:{sid}".encode(), hashlib.sha256).hexdigest()

    def cookie(self, account: Account) -> str:
        """A new session's cookie value for ``account``."""
        value: str = self._signer().dumps([account.email, account.generation, secrets.token_urlsafe(16)])
        return value

    def read(self, client: redis.Redis, value: str | None) -> Session | None:
        """The session of a cookie value, or None: missing, forged, too old, or its account disabled or changed."""
        if not value:
            return None
        try:
            payload: Any = self._signer().loads(value, max_age=MAX_AGE_S)
        except BadSignature:
            return None
        if not (isinstance(payload, list) and len(payload) == 3):
            return None
        email, generation, sid = payload
        if not (isinstance(email, str) and isinstance(sid, str)) or client.exists(ended_key(sid)):
            return None
        account = accounts.get(client, email)
        if account is None or account.disabled or account.generation != generation:
            return None
        return Session(account, sid, self._csrf(sid))

    @staticmethod
    def end(client: redis.Redis, session: Session) -> None:
        """Log ``session`` out everywhere its cookie is: it is refused from now until it would have expired."""
        client.set(ended_key(session.sid), 1, ex=MAX_AGE_S)

    def login_token(self) -> str:
        """A fresh token for the login form, kept in ``LOGIN_COOKIE`` too (double submit)."""
        return secrets.token_urlsafe(24)

    @staticmethod
    def check(expected: str, given: str | None) -> bool:
        """Whether a form's token is the one expected (constant time)."""
        return bool(expected) and same(given, expected)

"""HMAC-SHA256 signatures for JSON webhooks, both ways, with a timestamp that stops replays.

The signature covers ``"<timestamp>.<raw body>"``; the timestamp is Unix seconds. It travels in two
headers: ``X-Kodeord-Timestamp`` and ``X-Kodeord-Signature: sha256=<hex digest>``.
"""

from __future__ import annotations

import hashlib
import hmac
import time

TIMESTAMP_HEADER = "X-Kodeord-Timestamp"
SIGNATURE_HEADER = "X-Kodeord-Signature"
TOLERANCE_S = 300  # how old (or how far in the future) a signed request may be


class SignatureError(Exception):
    """A signature is missing, malformed, wrong or too old; the message says which."""


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """``sha256=<hex>`` over ``timestamp.body``."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def sign(secret: str, body: bytes, now: float | None = None) -> dict[str, str]:
    """Headers that sign ``body``."""
    timestamp = str(int(time.time() if now is None else now))
    return {TIMESTAMP_HEADER: timestamp, SIGNATURE_HEADER: signature(secret, timestamp, body)}


def verify(secret: str, body: bytes, timestamp: str | None, signed: str | None, now: float | None = None) -> None:
    """Raise :class:`SignatureError` unless ``signed`` is the signature of ``body`` at a recent ``timestamp``."""
    if not timestamp or not signed:
        raise SignatureError(f"missing {TIMESTAMP_HEADER} or {SIGNATURE_HEADER} header")
    stamp = timestamp.strip()
    if not (stamp.isascii() and stamp.isdigit() and len(stamp) <= 12):
        raise SignatureError(f"{TIMESTAMP_HEADER} must be Unix seconds")
    when = int(stamp)
    if abs((time.time() if now is None else now) - when) > TOLERANCE_S:
        raise SignatureError(f"timestamp is more than {TOLERANCE_S} s away from now (replayed or clock skew)")
    if not same(signed.strip(), signature(secret, timestamp, body)):
        raise SignatureError("signature does not match the body")


def token(secret: str, *parts: str) -> str:
    """A short signature of ``parts`` (used in callback URLs that we hand to gateways)."""
    return hmac.new(secret.encode(), "\n".join(parts).encode(), hashlib.sha256).hexdigest()[:32]


def check_token(secret: str, given: str, *parts: str) -> bool:
    """Whether ``given`` is :func:`token` of ``parts``."""
    return same(given, token(secret, *parts))


def same(given: str | None, expected: str) -> bool:
    """Constant-time comparison of a presented secret, signature or token with the genuine one.

    Any text may be presented, including characters outside ASCII (which ``hmac.compare_digest`` refuses
    in strings) and lone surrogates: both sides are compared as bytes.
    """
    if given is None:
        return False
    return hmac.compare_digest(given.encode("utf-8", "surrogatepass"), expected.encode("utf-8", "surrogatepass"))

"""Signed links: URLs that carry a small payload only Kodeord can have made (re-join and leave links).

A link's token is the payload signed with the platform's secret key and a purpose of its own, so a token
made for one purpose is refused for another, and nobody without the key can make one for someone else.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from itsdangerous import BadSignature, URLSafeSerializer


class Links:
    """Makes and checks signed links under ``public_url``; the secret key is fetched on first use."""

    def __init__(self, public_url: str, secret_key: Callable[[], str]) -> None:
        self.public_url = public_url.rstrip("/")
        self._secret_key = secret_key
        self._serializers: dict[str, URLSafeSerializer] = {}

    def _serializer(self, purpose: str) -> URLSafeSerializer:
        if purpose not in self._serializers:
            self._serializers[purpose] = URLSafeSerializer(self._secret_key(), salt=f"kodeord-link-{purpose}")
        return self._serializers[purpose]

    def token(self, purpose: str, payload: Any) -> str:
        """The signed token of ``payload`` (JSON-serialisable) for ``purpose``."""
        token: str = self._serializer(purpose).dumps(payload)
        return token

    def url(self, path: str, purpose: str, payload: Any) -> str:
        """``<public url><path>/<token>``."""
        return f"{self.public_url}{path}/{quote(self.token(purpose, payload), safe='')}"

    def digest(self, purpose: str, text: str, length: int = 20) -> str:
        """A short keyed digest of ``text`` for ``purpose`` (``length`` hex digits): an id nobody without the key
        can make for another ``text`` (a bounce address's, which must fit an address's 64-character local part)."""
        key = f"kodeord-digest-{purpose}:{self._secret_key()}".encode()
        return hmac.new(key, text.encode(), hashlib.sha256).hexdigest()[:length]

    def load(self, purpose: str, token: str) -> Any | None:
        """The payload of a genuine token for ``purpose``, or None for a forged, altered or foreign one."""
        try:
            return self._serializer(purpose).loads(token)
        except BadSignature:
            return None

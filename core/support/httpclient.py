"""A small keep-alive HTTP client for gateways' outbound calls (one connection per origin and thread).

``http.client`` costs a fraction of a full-featured client per request, which matters at thousands of
SMS a second. A request on a kept-alive connection that the server closed meanwhile is sent again once
on a new connection (only when the server cannot have seen it: the connection broke before any answer).
"""

from __future__ import annotations

import http.client
import ssl
import threading
from dataclasses import dataclass
from urllib.parse import urlsplit


@dataclass(frozen=True)
class Answer:
    """An HTTP answer."""

    status: int
    body: bytes
    headers: dict[str, str]

    @property
    def text(self) -> str:
        """The body as text (UTF-8, replacing what does not decode)."""
        return self.body.decode("utf-8", "replace").strip()


class HttpClient:
    """Keep-alive connections per (scheme, host, port), one set per thread."""

    def __init__(self, timeout: float = 10.0) -> None:
        self.timeout = timeout
        self._local = threading.local()
        self._all: list[http.client.HTTPConnection] = []  # every thread's, so close() can close them all
        self._lock = threading.Lock()

    def _connection(self, scheme: str, host: str, port: int | None) -> http.client.HTTPConnection:
        pool: dict[tuple[str, str, int | None], http.client.HTTPConnection] = self._local.__dict__.setdefault(
            "pool", {}
        )
        key = (scheme, host, port)
        conn = pool.get(key)
        if conn is None:
            if scheme == "https":
                conn = http.client.HTTPSConnection(
                    host, port, timeout=self.timeout, context=ssl.create_default_context()
                )
            else:
                conn = http.client.HTTPConnection(host, port, timeout=self.timeout)
            pool[key] = conn
            with self._lock:
                self._all.append(conn)
        return conn

    def request(
        self, method: str, url: str, body: bytes | None = None, headers: dict[str, str] | None = None
    ) -> Answer:
        """Send one request; raises ``OSError``/``http.client.HTTPException`` when no answer came."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {url!r}")
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        for attempt in (1, 2):
            conn = self._connection(parts.scheme, parts.hostname, parts.port)
            reused = conn.sock is not None
            try:
                conn.request(method, path, body=body, headers=headers or {})
                response = conn.getresponse()
                data = response.read()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                conn.close()
                if reused and attempt == 1:
                    continue  # the server closed an idle kept-alive connection
                raise
            except (OSError, http.client.HTTPException):
                conn.close()
                raise
            if response.will_close:
                conn.close()
            return Answer(response.status, data, {k.lower(): v for k, v in response.getheaders()})
        raise AssertionError("unreachable")

    def close(self) -> None:
        """Close every connection (they reopen on the next request)."""
        with self._lock:
            for conn in self._all:
                conn.close()

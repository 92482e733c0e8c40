"""Many HTTP/1.1 requests to one origin at once, over a few kept-alive connections, without threads.

Gateways that take one HTTP request per SMS (Kannel's sendsms) send thousands a second; a thread per
request in flight, and ``http.client``'s header parsing, would cost more CPU than the rest of sending.
:meth:`HttpPool.run` writes each prepared request on a free connection, reads answers as they come
(Content-Length or chunked bodies), and hands the answers to a callback in groups, each within
:data:`REPORT_WAIT_S` of its arrival. Plain ``http://`` only; a request on a kept-alive connection that the
server closed before answering is sent once more on a new connection.
"""

from __future__ import annotations

import re
import selectors
import socket
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from kodeord.support.httpclient import Answer

Done = Callable[[list[tuple[int, Answer | OSError]]], None]  # (request index, answer or error) per request
More = Callable[[], "Sequence[bytes] | None"]  # the next requests, or None when there are no more
MAX_HEAD = 64 * 1024
# Answers are handed to the callback once as many have come as there are connections, or this long after the
# first of them: the callback (a status write, one Redis round trip) then runs once per a dozen answers rather
# than once per wake-up, while an answer is still recorded within milliseconds.
REPORT_WAIT_S = 0.005


class ProtocolError(OSError):
    """The server's answer was not HTTP/1.1 as we understand it."""


@dataclass(eq=False)
class _Conn:
    sock: socket.socket | None = None
    index: int = -1  # the request in flight, -1 when idle
    buffer: bytearray = field(default_factory=bytearray)
    reused: bool = False  # has answered before: a close before any answer means "send again"
    retried: bool = False
    deadline: float = 0.0


_HEX = re.compile(rb"[0-9A-Fa-f]{1,16}")
_DIGITS = re.compile(r"[0-9]{1,18}")
_STATUS = re.compile(r"HTTP/1\.[01] ([0-9]{3})(?: .*)?")


def _head(raw: bytes) -> tuple[int, dict[str, str]]:
    """Status and headers (names lower-cased) of a response head; ProtocolError if it is not one."""
    lines = raw.decode("latin-1").split("\r\n")
    found = _STATUS.fullmatch(lines[0])
    if found is None:
        raise ProtocolError(f"not an HTTP response: {lines[0][:80]!r}")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(found.group(1)), headers


def _parse(buffer: bytearray) -> tuple[Answer, int, bool] | None:
    """(answer, bytes used, keep alive) once ``buffer`` holds a whole response, else None."""
    end = buffer.find(b"\r\n\r\n")
    if end < 0:
        if len(buffer) > MAX_HEAD:
            raise ProtocolError("response head too long")
        return None
    status, headers = _head(bytes(buffer[:end]))
    keep = bytes(buffer[:9]) == b"HTTP/1.1 " and headers.get("connection", "").lower() != "close"
    start = end + 4
    if 100 <= status < 200 or status in (204, 304):  # these end with their head (RFC 9112, 6.3)
        return Answer(status, b"", headers), start, keep
    if "chunked" in headers.get("transfer-encoding", "").lower():
        body, pos = bytearray(), start
        while True:
            line_end = buffer.find(b"\r\n", pos)
            if line_end < 0:
                return None
            digits = bytes(buffer[pos:line_end]).split(b";")[0].strip()
            if not _HEX.fullmatch(digits):
                raise ProtocolError(f"bad chunk size {digits[:20]!r}")
            size = int(digits, 16)
            if size == 0:
                trailer_end = buffer.find(b"\r\n\r\n", line_end)
                return (Answer(status, bytes(body), headers), trailer_end + 4, keep) if trailer_end >= 0 else None
            if len(buffer) < line_end + 2 + size + 2:
                return None
            body += buffer[line_end + 2 : line_end + 2 + size]
            pos = line_end + 2 + size + 2
    if "content-length" in headers:
        if not _DIGITS.fullmatch(headers["content-length"]):
            raise ProtocolError(f"bad Content-Length {headers['content-length'][:20]!r}")
        length = int(headers["content-length"])
        if len(buffer) < start + length:
            return None
        return Answer(status, bytes(buffer[start : start + length]), headers), start + length, keep
    return None  # body until close: complete only when the server closes (see HttpPool._at_close)


class HttpPool:
    """Up to ``connections`` kept-alive connections to ``host:port``."""

    def __init__(self, host: str, port: int, connections: int = 8, timeout: float = 10.0) -> None:
        self.host, self.port, self.timeout = host, port, timeout
        self.conns = [_Conn() for _ in range(max(1, connections))]

    def _drop(self, conn: _Conn) -> None:
        if conn.sock is not None:
            conn.sock.close()
        conn.sock, conn.index, conn.reused = None, -1, False
        conn.buffer.clear()

    def _write(self, conn: _Conn, request: bytes) -> None:
        """Send one request on ``conn`` (opening it if needed); raises OSError."""
        if conn.sock is None:
            conn.sock = socket.create_connection((self.host, self.port), timeout=self.timeout)
            conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        conn.sock.settimeout(self.timeout)
        conn.sock.sendall(request)
        conn.sock.setblocking(False)

    def run(self, requests: Sequence[bytes], done: Done, more: More | None = None) -> None:
        """Send every request (complete HTTP/1.1 request bytes); ``done`` gets each outcome exactly once.

        ``more``, if given, is asked for further requests whenever all so far are written and a connection is
        free, while the last of them are still being answered, until it returns None; their indexes follow
        on from those before. So groups of requests that ``more`` prepares one after another keep every
        connection busy, rather than each group waiting for the slowest answer of the one before.
        """
        requests = list(requests)
        todo = list(range(len(requests)))[::-1]  # popped from the end: first request first
        busy: set[int] = set()  # ids of connections with a request in flight
        with selectors.DefaultSelector() as selector:

            def start(conn: _Conn, index: int, finished: list[tuple[int, Answer | OSError]]) -> None:
                try:
                    self._write(conn, requests[index])
                except OSError as exc:
                    stale = conn.reused and not conn.retried
                    self._drop(conn)
                    if stale:  # a kept-alive connection the server had closed: once more on a new one
                        conn.retried = True
                        start(conn, index, finished)
                    else:
                        finished.append((index, exc))
                    return
                conn.index, conn.deadline = index, time.monotonic() + self.timeout
                selector.register(conn.sock, selectors.EVENT_READ, conn)  # type: ignore[arg-type]
                busy.add(id(conn))

            def settle(conn: _Conn) -> None:
                selector.unregister(conn.sock)  # type: ignore[arg-type]
                busy.discard(id(conn))

            def refill(finished: list[tuple[int, Answer | OSError]]) -> None:
                nonlocal more
                for conn in self.conns:
                    if id(conn) in busy:
                        continue
                    while not todo and more is not None:
                        added = more()
                        if added is None:
                            more = None
                        else:
                            todo.extend(range(len(requests) + len(added) - 1, len(requests) - 1, -1))
                            requests.extend(added)
                    if not todo:
                        return
                    conn.retried = False
                    start(conn, todo.pop(), finished)

            finished: list[tuple[int, Answer | OSError]] = []
            since = 0.0  # when the oldest answer in ``finished`` came
            refill(finished)
            while busy or finished:
                if finished:
                    since = since or time.monotonic()
                    if not busy or len(finished) >= len(self.conns) or time.monotonic() - since >= REPORT_WAIT_S:
                        done(finished)
                        finished, since = [], 0.0
                if not busy:
                    refill(finished)
                    continue
                wait = max(0.0, since + REPORT_WAIT_S - time.monotonic()) if finished else 0.5
                ready = [key.data for key, _ in selector.select(timeout=wait)]
                now = time.monotonic()
                for conn in self.conns:
                    if id(conn) in busy and conn not in ready and now > conn.deadline:
                        finished.append((conn.index, TimeoutError(f"no answer within {self.timeout:g} s")))
                        settle(conn)
                        self._drop(conn)
                for conn in ready:
                    result = self._read(conn)
                    if result is None:
                        continue
                    index, (outcome, keep, partial) = conn.index, result
                    settle(conn)
                    if isinstance(outcome, OSError):
                        stale = conn.reused and not conn.retried and not partial
                        self._drop(conn)
                        if stale:  # closed while idle: the server never saw this request
                            conn.retried = True
                            start(conn, index, finished)
                            continue
                    elif keep:
                        conn.reused, conn.index = True, -1
                    else:
                        self._drop(conn)
                    finished.append((index, outcome))
                refill(finished)

    def _read(self, conn: _Conn) -> tuple[Answer | OSError, bool, bool] | None:
        """(answer or error, keep alive, had partial data) once the answer is complete, else None."""
        assert conn.sock is not None
        try:
            chunk = conn.sock.recv(65536)
        except BlockingIOError:
            return None
        except OSError as exc:
            return exc, False, bool(conn.buffer)
        if not chunk:
            return self._at_close(conn)
        conn.buffer += chunk
        try:
            parsed = _parse(conn.buffer)
        except (ProtocolError, ValueError) as exc:
            return (exc if isinstance(exc, OSError) else ProtocolError(str(exc))), False, True
        if parsed is None:
            return None
        answer, used, keep = parsed
        del conn.buffer[:used]
        return answer, keep, True

    @staticmethod
    def _at_close(conn: _Conn) -> tuple[Answer | OSError, bool, bool]:
        """The server closed: an answer whose body ran until the close, or an error."""
        end = conn.buffer.find(b"\r\n\r\n")
        if end < 0:
            return ConnectionResetError("server closed the connection without an answer"), False, bool(conn.buffer)
        try:
            status, headers = _head(bytes(conn.buffer[:end]))
        except ProtocolError as exc:
            return exc, False, True
        if "content-length" in headers or "chunked" in headers.get("transfer-encoding", "").lower():
            return ProtocolError("answer cut short by the server closing the connection"), False, True
        return Answer(status, bytes(conn.buffer[end + 4 :]), headers), False, True

    def close(self) -> None:
        """Close every connection."""
        for conn in self.conns:
            self._drop(conn)

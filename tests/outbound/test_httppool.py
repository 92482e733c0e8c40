"""HttpPool against a raw HTTP server on loopback: Content-Length, chunked and until-close bodies, kept-alive
connections the server closed meanwhile, refused connections, timeouts, garbage, dropped connections and
bounded concurrency; and ``_parse`` fed arbitrary bodies in arbitrary pieces, and junk."""

from __future__ import annotations

import asyncio
import signal
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from types import FrameType
from typing import TypeAlias
from urllib.parse import parse_qsl

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kodeord.outbound.httppool import HttpPool, ProtocolError, _parse
from kodeord.support.httpclient import Answer

Outcome: TypeAlias = Answer | OSError


class Origin:
    """An HTTP/1.1 server on loopback, in its own thread and event loop, that answers each request by its path.

    Every answer's body is the request target, so a test can tell which request an answer belongs to.
    ``?close=after`` closes the connection after answering, without saying so (no ``Connection: close``).
    """

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="origin", daemon=True)
        self.server: asyncio.Server | None = None
        self.port = 0
        self.seen: Counter[str] = Counter()  # request targets, counted once the whole request has been read
        self.accepted = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self.handlers: list[asyncio.Task[None]] = []

    def start(self) -> None:
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self.loop).result(timeout=5)

    def stop(self) -> None:
        try:
            asyncio.run_coroutine_threadsafe(self._stop(), self.loop).result(timeout=5)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(timeout=5)
            self.loop.close()

    async def _start(self) -> None:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]

    async def _stop(self) -> None:
        assert self.server is not None
        self.server.close()
        await asyncio.sleep(0.01)  # connections accepted just now get their handler started, so it can close them
        # Python 3.11's Server cannot close its clients (no close_clients): end the handlers, which close their own.
        current = asyncio.current_task()
        while others := [task for task in asyncio.all_tasks() if task is not current]:
            for task in others:
                task.cancel()
            await asyncio.gather(*others, return_exceptions=True)
        await self.server.wait_closed()
        results = await asyncio.gather(*self.handlers, return_exceptions=True)
        failures = [r for r in results if isinstance(r, BaseException) and not isinstance(r, asyncio.CancelledError)]
        assert not failures, f"the test server failed: {failures!r}"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self.handlers.append(task)
        self.accepted += 1
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                target = head.split(b" ", 2)[1].decode()
                self.seen[target] += 1
                self.in_flight += 1
                self.max_in_flight = max(self.max_in_flight, self.in_flight)
                try:
                    keep = await self._answer(target, writer)
                except ConnectionError:
                    return
                finally:
                    self.in_flight -= 1
                if not keep:
                    return
        finally:
            writer.close()
            with suppress(OSError):
                await writer.wait_closed()

    async def _answer(self, target: str, writer: asyncio.StreamWriter) -> bool:
        """Write the answer ``target`` asks for; whether to keep the connection open."""
        path, _, query = target.partition("?")
        params = dict(parse_qsl(query))
        body = target.encode()
        pause = float(params.get("pause", "0.005"))
        keep = params.get("close") != "after"
        if path == "/delay":
            await asyncio.sleep(int(params["ms"]) / 1000)
            path = "/len"
        if path == "/len":
            await send(writer, b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
        elif path == "/chunked":
            await send(writer, b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
            for start in range(0, len(body), 4):  # framing and data in separate writes, so the client sees pieces
                piece = body[start : start + 4]
                await send(writer, b"%x\r\n" % len(piece), pause)
                await send(writer, piece + b"\r\n", pause)
            await send(writer, b"0\r\n", pause)
            await send(writer, b"\r\n")
        elif path == "/close":
            await send(writer, b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\n" + body[:5], pause)
            await send(writer, body[5:])
            return False
        elif path == "/conn-close":
            await send(
                writer, b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(body), body)
            )
            return False
        elif path == "/slow":
            await asyncio.get_running_loop().create_future()  # never answers; cancelled when the server stops
        elif path == "/garbage":
            await send(writer, b"SSH-2.0-OpenSSH_9.6\r\n\r\n")
        elif path == "/drop":
            return False
        elif path == "/truncated-length":
            await send(writer, b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly this")
            return False
        elif path == "/truncated-chunked":
            await send(writer, b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n64\r\nonly this")
            return False
        elif path == "/superscript-status":
            # \xb2 is latin-1 for a superscript two: str.isdigit() says yes, int() says no.
            await send(writer, b"HTTP/1.0 2\xb2\xb2 OK\r\n\r\n" + body)
            return False
        else:
            await send(writer, b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
        return keep


async def send(writer: asyncio.StreamWriter, data: bytes, pause: float = 0.0) -> None:
    writer.write(data)
    await writer.drain()
    if pause:
        await asyncio.sleep(pause)


@pytest.fixture
def origin() -> Iterator[Origin]:
    server = Origin()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def refusing_port() -> Iterator[int]:
    """A loopback port bound but not listening: connections are refused, and nobody else can take it meanwhile."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield int(sock.getsockname()[1])


def get(target: str) -> bytes:
    return f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode()


def run(pool: HttpPool, targets: Sequence[str], batches: list[list[int]] | None = None) -> dict[int, Outcome]:
    """Every target's outcome from ``pool`` (closed after), checking that each index was reported exactly once."""
    reported: list[tuple[int, Outcome]] = []

    def done(batch: list[tuple[int, Outcome]]) -> None:
        reported.extend(batch)
        if batches is not None:
            batches.append([index for index, _ in batch])

    try:
        pool.run([get(target) for target in targets], done)
    finally:
        pool.close()
    assert sorted(index for index, _ in reported) == list(range(len(targets)))
    return dict(reported)


def assert_echoed(outcomes: dict[int, Outcome], targets: Sequence[str], indexes: Sequence[int] | None = None) -> None:
    """The requests at ``indexes`` (all by default) were answered 200 with their own target as body."""
    for index in range(len(targets)) if indexes is None else indexes:
        outcome = outcomes[index]
        assert isinstance(outcome, Answer), (targets[index], outcome)
        assert (outcome.status, outcome.body) == (200, targets[index].encode())


@contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Raise TimeoutError in the block if it runs longer than ``seconds`` (main thread only)."""

    def expire(signum: int, frame: FrameType | None) -> None:
        raise TimeoutError(f"still running after {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


class TestPool:
    def test_every_kind_of_body_reaches_its_request(self, origin: Origin) -> None:
        kinds = ["/len", "/chunked", "/close", "/conn-close", "/len", "/chunked"]
        targets = [f"{kinds[i % len(kinds)]}?i={i}" for i in range(24)]
        outcomes = run(HttpPool("127.0.0.1", origin.port, connections=3), targets)
        assert_echoed(outcomes, targets)
        assert origin.seen == Counter(targets)
        chunked = outcomes[1]
        assert isinstance(chunked, Answer) and chunked.headers["transfer-encoding"] == "chunked"

    def test_nothing_to_send(self, origin: Origin) -> None:
        assert run(HttpPool("127.0.0.1", origin.port), []) == {}
        assert origin.accepted == 0

    def test_answers_are_handed_over_as_they_complete(self, origin: Origin) -> None:
        targets = ["/delay?ms=200&i=0"] + [f"/len?i={i}" for i in range(1, 6)]
        batches: list[list[int]] = []
        outcomes = run(HttpPool("127.0.0.1", origin.port, connections=2), targets, batches)
        assert_echoed(outcomes, targets)
        assert batches[-1] == [0]
        assert len(batches) > 1

    def test_more_groups_are_taken_while_the_last_is_still_answered(self, origin: Origin) -> None:
        groups = [
            ["/delay?ms=300&g=0"] + [f"/len?g=0&i={i}" for i in range(4)],
            [f"/len?g=1&i={i}" for i in range(5)],
            [],
            [f"/len?g=3&i={i}" for i in range(3)],
        ]
        targets = [target for group in groups for target in group]
        taken: list[int] = []  # answers reported when each group was asked for
        reported: list[tuple[int, Outcome]] = []
        pending = iter(groups)

        def more() -> list[bytes] | None:
            taken.append(len(reported))
            group = next(pending, None)
            return None if group is None else [get(target) for target in group]

        pool = HttpPool("127.0.0.1", origin.port, connections=3)
        try:
            pool.run([], reported.extend, more)
        finally:
            pool.close()
        assert sorted(index for index, _ in reported) == list(range(len(targets)))
        assert_echoed(dict(reported), targets)
        assert len(taken) == len(groups) + 1  # asked once more, for None
        assert taken[1] < len(groups[0])  # the second group went out while the first's slow answer was awaited
        assert reported[-1][0] == 0

    def test_answers_coming_together_are_handed_over_together(self, origin: Origin) -> None:
        targets = [f"/len?i={i}" for i in range(400)]
        batches: list[list[int]] = []
        assert_echoed(run(HttpPool("127.0.0.1", origin.port, connections=8), targets, batches), targets)
        # One callback (a status write) per about as many answers as there are connections, not per wake-up.
        assert len(batches) <= len(targets) // 8

    def test_connections_are_kept_alive_and_bound_concurrency(self, origin: Origin) -> None:
        targets = [f"/delay?ms=20&i={i}" for i in range(30)]
        outcomes = run(HttpPool("127.0.0.1", origin.port, connections=3), targets)
        assert_echoed(outcomes, targets)
        assert origin.max_in_flight == 3
        assert origin.accepted == 3

    def test_a_kept_alive_connection_the_server_closed_is_replaced_and_the_request_sent_once(
        self, origin: Origin
    ) -> None:
        targets = [f"/len?i={i}&close=after" for i in range(6)]
        outcomes = run(HttpPool("127.0.0.1", origin.port, connections=2), targets)
        assert_echoed(outcomes, targets)
        assert origin.seen == Counter(targets)
        assert origin.accepted == 6  # every request after a connection's first found it closed, and took a new one

    def test_refused_connections_give_an_error_per_request(self, refusing_port: int) -> None:
        outcomes = run(HttpPool("127.0.0.1", refusing_port, connections=2), [f"/len?i={i}" for i in range(5)])
        assert all(isinstance(outcome, ConnectionRefusedError) for outcome in outcomes.values())

    def test_a_request_without_answer_times_out_while_others_succeed(self, origin: Origin) -> None:
        targets = ["/slow", "/len?i=1", "/chunked?i=2", "/len?i=3", "/close?i=4"]
        started = time.monotonic()
        outcomes = run(HttpPool("127.0.0.1", origin.port, connections=2, timeout=0.3), targets)
        assert time.monotonic() - started < 2
        assert isinstance(outcomes[0], TimeoutError)
        assert_echoed(outcomes, targets, range(1, 5))
        assert origin.seen["/slow"] == 1

    def test_an_answer_that_is_not_http_is_a_protocol_error(self, origin: Origin) -> None:
        targets = ["/garbage", "/len?i=1"]
        outcomes = run(HttpPool("127.0.0.1", origin.port, connections=1), targets)
        assert isinstance(outcomes[0], ProtocolError) and isinstance(outcomes[0], OSError)
        assert_echoed(outcomes, targets, [1])
        assert origin.accepted == 2  # the connection that spoke garbage is not used again

    def test_a_connection_dropped_without_answer_is_an_error(self, origin: Origin) -> None:
        targets = ["/drop", "/len?i=1"]
        outcomes = run(HttpPool("127.0.0.1", origin.port, connections=1), targets)
        assert isinstance(outcomes[0], OSError)
        assert_echoed(outcomes, targets, [1])
        assert origin.seen["/drop"] == 1  # a fresh connection: the server may have seen it, so no second try

    def test_a_drop_on_a_kept_alive_connection_is_tried_once_more_only(self, origin: Origin) -> None:
        # The pool cannot tell this from a connection the server closed while idle, so it sends once more.
        targets = ["/len?i=0", "/drop", "/len?i=2"]
        outcomes = run(HttpPool("127.0.0.1", origin.port, connections=1), targets)
        assert isinstance(outcomes[1], OSError)
        assert_echoed(outcomes, targets, [0, 2])
        assert origin.seen["/drop"] == 2

    def test_two_thousand_requests_over_eight_connections(self, origin: Origin) -> None:
        targets = [f"/len?i={i}" if i % 4 else f"/chunked?i={i}&pause=0" for i in range(2000)]
        outcomes = run(HttpPool("127.0.0.1", origin.port, connections=8), targets)
        assert_echoed(outcomes, targets)
        assert origin.seen == Counter(targets)
        assert origin.accepted == 8
        assert origin.max_in_flight <= 8

    @pytest.mark.parametrize("target", ["/truncated-length", "/truncated-chunked"])
    def test_an_answer_cut_short_by_the_close_is_an_error(self, origin: Origin, target: str) -> None:
        outcomes = run(HttpPool("127.0.0.1", origin.port, connections=1), [target])
        assert isinstance(outcomes[0], OSError), outcomes[0]

    def test_a_status_that_is_not_a_number_at_close_is_a_protocol_error(self, origin: Origin) -> None:
        targets = ["/superscript-status", "/len?i=1"]
        outcomes = run(HttpPool("127.0.0.1", origin.port, connections=1), targets)
        assert isinstance(outcomes[0], ProtocolError)
        assert_echoed(outcomes, targets, [1])


HEADS = st.sampled_from(
    [  # (status line's version, extra header lines, keep alive)
        ("HTTP/1.1", b"", True),
        ("HTTP/1.1", b"Connection: keep-alive\r\n", True),
        ("HTTP/1.1", b"Connection: close\r\n", False),
        ("HTTP/1.1", b"connection: Close\r\n", False),
        ("HTTP/1.0", b"", False),
    ]
)
STATUSES = st.sampled_from([200, 201, 202, 400, 404, 500, 503])
NO_MINUS = st.binary(max_size=200).map(lambda data: data.replace(b"-", b""))  # negative sizes: tested on their own


def assert_in_two_pieces(message: bytes, cut: int, rest: bytes) -> tuple[Answer, bool]:
    """Feed ``message`` cut at ``cut``, then the rest of it and ``rest``; the answer and keep-alive flag."""
    buffer = bytearray(message[:cut])
    if cut < len(message):
        assert _parse(buffer) is None
    buffer += message[cut:] + rest
    parsed = _parse(buffer)
    assert parsed is not None
    answer, used, keep = parsed
    assert used == len(message)
    return answer, keep


class TestParse:
    @given(
        body=st.binary(max_size=300),
        status=STATUSES,
        head=HEADS,
        name=st.sampled_from([b"Content-Length", b"content-length", b"CONTENT-LENGTH"]),
        rest=st.binary(max_size=50),
        data=st.data(),
    )
    def test_content_length_in_two_pieces(
        self,
        body: bytes,
        status: int,
        head: tuple[str, bytes, bool],
        name: bytes,
        rest: bytes,
        data: st.DataObject,
    ) -> None:
        version, extra, keep_alive = head
        message = b"%s %d Whatever\r\n%s%s: %d\r\n\r\n%s" % (version.encode(), status, extra, name, len(body), body)
        cut = data.draw(st.integers(0, len(message)), label="cut")
        answer, keep = assert_in_two_pieces(message, cut, rest)
        assert (answer.status, answer.body, keep) == (status, body, keep_alive)
        assert answer.headers["content-length"] == str(len(body))

    @given(
        body=st.binary(max_size=300),
        bounds=st.lists(st.integers(1, 299), max_size=6),
        status=STATUSES,
        head=HEADS,
        upper=st.booleans(),
        extension=st.sampled_from([b"", b";name=value", b";x"]),
        trailers=st.sampled_from([b"", b"Expires: never\r\n", b"A: 1\r\nB: 2\r\n"]),
        rest=st.binary(max_size=50),
        data=st.data(),
    )
    def test_chunked_in_two_pieces(
        self,
        body: bytes,
        bounds: list[int],
        status: int,
        head: tuple[str, bytes, bool],
        upper: bool,
        extension: bytes,
        trailers: bytes,
        rest: bytes,
        data: st.DataObject,
    ) -> None:
        version, extra, keep_alive = head
        edges = [0, *sorted({b for b in bounds if b < len(body)}), len(body)]
        pieces = [body[start:end] for start, end in zip(edges, edges[1:], strict=False) if end > start]
        framed = b"".join(
            b"%s%s\r\n%s\r\n" % (format(len(piece), "X" if upper else "x").encode(), extension, piece)
            for piece in pieces
        )
        message = b"%s %d OK\r\n%sTransfer-Encoding: chunked\r\n\r\n%s0\r\n%s\r\n" % (
            version.encode(),
            status,
            extra,
            framed,
            trailers,
        )
        cut = data.draw(st.integers(0, len(message)), label="cut")
        answer, keep = assert_in_two_pieces(message, cut, rest)
        assert (answer.status, answer.body, keep) == (status, body, keep_alive)

    def test_body_until_close_is_never_complete(self) -> None:
        assert _parse(bytearray(b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nsome body")) is None

    def test_a_head_that_never_ends_is_refused(self) -> None:
        with pytest.raises(ProtocolError, match="too long"):
            _parse(bytearray(b"HTTP/1.1 200 OK\r\n" + b"X-Pad: y\r\n" * 8000))

    @given(st.binary(max_size=500))
    def test_junk(self, junk: bytes) -> None:
        assert_sane(junk)

    @given(
        head=st.sampled_from(
            [
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
                b"HTTP/1.1 200 OK\r\nContent-Length: 20\r\n\r\n",
                b"HTTP/1.0 200 OK\r\n\r\n",
            ]
        ),
        tail=NO_MINUS,
    )
    def test_junk_after_a_good_head(self, head: bytes, tail: bytes) -> None:
        assert_sane(head + tail)

    def test_a_negative_chunk_size_is_refused(self) -> None:
        with time_limit(0.5), pytest.raises((ProtocolError, ValueError)):
            _parse(bytearray(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n-6\r\n"))

    def test_a_negative_content_length_is_refused(self) -> None:
        with pytest.raises((ProtocolError, ValueError)):
            _parse(bytearray(b"HTTP/1.1 200 OK\r\nContent-Length: -5\r\n\r\n"))

    @pytest.mark.parametrize("status", [204, 304])
    def test_answers_without_body_end_with_their_head(self, status: int) -> None:
        message = b"HTTP/1.1 %d Whatever\r\nDate: today\r\n\r\n" % status
        assert _parse(bytearray(message)) == (Answer(status, b"", {"date": "today"}), len(message), True)


def assert_sane(data: bytes) -> None:
    """``_parse`` on ``data`` ends quickly: None, ProtocolError or ValueError, or an answer within the data."""
    with time_limit(1):
        try:
            parsed = _parse(bytearray(data))
        except (ProtocolError, ValueError):
            return
    if parsed is not None:
        answer, used, keep = parsed
        assert isinstance(answer, Answer) and isinstance(keep, bool)
        assert data.find(b"\r\n\r\n") + 4 <= used <= len(data)

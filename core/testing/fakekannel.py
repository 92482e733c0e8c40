"""A fake Kannel ``/cgi-bin/sendsms`` on loopback, for tests and the load benchmark.

It speaks just enough HTTP/1.1 (GET, keep-alive) to be fast, records every accepted message, and can be
told to refuse recipients (``answers``) or to hold one request unanswered (``hold``). ``/stats`` answers
JSON counts, so a benchmark can run it as its own process: ``python -m kodeord.testing.fakekannel --port N``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlsplit

_OK = b"0: Accepted for delivery"


@dataclass
class FakeKannel:
    """State of the fake: what it accepted and how it should answer."""

    accepted: list[dict[str, str]] = field(default_factory=list)
    answers: dict[str, tuple[int, str]] = field(default_factory=dict)  # recipient -> (status, body)
    hold: int = 0  # hold the Nth request (1-based) without answering or recording it; 0: none
    requests: int = 0
    port: int = 0
    counts: Counter[str] = field(default_factory=Counter)  # (to, text) key -> times accepted
    keep: bool = True  # keep every accepted message's parameters (off for long benchmarks)
    held: asyncio.Event | None = None  # set once the held request arrived
    _held: list[asyncio.Future[None]] = field(default_factory=list)

    def respond(self, target: str) -> tuple[int, bytes] | None:
        """The answer to one request, or None to hold it."""
        parts = urlsplit(target)
        if parts.path == "/stats":
            body = {
                "requests": self.requests,
                "accepted": sum(self.counts.values()),
                "distinct": len(self.counts),
                "duplicated": sum(n - 1 for n in self.counts.values() if n > 1),
            }
            return 200, json.dumps(body).encode()
        if parts.path != "/cgi-bin/sendsms":
            return 404, b"not found"
        self.requests += 1
        if self.hold and self.requests == self.hold:
            if self.held is not None:
                self.held.set()
            return None
        params = dict(parse_qsl(parts.query, keep_blank_values=True))
        if not params.get("to") or "text" not in params:
            return 400, b"Missing receiver number or text"
        refusal = self.answers.get(params["to"])
        if refusal is not None:
            return refusal[0], refusal[1].encode()
        self.counts[f"{params['to']}\n{params.get('dlr-url', '')}\n{params['text']}"] += 1
        if self.keep:
            self.accepted.append(params)
        return 202, _OK

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, target, _ = lines[0].split(" ", 2)
                length = 0
                for line in lines[1:]:
                    name, _, value = line.partition(":")
                    if name.strip().lower() == "content-length":
                        length = int(value.strip())
                if length:
                    await reader.readexactly(length)
                answer = self.respond(target) if method in ("GET", "POST") else (405, b"method not allowed")
                if answer is None:  # held: never answer (kept referenced, or the task could be collected)
                    never = asyncio.get_running_loop().create_future()
                    self._held.append(never)
                    await never
                    return
                status, body = answer
                writer.write(
                    b"HTTP/1.1 %d X\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n%s"
                    % (status, len(body), body)
                )
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError, ValueError):
            pass
        finally:
            writer.close()

    async def serve(self, host: str = "127.0.0.1", port: int = 0) -> asyncio.Server:
        """Start listening; sets ``port``."""
        self.held = asyncio.Event()
        server = await asyncio.start_server(self._serve, host, port, backlog=1024)
        self.port = server.sockets[0].getsockname()[1]
        return server

    @property
    def url(self) -> str:
        """The sendsms URL."""
        return f"http://127.0.0.1:{self.port}/cgi-bin/sendsms"


@contextmanager
def running(fake: FakeKannel | None = None) -> Iterator[FakeKannel]:
    """Run a fake Kannel on a background thread's event loop for the duration of the block."""
    fake = fake or FakeKannel()
    loop = asyncio.new_event_loop()
    started = threading.Event()

    def run() -> None:
        asyncio.set_event_loop(loop)
        server = loop.run_until_complete(fake.serve())
        started.set()
        loop.run_forever()
        server.close()
        while tasks := asyncio.all_tasks(loop):  # handlers of connections accepted up to the end included
            for task in tasks:
                task.cancel()
            loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
            loop.run_until_complete(asyncio.sleep(0.01))  # let closed transports finish closing
        loop.run_until_complete(server.wait_closed())
        loop.close()

    thread = threading.Thread(target=run, daemon=True, name="fake-kannel")
    thread.start()
    started.wait(10)
    try:
        yield fake
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)


def main() -> None:
    """``python -m kodeord.testing.fakekannel --port N``: run until killed, printing the port once listening."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    fake = FakeKannel(keep=False)

    async def run() -> None:
        await fake.serve(port=args.port)
        print(fake.port, flush=True)
        await asyncio.Event().wait()

    try:
        import uvloop

        uvloop.run(run())
    except ImportError:
        asyncio.run(run())


if __name__ == "__main__":
    main()

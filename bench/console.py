"""The console beside a live vote: 50 people watching the live graph must not slow the vote; a million-row
message log exports as xlsx in bounded memory.

1. **Viewers.** ``televote.py``'s harness (an embedded Redis, a fake Kannel, ``kodeord serve --workers W``,
   sender workers; Kannel-style votes over ``--concurrency`` connections, every one counted once) runs
   ``--rounds`` times without viewers and as often with ``--viewers`` people watching the poll's live page:
   each logs in through the login form (one account) and holds ``/console/live/events?service=bench/mello``
   open, reading an event a second, for the whole run. Runs alternate (without, with, with, without, ...) so a
   drift of the shared machine's speed falls on both. ``votes_ratio`` is the votes a second with viewers over
   those without (1.0: the viewers cost nothing); every run must count every vote once.
2. **Export.** A fresh Redis gets ``--rows`` inbound message records of the poll (committed by the core's own
   commit script, two processes), ``kodeord serve --workers 1`` serves them, and this process downloads
   ``/api/messages/export?format=xlsx`` with an API key, checks the file holds every row, and reads the peak
   resident memory of the serving processes (``VmHWM``): XlsxWriter's constant-memory mode writes a row at a
   time, the log is read a shard at a time.

    .venv/bin/python bench/console.py [--seconds 30] [--rounds 1] [--viewers 50] [--rows 1000000]

Last line: viewers=N votes_ratio=N export_rows=N export_s=N export_peak_rss_mb=N
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import re
import subprocess
import sys
import tempfile
import time
import zipfile
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import redis
from benchlib import die_with_parent, embedded_redis, free_port, kannel_gateways, stop_process, wait_http
from load import arguments, family, live_tv
from televote import SECRET, SERVICE, TENANT, drive, rules_file

from kodeord.commit.committer import Branch
from kodeord.commit.keys import Keys
from kodeord.config.settings import Settings
from kodeord.inbound.messages import Inbound
from kodeord.platform import Platform
from kodeord.web import apikeys
from kodeord.web.console import accounts
from kodeord.web.console.accounts import Role

EMAIL, PASSWORD = "producent@bench.example", "bench bench bench"
POLL = f"{TENANT}/{SERVICE}"


def options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--rounds", type=int, default=1, help="pairs of runs, without and with viewers")
    parser.add_argument("--viewers", type=int, default=50, help="people watching the live graph")
    parser.add_argument("--rows", type=int, default=1_000_000, help="message records to export")


async def log_in(client: httpx.AsyncClient) -> None:
    """Log in through the form, as a browser does (the form's token, its cookie)."""
    form = await client.get("/login")
    token = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert token is not None, "no login form"
    fields = {"csrf": token.group(1), "email": EMAIL, "password": PASSWORD, "next": "/console"}
    answer = await client.post("/login", data=fields)
    assert answer.status_code == 303 and "kodeord_session" in client.cookies, "cannot log in"


async def watch(client: httpx.AsyncClient, started: asyncio.Event, events: list[int]) -> None:
    """One viewer: the live page's event stream, read until cancelled."""
    async with client.stream("GET", f"/console/live/events?service={POLL}", timeout=None) as stream:
        assert stream.status_code == 200, stream.status_code
        async for line in stream.aiter_lines():
            if line.startswith("data:"):
                events.append(1)
                started.set()


async def drive_watched(port: int, args: argparse.Namespace) -> dict[str, Any]:
    """``televote.drive`` with ``--viewers`` live-graph viewers connected from before the start to the end."""
    accounts.create(redis.Redis.from_url(args.redis_url), TENANT, EMAIL, PASSWORD, Role.VIEWER)
    limits = httpx.Limits(max_connections=args.viewers + 1)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", limits=limits) as client:
        await log_in(client)
        events: list[int] = []
        ready = [asyncio.Event() for _ in range(args.viewers)]
        viewers = [asyncio.create_task(watch(client, ready[n], events)) for n in range(args.viewers)]
        await asyncio.wait_for(asyncio.gather(*(r.wait() for r in ready)), timeout=30)
        try:
            load = await drive(port, args)
        finally:
            for viewer in viewers:
                viewer.cancel()
            await asyncio.gather(*viewers, return_exceptions=True)
    load["events"] = len(events)
    return load


def televote(args: argparse.Namespace, watched: bool) -> dict[str, Any]:
    """One harness run; its votes a second, and whether every vote counted once."""
    gateways = partial(kannel_gateways, secret=SECRET, charging=True)
    rules = rules_file(datetime.now(UTC))
    runner = drive_watched if watched else drive
    with live_tv(args, "kodeord-console-", rules, gateways, runner, lambda load: int(load["sent"])) as run:
        client = redis.Redis.from_url(run.redis_url, decode_responses=True)
        raw = client.hgetall(f"kodeord:{{s:{POLL}}}:voting:counts")
        client.close()
    counted = sum(int(v) for k, v in raw.items() if k.endswith((":sms", ":call")))
    sent = int(run.load["sent"])
    return {
        "votes_per_s": run.load["in_window"] / args.seconds,
        "exact": counted == sent and run.final["distinct"] >= sent and run.final["duplicated"] == 0,
        "events": run.load.get("events", 0),
        "web_cpu": run.cpu["web"],
    }


def _environ(url: str, tmp: Path) -> dict[str, str]:
    return {
        "KODEORD_REDIS_URL": url,
        "KODEORD_RULES": str(tmp / "rules.yaml"),
        "KODEORD_DATA_DIR": str(tmp / "var"),
        "KODEORD_LOG_LEVEL": "WARNING",
    }


def _settings(url: str, tmp: Path) -> Settings:
    return Settings(environ=_environ(url, tmp))


def _fill(job: tuple[str, str, int, int]) -> int:
    """Commit inbound records ``start`` to ``stop`` as the router does (one commit script call each)."""
    url, tmp, start, stop = job
    with Platform(_settings(url, Path(tmp))) as platform:
        keys = Keys.for_service(POLL)
        branch = [Branch({"status": "handled", "service": POLL, "rule": "vote", "action": "voting.vote"})]
        for n in range(start, stop):
            inbound = Inbound.create(
                sender=f"+4670{n * 7_654_321 % 10_000_000:07d}",
                recipient="72500",
                text=f"MELLO {n % 12 + 1:02d}",
                gateway="kannel",
                message_id=f"export-{n}",
            )
            platform.committer.commit(keys, inbound, branch)
    return stop - start


def peak_rss_mb(pids: set[int]) -> float:
    """The largest peak resident memory (``VmHWM``) of ``pids``, in MiB."""
    peaks = []
    for pid in pids:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        found = re.search(r"^VmHWM:\s+(\d+) kB", status, re.MULTILINE)
        if found:
            peaks.append(int(found.group(1)) / 1024)
    return max(peaks, default=0.0)


def rows_in(path: Path) -> int:
    """The data rows of an xlsx's first sheet (its header not counted), read from the sheet's XML."""
    count = 0
    with zipfile.ZipFile(path) as book, book.open("xl/worksheets/sheet1.xml") as sheet:
        tail = b""
        while chunk := sheet.read(1 << 20):
            count += (tail + chunk).count(b"<row ") - tail.count(b"<row ")
            tail = chunk[-8:]
    return count - 1


def export(rows: int) -> dict[str, float]:
    """Fill a Redis with ``rows`` records, export them as xlsx over HTTP; time, rows and the server's memory."""
    with embedded_redis("kodeord-export-") as (server, tmp):
        (tmp / "rules.yaml").write_text(rules_file(datetime.now(UTC)), encoding="utf-8")
        started = time.perf_counter()
        share = -(-rows // 2)
        jobs = [(server.url, str(tmp), s, min(s + share, rows)) for s in range(0, rows, share)]
        with multiprocessing.get_context("spawn").Pool(2) as pool:
            filled = sum(pool.imap_unordered(_fill, jobs))
        print(f"filled {filled} records in {time.perf_counter() - started:.0f} s", flush=True)
        key = apikeys.create(redis.Redis.from_url(server.url), TENANT, "export")
        port = free_port()
        env = {**os.environ, **_environ(server.url, tmp), "KODEORD_PUBLIC_URL": f"http://127.0.0.1:{port}"}
        kodeord = [sys.executable, "-c", "from kodeord.cli import main; main()"]
        web = subprocess.Popen(
            [*kodeord, "serve", "--port", str(port), "--workers", "1"], env=env, preexec_fn=die_with_parent
        )
        try:
            wait_http(f"http://127.0.0.1:{port}/healthz", web)
            baseline_mb = peak_rss_mb(family(web.pid))
            with tempfile.NamedTemporaryFile(suffix=".xlsx") as out:
                started = time.perf_counter()
                url = f"http://127.0.0.1:{port}/api/messages/export"
                headers = {"Authorization": f"Bearer {key}"}
                with httpx.stream("GET", url, params={"format": "xlsx"}, headers=headers, timeout=3600) as answer:
                    assert answer.status_code == 200, answer.read()[:200]
                    for chunk in answer.iter_bytes(1 << 20):
                        out.write(chunk)
                out.flush()
                seconds = time.perf_counter() - started
                peak = peak_rss_mb(family(web.pid))
                written = rows_in(Path(out.name))
                size_mb = Path(out.name).stat().st_size / 1024 / 1024
        finally:
            stop_process(web)
    print(
        f"export: {written} rows, {size_mb:.0f} MB xlsx in {seconds:.0f} s; server peak RSS {peak:.0f} MB "
        f"(after start {baseline_mb:.0f} MB)"
    )
    return {"rows": written, "seconds": seconds, "peak_mb": peak}


def main() -> None:
    args = arguments(__doc__, extra=options)
    without: list[float] = []
    watched: list[float] = []
    exact = True
    for n in range(args.rounds):
        for with_viewers in (False, True) if n % 2 == 0 else (True, False):
            run = televote(args, with_viewers)
            exact &= run["exact"]
            (watched if with_viewers else without).append(run["votes_per_s"])
            print(
                f"{'with' if with_viewers else 'without'} viewers: {run['votes_per_s']:.0f} votes/s, "
                f"every vote once: {run['exact']}, live events read {run['events']}, web CPU {run['web_cpu']:.2f}",
                flush=True,
            )
    ratio = sum(watched) / max(1e-9, sum(without))
    figures = export(args.rows)
    print(f"every vote counted once in every run: {exact}")
    print(
        f"viewers={args.viewers} votes_ratio={ratio:.2f} export_rows={figures['rows']} "
        f"export_s={figures['seconds']:.0f} export_peak_rss_mb={figures['peak_mb']:.0f}"
    )


if __name__ == "__main__":
    main()

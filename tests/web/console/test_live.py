"""The live page: only the tenant's services, a stream of counts a second over real HTTP, and totals that are
the poll's result."""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from kodeord.inbound.messages import Inbound
from kodeord.platform import Platform

from .conftest import log_in

POLL = "demo-tv/mello"


def vote(platform: Platform, make_inbound: Callable[..., Inbound], code: str, sender: str) -> None:
    outcome = platform.handle(make_inbound(f"MELLO {code}", sender=sender))
    assert outcome.status == "handled" and not outcome.guard, outcome


def events(client: httpx.Client, query: str = f"?service={POLL}") -> Iterator[dict[str, Any]]:
    """The counts events of the live stream, as they arrive."""
    with client.stream("GET", f"/console/live/events{query}", timeout=10) as stream:
        assert stream.status_code == 200
        assert stream.headers["content-type"].startswith("text/event-stream")
        kind = ""
        for line in stream.iter_lines():
            if line.startswith("event:"):
                kind = line.split(":", 1)[1].strip()
            elif line.startswith("data:") and kind == "counts":
                yield json.loads(line.split(":", 1)[1])


def test_the_live_page_needs_a_session_and_shows_only_the_tenants_services(console: tuple[Platform, str]) -> None:
    _, url = console
    with httpx.Client(base_url=url) as client:
        assert client.get("/console/live").status_code == 303
        assert client.get("/console/live/events").status_code == 401
        log_in(client, "sekreterare@example.se")  # demo-forening: the poll is demo-tv's
        assert client.get(f"/console/live?service={POLL}").status_code == 404
        assert client.get(f"/console/live/events?service={POLL}").status_code == 404
        page = client.get("/console/live")
        assert page.status_code == 200 and "demo-tv/" not in page.text
        assert "script-src 'self'" in page.headers["content-security-policy"]


def test_the_stream_counts_votes_a_second_and_its_totals_are_the_result(
    console: tuple[Platform, str], make_inbound: Callable[..., Inbound]
) -> None:
    platform, url = console
    with httpx.Client(base_url=url) as client:
        log_in(client, "producent@example.se")
        page = client.get(f"/console/live?service={POLL}")
        assert page.status_code == 200 and 'id="votes-graph"' in page.text and "Anna Andersson" in page.text
        stream = events(client)
        first = next(stream)
        assert [s["metric"] for s in first["series"]] == ["vote:01", "vote:02", "vote:03"]
        drawn = dict(first["seconds"])  # second -> counts, as the page keeps them: later events win
        for n, code in enumerate(["01", "02", "02", "03", "02"]):
            vote(platform, make_inbound, code, f"+4670555000{n}")
        deadline = time.monotonic() + 10
        for counts in stream:
            drawn.update(counts["seconds"])
            per_second: Counter[str] = Counter()
            for second in drawn.values():
                per_second.update({m: c for m, c in second.items() if m.startswith("vote:")})
            totals = {m: c for m, c in counts["totals"].items() if m.startswith("vote:")}
            if per_second == Counter(totals) == Counter({"vote:01": 1, "vote:02": 3, "vote:03": 1}):
                break
            assert time.monotonic() < deadline, (per_second, totals)
        assert counts["totals"]["in:sms"] >= 5


def test_the_counts_a_new_viewer_gets_cover_the_last_minutes(
    console: tuple[Platform, str], make_inbound: Callable[..., Inbound]
) -> None:
    platform, url = console
    vote(platform, make_inbound, "01", "+46705550100")
    vote(platform, make_inbound, "03", "+46705550101")
    with httpx.Client(base_url=url) as client:
        log_in(client, "producent@example.se")
        page = client.get(f"/console/live?service={POLL}")
    drawn: Counter[str] = Counter()
    first = json.loads(_attribute(page.text, "data-first"))
    for second in first["seconds"].values():
        drawn.update(second)
    assert (drawn["vote:01"], drawn["vote:03"], drawn["in:sms"]) == (1, 1, 2)
    assert first["totals"]["vote:01"] == 1


def _attribute(html: str, name: str) -> str:
    import html as html_module
    import re

    found = re.search(rf'{name}="([^"]*)"', html)
    assert found is not None, name
    return html_module.unescape(found.group(1))


@pytest.mark.parametrize("path", ["/console/static/uPlot.iife.min.js", "/console/static/live.js"])
def test_the_graph_library_is_served_from_the_package(console: tuple[Platform, str], path: str) -> None:
    _, url = console
    answer = httpx.get(url + path)
    assert answer.status_code == 200 and "javascript" in answer.headers["content-type"]
    assert httpx.get(url + "/console/static/../pages.py").status_code == 404

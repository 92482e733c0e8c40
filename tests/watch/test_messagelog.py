"""The message log: a message and its replies by id, searches with every filter and paging, from the CLI and
over the JSON API, each tenant seeing only its own."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
import redis

from kodeord.commit import records
from kodeord.commit.records import Status
from kodeord.inbound.messages import Inbound
from kodeord.outbound import status
from kodeord.outbound.gateway import RecordingGateway
from kodeord.platform import Platform
from kodeord.watch.messagelog import MessageLog, Query, QueryError
from kodeord.web import apikeys
from kodeord.web.app import create_app

from ..conftest import RADIO_RULES, TV_RULES

KODEORD = str(Path(sys.executable).parent / "kodeord")


@pytest.fixture
def traffic(
    make_platform: Callable[..., Platform],
    make_inbound: Callable[..., Inbound],
    tmp_path: Path,
    deliver: Callable[[Platform], object],
    recording_gateway: RecordingGateway,
) -> Platform:
    """Two tenants' traffic: five votes (one reply fails at the gateway, one is delivered) and a quiz answer."""
    (tmp_path / "other.yaml").write_text(RADIO_RULES, encoding="utf-8")
    (tmp_path / "tv.yaml").write_text(TV_RULES, encoding="utf-8")
    platform = make_platform([tmp_path / "tv.yaml", tmp_path / "other.yaml"])
    recording_gateway.fail["+46701234563"] = ("failed", "unknown subscriber")
    for n in range(5):
        platform.handle(make_inbound(f"MELLO 0{n + 1}", sender=f"+4670123456{n}", message_id=f"v{n}"))
    platform.handle(make_inbound("QUIZ B", to="72600", sender="+46701234560", message_id="q1"))
    deliver(platform)
    reply = f"{records.inbound_id('test', 'v0')}:0"
    status.apply_report(platform.redis, platform.retention, f"s:tv/mello|{reply}", Status.DELIVERED, "ACK/", 1)
    return platform


def test_show_gives_a_message_with_its_replies_text_route_and_history(traffic: Platform) -> None:
    log = MessageLog.every_scope(traffic.redis, traffic.retention)
    shown = log.show(records.inbound_id("test", "v0"))
    assert shown is not None
    assert (shown["direction"], shown["service"], shown["from"], shown["to"], shown["text"], shown["status"]) == (
        "in",
        "tv/mello",
        "+46701234560",
        "72500",
        "MELLO 01",
        "handled",
    )
    assert shown["outcome"]["rule"] == "vote"
    [reply] = shown["replies"]
    assert (reply["direction"], reply["to"], reply["text"], reply["status"]) == (
        "out",
        "+46701234560",
        "Tack för rösten på 01",
        "delivered",
    )
    assert [step["status"] for step in reply["history"]] == ["queued", "sent", "delivered"]
    assert reply["history"][-1]["report"] == "ACK/" and reply["route"]["gateway"] == "recording"
    assert log.show(reply["id"]) == reply  # a reply by its own id ...
    assert log.show(f"s:tv/mello|{records.inbound_id('test', 'v0')}:0") == reply  # ... or by its reference
    assert log.show("aaaaaaaaaaaaaaaa") is None


def test_search_filters_by_to_from_service_status_and_since(traffic: Platform) -> None:
    log = MessageLog.every_scope(traffic.redis, traffic.retention)

    def found(**filters: str) -> list[tuple[str, str, str]]:
        query = Query.parse(traffic.settings.regions, **filters)
        return sorted((m["direction"], m["from"], m["to"]) for m in log.search(query)[0])

    assert found(to="+46701234563") == [("out", "72500", "+46701234563")]
    assert found(to="0701234563") == [("out", "72500", "+46701234563")]  # numbers as people write them
    assert found(sender="+46701234560") == [("in", "+46701234560", "72500"), ("in", "+46701234560", "72600")]
    assert len(found(service="radio/quiz")) == 2
    assert found(status="failed") == [("out", "72500", "+46701234563")]
    failed = log.search(Query(status="failed"))[0][0]
    assert failed["history"][-1]["reason"] == "unknown subscriber"
    assert len(found(status="handled")) == 6 and len(found(since="1h")) == 12
    assert found(since="2099-01-01T00:00") == []


def test_paging_visits_every_message_once(traffic: Platform) -> None:
    log = MessageLog.every_scope(traffic.redis, traffic.retention)
    seen, cursor, pages = [], "", 0
    while True:
        page, cursor = log.search(Query(), limit=5, cursor=cursor)
        assert len(page) <= 5
        seen += [m["id"] for m in page]
        pages += 1
        if not cursor:
            break
    assert len(seen) == len(set(seen)) == 12 and pages >= 3


@pytest.mark.parametrize(
    ("filters", "message"),
    [
        ({"status": "lost"}, "status must be one of"),
        ({"to": "not a number"}, "to: "),
        ({"since": "yesterday"}, "since must be like 15m"),
        ({"service": "mello"}, "service must be tenant/service"),
    ],
)
def test_bad_filters_say_what_is_wrong(filters: dict[str, str], message: str) -> None:
    with pytest.raises(QueryError, match=message):
        Query.parse(("SE",), **filters)


def test_the_api_shows_a_tenant_its_own_messages_only(traffic: Platform, serve: Callable[..., str]) -> None:
    url = serve(create_app(traffic))
    tv = {"Authorization": f"Bearer {apikeys.create(traffic.redis, 'tv')}"}
    radio = {"Authorization": f"Bearer {apikeys.create(traffic.redis, 'radio')}"}
    answer = httpx.get(f"{url}/api/messages", params={"status": "failed"}, headers=tv)
    assert answer.status_code == 200, answer.text
    [failed] = answer.json()["messages"]
    assert failed["to"] == "+46701234563" and answer.json()["cursor"] == ""
    assert httpx.get(f"{url}/api/messages/{failed['id']}", headers=tv).json() == failed
    assert httpx.get(f"{url}/api/messages/{failed['id']}", headers=radio).status_code == 404
    mine = httpx.get(f"{url}/api/messages", headers=radio).json()["messages"]
    assert {m["service"] for m in mine} == {"radio/quiz"} and len(mine) == 2
    assert httpx.get(f"{url}/api/messages", params={"service": "tv/mello"}, headers=radio).json()["messages"] == []
    paged = httpx.get(f"{url}/api/messages", params={"limit": "4"}, headers=tv).json()
    assert len(paged["messages"]) == 4 and paged["cursor"]
    assert httpx.get(f"{url}/api/messages").status_code == 401
    for params, reason in (
        ({"limit": "0"}, "limit must be"),
        ({"cursor": "x"}, "cursor must be"),
        ({"colour": "red"}, "unknown parameter"),
        ({"since": "soon"}, "since must be"),
    ):
        bad = httpx.get(f"{url}/api/messages", params=params, headers=tv)
        assert bad.status_code == 400 and reason in bad.json()["error"], bad.text


def test_the_cli_shows_and_searches(traffic: Platform, kodeord_redis_url: str) -> None:
    env = {**os.environ, "KODEORD_REDIS_URL": kodeord_redis_url}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([KODEORD, "messages", *args], capture_output=True, text=True, env=env, timeout=60)

    listed = run("search", "--status", "failed")
    assert listed.returncode == 0, listed.stderr
    [line] = listed.stdout.splitlines()
    assert "+46701234563" in line and "failed" in line
    shown = run("show", line.split()[1])
    assert shown.returncode == 0 and "unknown subscriber" in shown.stdout, shown.stdout + shown.stderr
    assert run("show", "nosuchmessage").returncode == 1
    bad = run("search", "--since", "soon")
    assert bad.returncode == 2 and "since must be like" in bad.stderr
    assert '"cursor": ""' in run("search", "--service", "radio/quiz", "--json").stdout


def test_nothing_is_found_in_an_empty_platform(kodeord_redis: redis.Redis, traffic: Platform) -> None:
    kodeord_redis.flushdb()
    log = MessageLog.every_scope(kodeord_redis, traffic.retention)
    assert log.search(Query()) == ([], "")

"""Polls over the gateway webhooks and a real Redis: votes by SMS and by call, the window, caps under
concurrency, frozen results, traffic distribution, the hot button and burst alerts."""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys
import time
import unicodedata
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from kodeord.inbound import signing
from kodeord.platform import Platform
from kodeord.support.errors import RuleFileError
from kodeord.web import apikeys

from ..televote_rig import STUDIO, THANKS, TV, VOICE, poll_rules

VOTER = "+46701234567"
KODEORD = [sys.executable, "-c", "from kodeord.cli import main; main()"]
MakeTV = Callable[..., TV]


def test_an_sms_vote_counts_and_its_reply_is_charged(make_tv: MakeTV) -> None:
    tv = make_tv()
    answer = tv.sms(VOTER, "MELLO 02")
    assert answer.headers["x-kodeord-status"] == "handled"
    assert tv.votes() == {"01": 0, "02": 1, "03": 0}
    [reply] = tv.send()
    assert reply["to"] == VOTER and reply["text"] == "Tack för din röst på Bertil!"
    assert reply["binfo"] == "4.90"  # the premium price goes to Kannel with the reply
    result = tv.result()
    assert result["state"] == "open" and result["total"] == 1
    assert result["options"][1] == {"code": "02", "name": "Bertil", "votes": 1, "sms": 1, "calls": 0}
    [minute] = result["minutes"]
    assert minute["votes"] == {"02": 1}
    assert datetime.fromisoformat(minute["minute"]) <= datetime.now(UTC)


def test_codes_match_without_leading_zeros_and_unknown_codes_are_refused_for_free(make_tv: MakeTV) -> None:
    tv = make_tv()
    tv.sms(VOTER, "mello 3")
    tv.sms(VOTER, "MELLO 7")
    tv.sms(VOTER, "MELLO")
    assert tv.votes() == {"01": 0, "02": 0, "03": 1}
    thanks, unknown, empty = tv.send()
    assert thanks["text"] == "Tack för din röst på Cilla!" and thanks["binfo"] == "4.90"
    assert unknown["text"] == "Okänd röstkod 7 i Melodifestivalen. Rösten räknades inte."
    assert "binfo" not in unknown and "binfo" not in empty  # a vote that does not count costs nothing


def test_a_gateway_retry_of_the_same_message_counts_once(make_tv: MakeTV) -> None:
    tv = make_tv()
    first = tv.sms(VOTER, "MELLO 01", message_id="kannel-77")
    again = tv.sms(VOTER, "MELLO 01", message_id="kannel-77")
    assert first.headers["x-kodeord-status"] == "handled" and again.headers["x-kodeord-status"] == "duplicate"
    assert tv.votes()["01"] == 1
    assert len(tv.send()) == 1


def test_votes_before_opening_and_after_closing_do_not_count(make_tv: MakeTV) -> None:
    now = datetime.now(UTC)
    early = make_tv(opens=now + timedelta(minutes=5), closes=now + timedelta(hours=1))
    early.sms(VOTER, "MELLO 01")
    assert early.votes() == {"01": 0, "02": 0, "03": 0}
    assert early.result()["state"] == "not-open"
    [reply] = early.send()
    assert reply["text"].startswith("Röstningen i Melodifestivalen har inte öppnat än")
    assert "binfo" not in reply
    assert early.ring(VOTER, VOICE["01"]) == {"play": THANKS}  # no closed_recording: the thanks
    late = make_tv(
        opens=now - timedelta(hours=2),
        closes=now - timedelta(seconds=1),
        closed_recording="https://media.example/stangd.mp3",
    )
    assert late.ring(VOTER, VOICE["01"]) == {"play": "https://media.example/stangd.mp3"}
    late.sms(VOTER, "MELLO 01")
    result = late.result()
    assert result["state"] == "closed" and result["total"] == 0
    closed_at = datetime.fromisoformat(result["closed_at"])
    assert abs(closed_at - (now - timedelta(seconds=1))) < timedelta(milliseconds=1)  # frozen at the closing time
    [reply] = late.send()
    assert reply["text"].startswith("Röstningen i Melodifestivalen är stängd")


def test_caps_hold_exactly_when_one_number_votes_over_many_connections(make_tv: MakeTV) -> None:
    tv = make_tv(max_votes=5, max_per_option=2)

    def vote(n: int) -> str:
        with httpx.Client() as client:  # a connection of its own
            params = {
                "from": VOTER,
                "to": "72500",
                "text": f"MELLO 0{n % 3 + 1}",
                "id": f"race-{n}",
                "secret": "s3cret",
            }
            answer = client.get(f"{tv.url}/gateways/k1/kannel", params=params)
            return answer.headers["x-kodeord-status"]

    with ThreadPoolExecutor(16) as pool:
        statuses = list(pool.map(vote, range(60)))
    assert statuses == ["handled"] * 60
    votes = tv.votes()
    assert sum(votes.values()) == 5  # max_votes
    assert all(v <= 2 for v in votes.values())  # max_per_option
    replies = tv.send()
    assert len(replies) == 60
    charged = [r for r in replies if r.get("binfo")]
    assert len(charged) == 5  # only counted votes are charged
    capped = [r["text"] for r in replies if not r.get("binfo")]
    assert all("räknades inte" in text for text in capped)
    # another number has its own caps
    tv.sms("+46709999999", "MELLO 01")
    assert sum(tv.votes().values()) == 6


def test_a_closed_poll_is_frozen(make_tv: MakeTV) -> None:
    tv = make_tv()
    for n in range(3):
        tv.sms(f"+4670100000{n}", "MELLO 01")
    closed = tv.api("POST", "/polls/mello/close")
    assert closed.status_code == 200 and closed.json()["closed_now"] is True and closed.json()["state"] == "closed"
    assert tv.api("POST", "/polls/mello/close").json()["closed_now"] is False
    before = tv.result()
    tv.sms("+46701000009", "MELLO 02")
    assert tv.ring("+46701000010", VOICE["02"]) == {"play": THANKS}
    after = tv.result()
    assert after["options"] == before["options"] and after["total"] == 3 and after["state"] == "closed"
    assert tv.send()[-1]["text"].startswith("Röstningen i Melodifestivalen är stängd")


def test_a_call_is_a_vote_answered_with_the_recording_and_a_retried_webhook_counts_once(make_tv: MakeTV) -> None:
    tv = make_tv()
    assert tv.ring(VOTER, VOICE["03"], call_id="call-1") == {"play": THANKS}
    assert tv.ring(VOTER, VOICE["03"], call_id="call-1") == {"play": THANKS}  # 46elks retrying the webhook
    result = tv.result()
    assert result["options"][2] == {"code": "03", "name": "Cilla", "votes": 1, "sms": 0, "calls": 1}
    assert tv.send() == []  # a caller is thanked by the recording, not by SMS


def test_calls_to_unknown_numbers_hang_up_and_the_voice_webhook_needs_its_secret(make_tv: MakeTV) -> None:
    tv = make_tv()
    assert tv.ring(VOTER, "+46701111111") == {"hangup": "busy"}
    form = {"callid": "x1", "from": VOTER, "to": VOICE["01"]}
    assert tv.http.post(f"{tv.url}/gateways/e1/elks/voice?secret=wrong", data=form).status_code == 401
    assert tv.http.post(f"{tv.url}/gateways/e1/elks/voice?secret=v0ice", data={"from": VOTER}).status_code == 400
    assert tv.votes()["01"] == 0


def test_calls_over_the_cap_still_hear_the_recording_but_do_not_count(make_tv: MakeTV) -> None:
    tv = make_tv(max_votes=2)
    answers = [tv.ring(VOTER, VOICE["01"]) for _ in range(4)]
    assert answers == [{"play": THANKS}] * 4
    assert tv.votes()["01"] == 2


def binomial_bounds(n: int, p: float, sds: float = 5.0) -> tuple[float, float]:
    sd = math.sqrt(n * p * (1 - p))
    return n * p - sds * sd, n * p + sds * sd


@pytest.mark.parametrize("share", [0, 10])
def test_the_studio_gets_its_share_of_calls(make_tv: MakeTV, share: int) -> None:
    tv = make_tv(studio_share=share)
    calls = 1000
    answers = [tv.ring(f"+467020{n:05d}", VOICE["01"]) for n in range(calls)]
    to_studio = [a for a in answers if "connect" in a]
    thanks = {"play": THANKS}
    assert all(a == {"connect": STUDIO, "busy": thanks, "failed": thanks} for a in to_studio)
    assert all(a == thanks for a in answers if "connect" not in a)
    low, high = binomial_bounds(calls, share / 100)
    assert low <= len(to_studio) <= high, (len(to_studio), low, high)
    assert tv.votes()["01"] == calls  # every call is a vote, wherever it was connected


def test_the_hot_button_connects_a_random_recent_caller_to_the_studio_and_logs_it(make_tv: MakeTV) -> None:
    tv = make_tv()
    tv.ring("+46703000001", VOICE["01"])
    time.sleep(1.2)
    recent = {"+46703000002", "+46703000003", "+46703000004"}
    for caller in sorted(recent):
        tv.ring(caller, VOICE["02"])
    tv.sms("+46703000005", "MELLO 01")  # an SMS voter is not a caller
    picked = set()
    for n in range(3):
        answer = tv.api("POST", "/polls/mello/hot-button", json={"seconds": 1})
        assert answer.status_code == 200, answer.text
        record = answer.json()
        assert record["eligible"] == 3 - n and record["picked"] in recent and record["call_id"]
        picked.add(record["picked"])
    assert picked == recent  # never the same caller twice
    assert sorted(c["to"] for c in tv.elks.calls) == sorted(recent)
    for call in tv.elks.calls:
        assert call["from"] == VOICE["01"]  # the poll's first voice number
        assert json.loads(call["voice_start"]) == {"connect": STUDIO}
    nobody = tv.api("POST", "/polls/mello/hot-button", json={"seconds": 1})
    assert nobody.status_code == 404 and "nobody called" in nobody.json()["error"]
    log = tv.api("GET", "/polls/mello/hot-button").json()["hot_button"]
    assert [e["eligible"] for e in log] == [0, 1, 2, 3]  # newest first, every press logged
    assert tv.api("POST", "/polls/mello/hot-button", json={"seconds": 0}).status_code == 400


def test_a_failed_hot_button_call_is_logged_and_the_caller_stays_eligible(make_tv: MakeTV) -> None:
    tv = make_tv()
    tv.ring("+46703000001", VOICE["01"])
    tv.elks.refuse["+46703000001"] = (403, "Not allowed")
    answer = tv.api("POST", "/polls/mello/hot-button", json={"seconds": 60})
    assert answer.status_code == 502 and "elks 403" in answer.json()["error"]
    [entry] = tv.api("GET", "/polls/mello/hot-button").json()["hot_button"]
    assert entry["picked"] == "+46703000001" and "elks 403" in entry["error"]
    del tv.elks.refuse["+46703000001"]
    assert tv.api("POST", "/polls/mello/hot-button", json={"seconds": 60}).json()["picked"] == "+46703000001"


def test_burst_alerts_for_a_number_and_a_prefix_reach_the_operators(make_tv: MakeTV, serve: Callable[..., str]) -> None:
    received: list[dict[str, object]] = []

    async def hook(request: Request) -> Response:
        body = await request.body()
        signing.verify(
            "hook-secret",
            body,
            request.headers.get(signing.TIMESTAMP_HEADER),
            request.headers.get(signing.SIGNATURE_HEADER),
        )  # raises (and answers 500) when wrong
        received.append(json.loads(body))
        return Response(status_code=204)

    url = serve(Starlette(routes=[Route("/hook", hook, methods=["POST"])]))
    alerts = f"alerts:\n  webhook: {{url: {url}/hook, secret: hook-secret}}\n"
    tv = make_tv(alerts=alerts, burst_per_number=3, burst_per_prefix=6, burst_prefix=9)
    for _ in range(5):
        tv.sms(VOTER, "MELLO 01")  # +46701234567: the number bursts at its 4th vote
    for n in range(3):
        tv.sms(f"+4670123450{n}", "MELLO 02")  # same 9-digit prefix 467012345: 8 votes in all
    assert tv.platform.monitor is not None
    tv.platform.housekeeping()  # what the sender workers do every 10 seconds
    tv.platform.monitor.check(0.0)
    causes = sorted(a["cause"] for a in received)
    assert causes == ["burst:tv/mello:number:+46701234567", "burst:tv/mello:prefix:+467012345"]
    logged = tv.api("GET", "/polls/mello/alerts").json()["alerts"]
    assert sorted((a["kind"], a["who"], a["count"], a["limit"]) for a in logged) == [
        ("number", "+46701234567", 5, 3),
        ("prefix", "+467012345", 8, 6),
    ]
    tv.sms(VOTER, "MELLO 03")
    tv.platform.housekeeping()
    tv.platform.monitor.check(0.0)
    assert len(received) == 2  # once per cause per alert interval


def test_a_tenant_sees_only_its_own_polls(make_tv: MakeTV) -> None:
    tv = make_tv()
    assert [p["poll"] for p in tv.api("GET", "/polls").json()["polls"]] == ["mello", "senare"]
    radio = apikeys.create(tv.redis, "radio")
    assert [p["poll"] for p in tv.api("GET", "/polls", key=radio).json()["polls"]] == ["topplistan"]
    for method, path in [
        ("GET", "/polls/mello"),
        ("POST", "/polls/mello/close"),
        ("POST", "/polls/mello/hot-button"),
        ("GET", "/polls/mello/alerts"),
    ]:
        assert tv.api(method, path, key=radio, json={}).status_code == 404
        assert tv.http.request(method, f"{tv.url}/api/voting{path}").status_code == 401
    assert tv.result()["state"] == "open"


def test_the_cli_shows_and_closes_a_poll(make_tv: MakeTV, tmp_path: Path, kodeord_redis_url: str) -> None:
    tv = make_tv()
    tv.sms(VOTER, "MELLO 01")
    tv.ring(VOTER, VOICE["02"])
    rules = os.pathsep.join(str(tmp_path / name) for name in ("tv.yaml", "radio.yaml"))
    env = {
        **os.environ,
        "KODEORD_REDIS_URL": kodeord_redis_url,
        "KODEORD_RULES": rules,
        "KODEORD_LOG_LEVEL": "WARNING",
        "KODEORD_DATA_DIR": str(tmp_path / "var"),
    }

    def polls(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*KODEORD, "polls", *args], env=env, capture_output=True, text=True, timeout=60)

    shown = polls("result", "tv/mello")
    assert shown.returncode == 0, shown.stderr
    assert "Melodifestivalen (open), 2 votes" in shown.stdout
    assert "(sms 1, calls 0)  Anna" in shown.stdout and "(sms 0, calls 1)  Bertil" in shown.stdout
    assert json.loads(polls("result", "tv/mello", "--json").stdout)["total"] == 2
    assert polls("ls", "tv").stdout.splitlines()[0].split("\t")[:3] == ["mello", "open", "total=2"]
    closed = polls("close", "tv/mello")
    assert closed.returncode == 0 and "closed at" in closed.stdout, closed.stderr
    assert tv.result()["state"] == "closed"
    missing = polls("result", "radio/mello")
    assert missing.returncode == 1 and "no poll 'mello' for tenant 'radio'" in missing.stderr
    assert polls("result", "mello").returncode == 2


def test_two_presses_at_once_never_pick_the_same_caller(make_tv: MakeTV) -> None:
    tv = make_tv()
    callers = [f"+4670400000{n}" for n in range(6)]
    for caller in callers:
        tv.ring(caller, VOICE["01"])

    def press(_: int) -> str:
        with httpx.Client() as client:
            answer = client.post(
                f"{tv.url}/api/voting/polls/mello/hot-button",
                json={"seconds": 60},
                headers={"Authorization": f"Bearer {tv.key}"},
            )
            assert answer.status_code == 200, answer.text
            return str(answer.json()["picked"])

    with ThreadPoolExecutor(6) as pool:
        picked = list(pool.map(press, range(6)))
    assert sorted(picked) == sorted(callers)  # six presses, six different callers
    assert sorted(c["to"] for c in tv.elks.calls) == sorted(callers)


def test_a_very_long_vote_code_is_just_unknown(make_tv: MakeTV) -> None:
    tv = make_tv()
    tv.sms(VOTER, "MELLO " + "1" * 5000)
    tv.sms(VOTER, "MELLO " + "0" * 5000 + "2")  # leading zeros, however many
    assert tv.votes() == {"01": 0, "02": 1, "03": 0}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(max_size=40))
def test_any_text_after_the_keyword_counts_only_as_a_known_code(
    make_platform: Callable[..., Platform], make_inbound: Callable[..., object], text: str
) -> None:
    now = datetime.now(UTC)
    platform = make_platform(poll_rules(now - timedelta(hours=1), now + timedelta(hours=1)))
    outcome = platform.handle(make_inbound(f"MELLO {text}"))  # type: ignore[arg-type]
    assert outcome.status == "handled" and not outcome.errors
    words = text.split()
    code = unicodedata.normalize("NFKC", words[0]) if words else ""  # a superscript ¹ is a 1, as on a phone
    known = code.isascii() and code.isdigit() and int(code) in (1, 2, 3)
    counted = outcome.guard is None and outcome.replies[0].get("price") == "4.90"
    assert counted == known
    assert len(outcome.replies) == 1  # counted or not, the voter gets one answer


def test_poll_mistakes_are_refused_at_load_with_their_place(make_platform: Callable[..., Platform]) -> None:
    now = datetime.now(UTC)
    cases = {
        "studio_share: 12": "the share of calls sent to the studio is 0 to 10 (percent), got 12",
        "max_votes: 0": "must be at least 1, got 0",
        "thanks: ftp://x": "expected the recording's http(s) URL",
        "replies: {closed: '{{ nope }}'}": "template uses unknown variable 'nope'",
        "options: []": "a poll needs at least one option",
        'caller_id: "+46812345678"': "caller_id +46812345678 is not one of this service's calls: numbers",
    }
    for extra, message in cases.items():
        name, _, value = extra.partition(": ")
        with pytest.raises(RuleFileError) as caught:
            make_platform(poll_rules(now, now + timedelta(hours=1), **{name: value}))
        assert re.search(r"rules-\d+\.yaml:\d+:\d+: .*" + re.escape(message), str(caught.value)), str(caught.value)
    with pytest.raises(RuleFileError) as caught:
        make_platform(poll_rules(now, now - timedelta(hours=1)))
    assert "closes must be later than opens" in str(caught.value)
    wrong_code = poll_rules(now, now + timedelta(hours=1)).replace('"099-123 47": "03"', '"099-123 47": "04"')
    with pytest.raises(RuleFileError) as caught:
        make_platform(wrong_code)
    assert "calls: +469912347 stands for '04', which is no option's code" in str(caught.value)
    with pytest.raises(RuleFileError) as caught:
        make_platform(poll_rules(now, now + timedelta(hours=1)).replace('price: "4.90"', 'price: "12.00"'))
    assert re.search(
        r"rules-\d+\.yaml:\d+:\d+: a premium price on a SE number must be from 0.80 to 9.90 SEK, "
        r"got 12.00 \(at services\[0\]\.rules\[0\]\.price\)",
        str(caught.value),
    ), str(caught.value)

"""Competitions over the gateway webhooks and a real Redis: entries by SMS and call, one entry per number
under concurrency, and winner draws that are uniform, never repeat a winner, and can be verified."""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from kodeord.plugins.voting.draw import entry_list, pick
from kodeord.support.errors import RuleFileError
from kodeord.web import apikeys

from ..televote_rig import THANKS, TV

MakeTV = Callable[..., TV]
KODEORD = [sys.executable, "-c", "from kodeord.cli import main; main()"]
LINE = "+469912399"  # 099-123 99: a call to it answers X


def contest(closes: datetime | None = None) -> str:
    closes = closes or datetime.now(UTC) + timedelta(hours=1)
    return f"""\
  - id: tavling
    number: "72500"
    keyword: TÄVLA
    calls: {{"099-123 99": "X"}}
    rules:
      - name: answer
        do: voting.enter
        with:
          title: Veckans fråga
          key: X
          closes: "{closes.isoformat()}"
          thanks: {THANKS}
        reply: "Tack, ditt svar {{{{ answer }}}} är registrerat."
"""


def answers_by(tv: TV, how: dict[str, str]) -> None:
    for number, answer in how.items():
        tv.sms(number, f"TÄVLA {answer}")


def test_the_first_answer_of_each_number_is_its_entry_by_sms_and_by_call(make_tv: MakeTV) -> None:
    tv = make_tv(extra_services=contest())
    tv.sms("+46701000001", "tävla x")
    tv.sms("+46701000001", "TÄVLA 1")  # a second answer changes nothing
    assert tv.ring("+46701000002", LINE) == {"play": THANKS}
    assert tv.ring("+46701000002", LINE) == {"play": THANKS}
    first, second = tv.send()
    assert first["text"] == "Tack, ditt svar x är registrerat."
    assert second["text"] == "Du har redan svarat i Veckans fråga. Bara ditt första svar gäller."
    shown = tv.api("GET", "/competitions/tavling").json()
    assert (shown["entries"], shown["correct"], shown["winners"], shown["draws"]) == (2, 2, [], 0)


def test_one_number_answering_over_many_connections_makes_one_entry(make_tv: MakeTV) -> None:
    tv = make_tv(extra_services=contest())

    def answer(n: int) -> None:
        with httpx.Client() as client:
            params = {
                "from": "+46701000001",
                "to": "72500",
                "text": f"TÄVLA {'X12'[n % 3]}",
                "id": f"c-{n}",
                "secret": "s3cret",
            }
            assert client.get(f"{tv.url}/gateways/k1/kannel", params=params).status_code == 200

    with ThreadPoolExecutor(12) as pool:
        list(pool.map(answer, range(36)))
    assert tv.api("GET", "/competitions/tavling").json()["entries"] == 1
    replies = [m["text"] for m in tv.send()]
    assert sum(text.startswith("Tack, ditt svar") for text in replies) == 1
    assert len(replies) == 36


def test_answers_after_closing_are_not_registered(make_tv: MakeTV) -> None:
    tv = make_tv(extra_services=contest(closes=datetime.now(UTC) - timedelta(seconds=1)))
    tv.sms("+46701000001", "TÄVLA X")
    assert tv.api("GET", "/competitions/tavling").json()["entries"] == 0
    [reply] = tv.send()
    assert reply["text"] == "Tävlingen Veckans fråga är stängd. Ditt svar registrerades inte."


def test_a_draw_is_recorded_with_a_hash_of_its_entry_list_and_never_repeats_a_winner(make_tv: MakeTV) -> None:
    tv = make_tv(extra_services=contest())
    right = {f"+4670200000{n}": "X" for n in range(6)}
    wrong = {f"+4670300000{n}": "1" for n in range(4)}
    answers_by(tv, right | wrong)
    made = tv.api("POST", "/competitions/tavling/draws", json={"winners": 2})
    assert made.status_code == 201, made.text
    record = made.json()
    assert record["draw"] == 1 and record["eligible"] == 6 and record["key"] == "X" and record["by"] == "api"
    listing = tv.api("GET", "/competitions/tavling/draws/1/entries")
    assert listing.status_code == 200 and listing.headers["content-type"].startswith("text/plain")
    assert hashlib.sha256(listing.content).hexdigest() == record["sha256"]  # anyone can check the list
    numbers = listing.text.splitlines()
    assert numbers == sorted(right)  # only right answers, sorted
    assert [numbers[p - 1] for p in record["places"]] == record["winners"]
    assert datetime.fromisoformat(record["at"]) <= datetime.now(UTC)
    won = set(record["winners"])
    for n in range(2, 6):
        later = tv.api("POST", "/competitions/tavling/draws", json={}).json()
        assert later["draw"] == n and later["eligible"] == 6 - len(won)
        assert not won & set(later["winners"])  # never the same person twice
        won |= set(later["winners"])
    assert won == set(right)
    too_few = tv.api("POST", "/competitions/tavling/draws", json={"winners": 1})
    assert too_few.status_code == 409 and "0 eligible entries" in too_few.json()["error"]
    assert [d["draw"] for d in tv.api("GET", "/competitions/tavling/draws").json()["draws"]] == [1, 2, 3, 4, 5]
    assert tv.api("GET", "/competitions/tavling/draws/9/entries").status_code == 404
    assert tv.api("POST", "/competitions/tavling/draws", json={"winners": 0}).status_code == 400


def test_a_draw_picks_uniformly() -> None:
    draws = 5000
    counts = Counter(pick(1, 5)[0] for _ in range(draws))
    sd = (draws * 0.2 * 0.8) ** 0.5
    assert set(counts) == {0, 1, 2, 3, 4}
    assert all(abs(c - draws * 0.2) < 5 * sd for c in counts.values()), counts
    assert sorted(pick(5, 5)) == [0, 1, 2, 3, 4]  # without replacement
    assert entry_list(["+462", "+461"]) == b"+461\n+462\n"


def test_another_tenant_cannot_see_or_draw_a_competition(make_tv: MakeTV) -> None:
    tv = make_tv(extra_services=contest())
    answers_by(tv, {"+46701000001": "X"})
    radio = apikeys.create(tv.redis, "radio")
    assert tv.api("GET", "/competitions", key=radio).json() == {"competitions": []}
    for method, path in [
        ("GET", "/competitions/tavling"),
        ("POST", "/competitions/tavling/draws"),
        ("GET", "/competitions/tavling/draws/1/entries"),
    ]:
        assert tv.api(method, path, key=radio, json={}).status_code == 404
        assert tv.http.request(method, f"{tv.url}/api/voting{path}").status_code == 401
    assert tv.api("GET", "/competitions/tavling").json()["draws"] == 0


def test_the_cli_draws_and_prints_the_entry_list(make_tv: MakeTV, tmp_path: Path, kodeord_redis_url: str) -> None:
    tv = make_tv(extra_services=contest())
    answers_by(tv, {"+46701000001": "X", "+46701000002": "X", "+46701000003": "2"})
    env = {
        **os.environ,
        "KODEORD_REDIS_URL": kodeord_redis_url,
        "KODEORD_RULES": str(tmp_path / "tv.yaml"),
        "KODEORD_LOG_LEVEL": "WARNING",
        "KODEORD_DATA_DIR": str(tmp_path / "var"),
    }

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*KODEORD, "competitions", *args], env=env, capture_output=True, text=True, timeout=60)

    made = run("draw", "tv/tavling")
    assert made.returncode == 0, made.stderr
    record = json.loads(made.stdout)
    assert record["eligible"] == 2 and record["by"] == "cli"
    listing = run("entries", "tv/tavling", "1").stdout
    assert listing == "+46701000001\n+46701000002\n"
    assert hashlib.sha256(listing.encode()).hexdigest() == record["sha256"]
    assert json.loads(run("show", "tv/tavling").stdout)["winners"] == record["winners"]
    assert [d["draw"] for d in json.loads(run("draws", "tv/tavling").stdout)] == [1]
    missing = run("show", "tv/nothing")
    assert missing.returncode == 1 and "no competition 'nothing'" in missing.stderr


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("key: 'two words'", "the key is one answer word, got 'two words'"),
        ("key: X\n          opens: yesterday", "expected a date and time such as 2027-02-01T20:00, got 'yesterday'"),
    ],
)
def test_competition_mistakes_are_refused_at_load(make_tv: MakeTV, line: str, message: str) -> None:
    with pytest.raises(RuleFileError) as caught:
        make_tv(extra_services=contest().replace("key: X", line))
    assert re.search(r"tv\.yaml:\d+:\d+: .*" + re.escape(message), str(caught.value)), str(caught.value)

"""Live traffic counts: written with what they count, so the graph, the reports and the result agree."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime

import httpx

from kodeord.watch import live

from ..televote_rig import TV, VOICE

MakeTV = Callable[..., TV]


def totals(tv: TV, metric_prefix: str = "") -> Counter[str]:
    """Every per-second count of the last two minutes of service tv/mello, summed per metric."""
    now = int(time.time())
    found: Counter[str] = Counter()
    for counts in live.seconds(tv.redis, ["tv/mello"], now - 120, now + 1).values():
        found.update({m: n for m, n in counts.items() if m.startswith(metric_prefix)})
    return found


def test_votes_and_traffic_are_counted_per_second_with_the_result(make_tv: MakeTV) -> None:
    tv = make_tv()
    for n, text in enumerate(["MELLO 01", "MELLO 02", "MELLO 02", "MELLO 9", "MELLO 01"]):
        tv.sms(f"+4670100000{n}", text)
    tv.ring("+46701000009", VOICE["03"])
    tv.sms("+46701000000", "MELLO 01", message_id="twice")
    tv.sms("+46701000000", "MELLO 01", message_id="twice")  # a gateway's retry: counted once
    counted = totals(tv)
    assert counted["in:sms"] == 6 and counted["in:call"] == 1
    # The per-second vote counts are the poll's result, option by option (the unknown code 9 is no vote).
    votes = {m.removeprefix("vote:"): n for m, n in counted.items() if m.startswith("vote:")}
    assert votes == {code: n for code, n in tv.votes().items() if n}
    hour = datetime.now(UTC)
    days = live.days(tv.redis, ["tv/mello"], [hour.date().isoformat()])["tv/mello"]
    assert days[f"{hour.date().isoformat()}T{hour.hour:02d}|in:sms"] >= 6  # an hour may turn mid-test


def test_sending_and_delivery_reports_are_counted(make_tv: MakeTV) -> None:
    tv = make_tv()
    tv.sms("+46701000001", "MELLO 01")
    tv.sms("+46701000002", "MELLO 02")
    first, second = tv.send()
    assert totals(tv)["sent"] == 2
    for sms, kind in ((first, 1), (second, 16)):  # Kannel's delivered and undelivered
        assert httpx.get(sms["dlr-url"].replace("%d", str(kind))).status_code == 200
    assert httpx.get(first["dlr-url"].replace("%d", "1")).status_code == 200  # again: no change, not counted
    counted = totals(tv)
    assert (counted["sent"], counted["delivered"], counted["failed"]) == (2, 1, 1)


def test_seconds_outside_the_window_are_left_out(make_tv: MakeTV) -> None:
    tv = make_tv()
    tv.sms("+46701000001", "MELLO 01")
    now = int(time.time())
    assert live.seconds(tv.redis, ["tv/mello"], now - 600, now - 300) == {}
    assert live.seconds(tv.redis, ["tv/other"], now - 60, now + 1) == {}

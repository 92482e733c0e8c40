"""The web app over real HTTP: health, metrics, simulator, plugin routes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kodeord.outbound.sender import Sender
from kodeord.platform import Platform
from kodeord.web.app import create_app

from ..conftest import TV_RULES


@pytest.fixture
def site(make_platform: Callable[..., Platform], serve: Callable[[Any], str]) -> tuple[Platform, str]:
    platform = make_platform(TV_RULES)
    return platform, serve(create_app(platform, simulator_enabled=True))


def send(url: str, **body: str) -> httpx.Response:
    return httpx.post(f"{url}/simulator/send", json=body)


def test_health_and_metrics(site: tuple[Platform, str]) -> None:
    _, url = site
    health = httpx.get(f"{url}/healthz")
    assert health.status_code == 200
    assert health.json() == {"status": "ok", "redis": True, "services": 1, "rules_generation": 0}
    assert send(url, **{"from": "+46701234567", "to": "72500", "text": "MELLO 03"}).status_code == 200
    metrics = httpx.get(f"{url}/metrics")
    assert metrics.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    assert 'kodeord_inbound_total{status="handled"} 1.0' in metrics.text.splitlines()
    assert "kodeord_services 1.0" in metrics.text.splitlines()


def test_simulator_round_trip(site: tuple[Platform, str]) -> None:
    platform, url = site
    page = httpx.get(f"{url}/simulator")
    assert page.status_code == 200 and "72500 (delat kortnummer)" in page.text
    reply = send(url, **{"from": "0701234567", "to": "72500", "text": "mello 07"}).json()
    assert (reply["service"], reply["rule"]) == ("tv/mello", "vote")
    assert [r["text"] for r in reply["replies"]] == ["Tack för rösten på 07"]
    Sender(platform, gateway=platform.gateways["console"]).run_once()
    inbox = httpx.get(f"{url}/simulator/inbox", params={"phone": "+46701234567"}).json()
    assert [m["text"] for m in inbox["messages"]] == ["Tack för rösten på 07"]


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"from": "hello", "to": "72500", "text": "x"}, "invalid phone number 'hello'"),
        ({"from": "+46701234567", "to": "72500"}, "give from, to and text as strings"),
        ({"from": "+46701234567", "to": "72500", "text": 5}, "give from, to and text as strings"),
    ],
)
def test_bad_requests_get_400_with_the_reason(site: tuple[Platform, str], body: dict[str, Any], error: str) -> None:
    _, url = site
    response = httpx.post(f"{url}/simulator/send", json=body)
    assert response.status_code == 400 and error in response.json()["error"]


def test_non_json_body_is_refused(site: tuple[Platform, str]) -> None:
    _, url = site
    response = httpx.post(f"{url}/simulator/send", content=b"from=1&to=2")
    assert response.status_code == 400 and response.json() == {"error": "body must be JSON"}


def test_simulator_is_absent_unless_enabled(
    make_platform: Callable[..., Platform], serve: Callable[[Any], str]
) -> None:
    url = serve(create_app(make_platform(TV_RULES)))
    assert httpx.get(f"{url}/simulator").status_code == 404
    assert httpx.post(f"{url}/simulator/send", json={}).status_code == 404
    assert httpx.get(f"{url}/", follow_redirects=False).status_code == 200


def test_partner_plugin_route_is_served(site: tuple[Platform, str]) -> None:
    _, url = site
    assert httpx.get(f"{url}/coupon/about").json() == {"plugin": "coupon", "actions": ["coupon.claim"]}


def test_any_text_never_causes_a_server_error(site: tuple[Platform, str]) -> None:
    _, url = site

    @settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(st.text(max_size=200), st.sampled_from(["72500", "+46766861004", "", "abc"]))
    def post(text: str, to: str) -> None:
        response = send(url, **{"from": "+46701234567", "to": to, "text": text})
        assert response.status_code in (200, 400), response.text

    post()


def test_a_route_that_finds_redis_away_answers_503_and_when_to_try_again(site: tuple[Platform, str]) -> None:
    from kodeord.web import apikeys

    from ..conftest import free_port

    platform, url = site
    key = apikeys.create(platform.redis, "tv", "ci")
    assert httpx.get(f"{url}/api/whoami", headers={"Authorization": f"Bearer {key}"}).status_code == 200
    platform.redis = redis.Redis(port=free_port(), socket_connect_timeout=0.2)  # nothing listens there
    answer = httpx.get(f"{url}/api/whoami", headers={"Authorization": f"Bearer {key}"})
    assert answer.status_code == 503, answer.text
    assert answer.headers["Retry-After"] == "1" and "try again" in answer.json()["error"]

"""API keys: made by the CLI, checked over real HTTP, kept in the real Redis only as hashes."""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from kodeord.platform import Platform
from kodeord.web import apikeys
from kodeord.web.apiauth import json_body
from kodeord.web.apikeys import ApiKeyError
from kodeord.web.app import create_app, http_error

from ..conftest import TV_RULES

ROOT = Path(__file__).parents[2]
KODEORD = str(Path(sys.executable).parent / "kodeord")
KEY = re.compile(r"kod_[A-Za-z0-9_-]{40}")
UNKNOWN = {"error": "missing or unknown API key"}


@pytest.fixture
def site(make_platform: Callable[..., Platform], serve: Callable[[Any], str]) -> tuple[Platform, str]:
    platform = make_platform(TV_RULES)
    return platform, serve(create_app(platform))


def whoami(url: str, headers: dict[str, str]) -> httpx.Response:
    return httpx.get(f"{url}/api/whoami", headers=headers)


def everything_in(client: redis.Redis) -> bytes:
    """Every key name and value in Redis, as one blob to search."""
    parts: list[Any] = []  # bytes: the client does not decode
    for name in client.scan_iter():
        parts.append(name)
        kind = client.type(name)
        if kind == b"string":
            parts.append(client.get(name) or b"")
        elif kind == b"hash":
            for field, value in client.hgetall(name).items():
                parts += [field, value]
        elif kind == b"set":
            parts += list(client.smembers(name))
        else:
            raise AssertionError(f"unexpected {kind!r} at {name!r}")
    return b"\n".join(parts)


def test_whoami_answers_the_keys_tenant_by_bearer_or_x_api_key(site: tuple[Platform, str]) -> None:
    platform, url = site
    key = apikeys.create(platform.redis, "tv", "ci")
    assert KEY.fullmatch(key)
    for headers in ({"Authorization": f"Bearer {key}"}, {"Authorization": f"bearer  {key}"}, {"X-Api-Key": key}):
        response = whoami(url, headers)
        assert (response.status_code, response.json()) == (200, {"tenant": "tv"}), headers


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer"},
        {"Authorization": "Bearer kod_" + "A" * 40},
        {"Authorization": "Bearer not-a-key"},
        {"X-Api-Key": ""},
        {"X-Api-Key": "kod_" + "A" * 40},
        {"Authorization": "Basic dHY6c2VjcmV0"},
    ],
)
def test_a_missing_or_unknown_key_gets_401(site: tuple[Platform, str], headers: dict[str, str]) -> None:
    platform, url = site
    apikeys.create(platform.redis, "tv", "ci")
    response = whoami(url, headers)
    assert (response.status_code, response.json()) == (401, UNKNOWN)
    assert response.headers["WWW-Authenticate"] == "Bearer"


def test_a_revoked_key_gets_401_at_once(site: tuple[Platform, str]) -> None:
    platform, url = site
    by_name, by_prefix = apikeys.create(platform.redis, "tv", "old"), apikeys.create(platform.redis, "tv")
    assert whoami(url, {"X-Api-Key": by_name}).status_code == 200
    assert apikeys.revoke(platform.redis, "tv", "old") is True
    assert apikeys.revoke(platform.redis, "tv", by_prefix[:12]) is True
    assert apikeys.revoke(platform.redis, "tv", "old") is False
    for key in (by_name, by_prefix):
        response = whoami(url, {"X-Api-Key": key})
        assert (response.status_code, response.json()) == (401, UNKNOWN)
    assert apikeys.list_keys(platform.redis, "tv") == []
    assert platform.redis.keys("kodeord:{apikeys}:*") == []


def test_keys_are_kept_hashed_and_listed_without_secrets(kodeord_redis: redis.Redis) -> None:
    key = apikeys.create(kodeord_redis, "tv", "ci")
    assert apikeys.tenant_for(kodeord_redis, key) == "tv"
    stored = everything_in(kodeord_redis)
    assert key.encode() not in stored and key[12:].encode() not in stored
    [row] = apikeys.list_keys(kodeord_redis, "tv")
    assert set(row) == {"prefix", "name", "created", "last_used"}
    assert (row["prefix"], row["name"]) == (key[:12], "ci")
    assert datetime.fromisoformat(row["created"]) <= datetime.fromisoformat(row["last_used"]) <= datetime.now(UTC)
    assert all(key[12:] not in value and len(value) < 64 for value in row.values())  # nor the 64-digit hash


def test_last_used_is_written_at_most_once_a_minute(kodeord_redis: redis.Redis) -> None:
    key = apikeys.create(kodeord_redis, "tv", "ci")
    [record] = kodeord_redis.keys("kodeord:{apikeys}:key:*")
    recent = (datetime.now(UTC) - timedelta(seconds=30)).isoformat(timespec="seconds")
    kodeord_redis.hset(record, "last_used", recent)
    assert apikeys.tenant_for(kodeord_redis, key) == "tv"
    assert apikeys.list_keys(kodeord_redis, "tv")[0]["last_used"] == recent
    kodeord_redis.hset(record, "last_used", (datetime.now(UTC) - timedelta(minutes=2)).isoformat())
    assert apikeys.tenant_for(kodeord_redis, key) == "tv"
    assert datetime.now(UTC) - datetime.fromisoformat(
        apikeys.list_keys(kodeord_redis, "tv")[0]["last_used"]
    ) < timedelta(seconds=5)


def test_the_keys_of_two_tenants_do_not_mix(site: tuple[Platform, str]) -> None:
    platform, url = site
    tv, radio = apikeys.create(platform.redis, "tv", "ci"), apikeys.create(platform.redis, "radio", "ci")
    assert whoami(url, {"Authorization": f"Bearer {tv}"}).json() == {"tenant": "tv"}
    assert whoami(url, {"Authorization": f"Bearer {radio}"}).json() == {"tenant": "radio"}
    assert [r["prefix"] for r in apikeys.list_keys(platform.redis, "tv")] == [tv[:12]]
    assert [r["prefix"] for r in apikeys.list_keys(platform.redis, "radio")] == [radio[:12]]
    assert apikeys.revoke(platform.redis, "tv", radio[:12]) is False
    assert apikeys.revoke(platform.redis, "tv", "ci") is True
    assert whoami(url, {"Authorization": f"Bearer {radio}"}).json() == {"tenant": "radio"}
    assert whoami(url, {"Authorization": f"Bearer {tv}"}).status_code == 401


def test_create_checks_the_tenant_and_the_name(kodeord_redis: redis.Redis) -> None:
    assert apikeys.create(kodeord_redis, "tv") != apikeys.create(kodeord_redis, "tv")
    assert [r["name"] for r in apikeys.list_keys(kodeord_redis, "tv")] == ["key-1", "key-2"]
    with pytest.raises(ApiKeyError) as caught:
        apikeys.create(kodeord_redis, "tv", "key-2")
    assert str(caught.value) == "tenant 'tv' already has a key named 'key-2'"
    with pytest.raises(ApiKeyError) as caught:
        apikeys.create(kodeord_redis, "t v", "x")
    assert str(caught.value) == (
        "invalid tenant id 't v': expected 1 to 64 letters, digits, '-' and '_', starting with a letter or digit"
    )
    for bad in ("kod_x", "a b", "-x", "x" * 65):
        with pytest.raises(ApiKeyError, match="invalid key name"):
            apikeys.create(kodeord_redis, "tv", bad)
    with pytest.raises(ApiKeyError, match="invalid tenant id"):
        apikeys.list_keys(kodeord_redis, "../tv")


HEADER_TEXT = "".join(chr(c) for c in (*range(0x20, 0x7F), *range(0x80, 0x100))) + "\t"
texts = st.one_of(st.text(HEADER_TEXT, max_size=120), st.from_regex(r"kod_[A-Za-z0-9_-]{40}", fullmatch=True))


def header(prefix: str = "") -> st.SearchStrategy[bytes]:
    """Values HTTP allows in a header (no surrounding blanks), optionally after ``prefix``."""
    return texts.map(lambda v: (prefix + v).strip(" \t").encode("latin-1"))


def test_no_header_value_authenticates_or_breaks_the_server(site: tuple[Platform, str]) -> None:
    platform, url = site
    apikeys.create(platform.redis, "tv", "ci")  # so a lookup has something to miss

    @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(
        st.fixed_dictionaries(
            {},
            optional={
                "authorization": st.one_of(header(), header("Bearer "), header("bearer  ")),
                "x-api-key": header(),
            },
        )
    )
    def check(headers: dict[str, bytes]) -> None:
        response = httpx.get(f"{url}/api/whoami", headers=[(k.encode(), v) for k, v in headers.items()])
        assert response.status_code in (400, 401), response.text

    check()


async def echo(request: Request) -> Response:
    return JSONResponse(await json_body(request))


@pytest.fixture
def echo_url(serve: Callable[[Any], str]) -> str:
    return serve(
        Starlette(routes=[Route("/echo", echo, methods=["POST"])], exception_handlers={HTTPException: http_error})
    )


@pytest.mark.parametrize(
    ("content", "headers", "status", "answer"),
    [
        (b'{"a": [1, "\xc3\xa5"]}', {"Content-Type": "application/json; charset=utf-8"}, 200, {"a": [1, "å"]}),
        (b"", {}, 200, {}),
        (b"[1]", {}, 400, {"error": "expected a JSON object"}),
        (
            b"{nope",
            {},
            400,
            {
                "error": "body is not valid JSON: Expecting property name enclosed in double quotes: "
                "line 1 column 2 (char 1)"
            },
        ),
        (b'{"a": NaN}', {}, 400, {"error": "body is not valid JSON: NaN is not allowed"}),
        (b"[" * 30000 + b"]" * 30000, {}, 400, {"error": "body is not valid JSON: nested too deeply"}),
        (
            b"a=1",
            {"Content-Type": "application/x-www-form-urlencoded"},
            415,
            {"error": "expected Content-Type application/json, got 'application/x-www-form-urlencoded'"},
        ),
        (b"{}" + b" " * 65535, {}, 413, {"error": "body larger than 65536 bytes"}),
    ],
)
def test_json_body(echo_url: str, content: bytes, headers: dict[str, str], status: int, answer: Any) -> None:
    response = httpx.post(echo_url + "/echo", content=content, headers=headers)
    assert (response.status_code, response.json()) == (status, answer)


def test_json_body_stops_reading_a_large_body_without_a_length(echo_url: str) -> None:
    chunks = iter([b'{"a": "', b"x" * 40000, b"x" * 40000, b'"}'])
    response = httpx.post(echo_url + "/echo", content=chunks)
    assert (response.status_code, response.json()) == (413, {"error": "body larger than 65536 bytes"})

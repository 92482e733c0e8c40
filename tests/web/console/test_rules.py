"""Rules at a glance: the tenant's own services and rules only, and a "try a message" box that runs a dry run
of the tenant's own numbers, changing nothing."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import redis

from kodeord.platform import Platform
from kodeord.web.app import create_app
from kodeord.web.console import accounts

from .conftest import PASSWORD, TOKEN, log_in


def token_of(page: httpx.Response) -> str:
    found = TOKEN.search(page.text)
    assert found is not None
    return found.group(1)


def test_a_producer_sees_the_tenants_rules_only_and_tries_a_vote_changing_nothing(
    console: tuple[Platform, str], kodeord_redis: redis.Redis
) -> None:
    _, url = console
    with httpx.Client(base_url=url) as client:
        log_in(client, "producent@example.se")
        page = client.get("/console/rules")
        assert page.status_code == 200
        assert "<h3>mello</h3>" in page.text and "nyckelord MELLO" in page.text and "voting.vote" in page.text
        assert "adressbok" not in page.text and "+46766861004" not in page.text  # the association's
        keys_before = set(kodeord_redis.keys())
        tried = client.post(
            "/console/rules",
            data={"csrf": token_of(page), "to": "72500", "sender": "070-123 45 67", "text": "MELLO 03"},
        )
        assert tried.status_code == 200
        assert "<dd>demo-tv/mello</dd>" in tried.text and "<dd>voting.vote</dd>" in tried.text
        assert 'class="reply">Svar till +46701234567' in tried.text
        assert set(kodeord_redis.keys()) == keys_before  # a dry run: nothing stored, nothing queued


def test_trying_needs_the_token_and_the_tenants_own_number_and_says_what_is_wrong(
    console: tuple[Platform, str],
) -> None:
    _, url = console
    with httpx.Client(base_url=url) as client:
        log_in(client, "producent@example.se")
        token = token_of(client.get("/console/rules"))
        fields = {"to": "72500", "sender": "+46701234567", "text": "MELLO 03"}
        assert client.post("/console/rules", data=fields).status_code == 403
        other = client.post("/console/rules", data=fields | {"csrf": token, "to": "+46766861004"})
        assert other.status_code == 404  # the association's number: as unknown as a made-up one
        assert client.post("/console/rules", data=fields | {"csrf": token, "to": "999"}).status_code == 404
        bad = client.post("/console/rules", data=fields | {"csrf": token, "sender": "not a number"})
        assert bad.status_code == 400 and 'class="error"' in bad.text
    assert httpx.get(f"{url}/console/rules").headers["location"] == "/login?next=/console/rules"


SHARED = """\
tenant: {{id: {tenant}, name: {tenant}}}
numbers: [{{number: "72500"}}]
services:
  - id: {service}
    number: "72500"
    keyword: {keyword}
    rules:
      - {{name: answer, reply: "{tenant} svarar"}}
"""


def test_on_a_shared_short_code_only_the_tenants_own_services_are_tried(
    make_platform: Callable[..., Platform], serve: Callable[[Any], str], tmp_path: Path
) -> None:
    paths = []
    for tenant, service, keyword in (("alfa", "kampanj", "ALFA"), ("beta", "hemlig", "BETA")):
        path = tmp_path / f"{tenant}.yaml"
        path.write_text(SHARED.format(tenant=tenant, service=service, keyword=keyword), encoding="utf-8")
        paths.append(path)
    platform = make_platform(paths, environ={"KODEORD_SECRET_KEY": "test"})
    accounts.create(platform.redis, "alfa", "alfa@example.se", PASSWORD)
    with httpx.Client(base_url=serve(create_app(platform))) as client:
        log_in(client, "alfa@example.se")
        token = token_of(client.get("/console/rules"))
        fields = {"csrf": token, "to": "72500", "sender": "+46701234567"}
        own = client.post("/console/rules", data=fields | {"text": "ALFA"})
        assert "<dd>alfa/kampanj</dd>" in own.text and "alfa svarar" in own.text
        other = client.post("/console/rules", data=fields | {"text": "BETA"})
        assert other.status_code == 200 and "inte är kundens" in other.text
        assert "hemlig" not in other.text and "beta svarar" not in other.text

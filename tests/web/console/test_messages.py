"""The console's message log over real HTTP: the tenant's messages only, filters that say what is wrong, and a
message's text, route, price and history."""

from __future__ import annotations

import re
from collections.abc import Callable
from urllib.parse import quote

import httpx

from kodeord.inbound.messages import Inbound
from kodeord.platform import Platform

from .conftest import log_in


def test_a_producer_finds_a_vote_and_its_reply_and_not_the_associations_messages(
    console: tuple[Platform, str], make_inbound: Callable[..., Inbound]
) -> None:
    platform, url = console
    vote = platform.handle(make_inbound("MELLO 03", sender="+46701112233"))
    joined = platform.handle(make_inbound("START", to="+46766861004", sender="+46702223344"))
    assert vote.status == "handled" and joined.status == "handled"
    with httpx.Client(base_url=url) as client:
        log_in(client, "producent@example.se")
        page = client.get("/console/messages")
        assert page.status_code == 200
        assert "+46701112233" in page.text and "MELLO 03" in page.text
        assert "+46702223344" not in page.text  # the association's
        replies = client.get("/console/messages", params={"status": "queued"})
        assert "Tack för" in replies.text and "MELLO 03" not in replies.text
        link = re.search(r'href="(/console/messages/[^"]+)">', page.text)
        assert link is not None
        opened = client.get(link.group(1))
        assert opened.status_code == 200 and "<dt>Text</dt>" in opened.text
        reply_id = vote.replies[0]["id"]
        reply = client.get(f"/console/messages/{quote(reply_id, safe='')}")
        assert reply.status_code == 200 and "Historik" in reply.text and "köad" in reply.text
    with httpx.Client(base_url=url) as other:
        log_in(other, "sekreterare@example.se")
        assert other.get(f"/console/messages/{quote(reply_id, safe='')}").status_code == 404  # not theirs
        assert "+46702223344" in other.get("/console/messages").text


def test_a_filter_that_cannot_be_used_says_why(console: tuple[Platform, str]) -> None:
    _, url = console
    with httpx.Client(base_url=url) as client:
        log_in(client, "producent@example.se")
        bogus = client.get("/console/messages", params={"status": "lost"})
        assert bogus.status_code == 400 and "status must be one of" in bogus.text
        other = client.get("/console/messages", params={"service": "demo-forening/adressbok"})
        assert other.status_code == 404
        since = client.get("/console/messages", params={"since": "yesterday"})
        assert since.status_code == 400 and 'role="alert"' in since.text
        assert client.get("/console/messages", params={"since": "999999d"}).status_code == 200  # all of them
        cursor = client.get("/console/messages", params={"cursor": "<script>"})
        assert cursor.status_code == 400 and "<script>" not in cursor.text
    assert httpx.get(f"{url}/console/messages").headers["location"] == "/login?next=/console/messages"
    with httpx.Client(base_url=url) as client:  # the filters survive logging in
        sent = client.get("/console/messages", params={"status": "queued"}).headers["location"]
        assert sent == "/login?next=/console/messages%3Fstatus%3Dqueued"
        landed = log_in(client, "producent@example.se", after="/console/messages?status=queued")
        assert landed.headers["location"] == "/console/messages?status=queued"

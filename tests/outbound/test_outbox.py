"""The outbox's entries: each shape encodes and decodes itself, entries queued by earlier versions still read,
and a malformed one is refused with what is wrong."""

from __future__ import annotations

import json

import pytest
import redis
from hypothesis import given
from hypothesis import strategies as st

from kodeord.commit.keys import Keys
from kodeord.inbound.messages import Channel, Kind, Outbound
from kodeord.outbound import outbox
from kodeord.outbound.fanout import Fanout

SCOPE = Keys.for_service("t/s")
texts = st.text(max_size=200)
addresses = st.one_of(st.from_regex(r"\+467[0-9]{8}", fullmatch=True), st.emails())
metas = st.dictionaries(st.text(min_size=1, max_size=10), st.text(max_size=20), max_size=3)
messages = st.builds(
    Outbound,
    to=addresses,
    sender=st.sampled_from(["72500", "+46701234567"]),
    text=texts,
    channel=st.sampled_from(Channel),
    kind=st.sampled_from(Kind),
    service=st.sampled_from(["", "t/s"]),
    meta=metas,
    price=st.sampled_from(["", "5.00"]),
)


@given(st.text(min_size=1, max_size=60), messages, st.integers(1, 9))
def test_a_single_message_reads_back_as_it_was_queued(message_id: str, message: Outbound, attempt: int) -> None:
    entry = outbox.Single(message_id, message, attempt)
    assert outbox.decode(entry.encode()) == entry
    assert outbox.decode(entry.encode().encode()) == entry  # as Redis returns it


@given(messages, st.text(max_size=40), st.integers(0, 10**6), st.integers(0, 1000))
def test_a_broadcast_cursor_reads_back(message: Outbound, after: str, count: int, page: int) -> None:
    fanout = Fanout("api:1", "addressbook", {"list": "t/l"}, message, receipt=message, receipt_vars={"x": "y"})
    cursor = outbox.Cursor(fanout, after, count, page)
    assert outbox.decode(cursor.encode()) == cursor


@given(messages, st.lists(st.tuples(addresses, st.sampled_from(["sms", "email"]), metas), max_size=5))
def test_a_batch_reads_back_and_gives_each_recipient_the_message_with_its_own_id(
    message: Outbound, to: list[tuple[str, str, dict[str, str]]]
) -> None:
    batch = outbox.Batch("api:1", 3, message, to)
    assert outbox.decode(batch.encode()) == batch
    items = batch.items(SCOPE.scope)
    assert [item.id for item in items] == [f"api:1:{address}" for address, _, _ in to]
    for item, (address, channel, meta) in zip(items, to, strict=True):
        assert (item.message.to, item.message.channel.value, item.message.text) == (address, channel, message.text)
        assert item.message.meta == {**message.meta, **meta}


def test_entries_an_earlier_version_queued_still_read() -> None:
    base = {"to": "+46701234567", "from": "72500", "text": "Tack!", "channel": "sms", "kind": "reply"}
    reply = {"id": "g:1:0", **base, "service": "t/s", "encoding": "gsm", "segments": 1}
    broadcast = {**base, "to": "", "text": "Hej", "kind": "broadcast", "service": "t/l"}
    fanout = {"id": "api:1", "source": "addressbook", "params": {"list": "t/l"}, "message": broadcast}
    cursor = {"fanout": fanout, "after": "x", "count": 5, "page": 1}
    batch = {"batch": "api:1", "page": 1, "message": broadcast, "to": [["+46701234567", "sms", {"member": "m1"}]]}
    message = Outbound(to="+46701234567", sender="72500", text="Tack!", service="t/s")
    assert outbox.decode(json.dumps(reply)) == outbox.Single("g:1:0", message)
    assert outbox.decode(json.dumps({**reply, "attempt": 2})) == outbox.Single("g:1:0", message, 2)
    decoded = outbox.decode(json.dumps(cursor))
    assert isinstance(decoded, outbox.Cursor)
    assert (decoded.fanout.id, decoded.after, decoded.count, decoded.page) == ("api:1", "x", 5, 1)
    pages = outbox.decode(json.dumps(batch))
    assert isinstance(pages, outbox.Batch)
    (item,) = pages.items(SCOPE.scope)
    assert (item.id, item.message.meta, item.message.kind) == ("api:1:+46701234567", {"member": "m1"}, Kind.BROADCAST)


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        ("not json", "not JSON: Expecting value: line 1 column 1"),
        ("[1, 2]", "a JSON list, not an object"),
        ('{"to": "+46701234567"}', "no 'id' in it"),
        ('{"batch": "b", "message": {"to": "", "from": "1", "text": "x"}, "to": [["+4670", "sms"]]}', "not enough"),
        ('{"fanout": {"id": "f"}}', "no 'source' in it"),
    ],
)
def test_a_malformed_entry_is_refused_saying_what_is_wrong(raw: str, why: str) -> None:
    with pytest.raises(ValueError, match=rf"^malformed outbox entry \({why}"):
        outbox.decode(raw)


@given(st.one_of(st.text(max_size=300), st.binary(max_size=300)))
def test_whatever_a_stream_holds_decodes_or_is_refused_as_malformed(raw: str | bytes) -> None:
    try:
        outbox.decode(raw)
    except ValueError as exc:
        assert str(exc).startswith("malformed outbox entry (")


def test_a_retry_waits_on_its_next_attempt_and_moves_back_when_due(kodeord_redis: redis.Redis) -> None:
    entry = outbox.Single("g:1:0", Outbound(to="+46701234567", sender="72500", text="Tack!"))
    pipe = kodeord_redis.pipeline()
    outbox.retry(pipe, SCOPE, entry, due_ms=1)
    outbox.retry(pipe, SCOPE, outbox.Single("later", entry.message), due_ms=2**52)
    pipe.execute()
    assert outbox.move_due(kodeord_redis, SCOPE, SCOPE.outbox, limit=10) == 1
    ((_, fields),) = kodeord_redis.xrange(SCOPE.outbox)
    assert outbox.decode(fields[b"m"]) == outbox.Single("g:1:0", entry.message, 2)
    assert kodeord_redis.zcard(SCOPE.retries) == 1

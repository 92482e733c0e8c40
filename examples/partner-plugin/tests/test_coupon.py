"""The coupon plugin, tested with Kodeord's own pytest fixtures (auto-loaded)."""

from __future__ import annotations

from collections.abc import Callable

from kodeord.inbound.messages import Inbound, Outbound
from kodeord.platform import Platform

RULES = """\
tenant: {id: shop}
numbers: [{number: "72500"}]
services:
  - id: kampanj
    number: "72500"
    keyword: RABATT
    rules:
      - name: claim
        do: coupon.claim
        with: {prefix: VINTER}
        reply: "{% if again %}Du har redan en kod: {{ code }}{% else %}Din rabattkod: {{ code }}{% endif %}"
"""


def test_each_number_gets_one_stable_code(
    make_platform: Callable[..., Platform],
    make_inbound: Callable[..., Inbound],
    deliver: Callable[[Platform], list[Outbound]],
) -> None:
    platform = make_platform(RULES)
    first = platform.handle(make_inbound("rabatt", sender="+46701111111"))
    again = platform.handle(make_inbound("RABATT", sender="+46701111111"))
    other = platform.handle(make_inbound("Rabatt", sender="+46702222222"))
    code = first.replies[0]["text"].removeprefix("Din rabattkod: ")
    assert code.startswith("VINTER-") and len(code) == len("VINTER-") + 6
    assert again.replies[0]["text"] == f"Du har redan en kod: {code}"
    assert code not in other.replies[0]["text"]
    sent = deliver(platform)
    assert [m.to for m in sent] == ["+46701111111", "+46701111111", "+46702222222"]


def test_dry_run_hands_out_nothing(
    make_platform: Callable[..., Platform], make_inbound: Callable[..., Inbound]
) -> None:
    platform = make_platform(RULES)
    outcome = platform.handle(make_inbound("RABATT"), dry_run=True)
    assert outcome.replies[0]["text"].startswith("Din rabattkod: VINTER-")
    assert platform.redis.dbsize() == 0

"""A poll's lines in the console's live graph: votes per option per second (counted with each vote, see
:mod:`.vote`), each with its total from the poll's counts, so the totals beside the graph are the result."""

from __future__ import annotations

from typing import TYPE_CHECKING

from kodeord.config.model import Service
from kodeord.watch.live import LiveSeries

from . import poll as polls
from .store import _text, keys_of

if TYPE_CHECKING:
    from kodeord.platform import PluginHost


def series(platform: PluginHost, service: Service) -> list[LiveSeries] | None:
    """One line per option of ``service``'s poll; None if it is not a poll."""
    rule = polls.poll_rule(service)
    if rule is None:
        return None
    poll = polls.of(service, rule)
    raw = platform.redis.hgetall(keys_of(service.key).counts)
    counts = {_text(k): int(v) for k, v in raw.items()}  # type: ignore[union-attr]
    return [
        LiveSeries(
            f"vote:{o.code}",
            f"{o.code} {o.name}".strip(),
            counts.get(f"{o.code}:sms", 0) + counts.get(f"{o.code}:call", 0),
        )
        for o in poll.options
    ]

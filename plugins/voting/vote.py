"""``voting.vote``: one vote by SMS (the text after the keyword is the vote code) or by call.

A vote counts only inside the poll's window, for a known code, while the poll is not closed, and within
the number's caps. The "not closed" mark and the caps are guards checked inside the commit, so they hold
exactly when the same number votes over many connections at once. A vote that does not count gets the
poll's reply for why, without a price: only counted votes are charged.

A call is answered in 46elks' call-action style: the thanks recording, or, for the poll's share of calls,
a connection to the studio (falling back to the recording when the studio is busy or does not answer).
"""

from __future__ import annotations

import secrets
from typing import Any

from kodeord.commit.effects import Effects, Guard, Write
from kodeord.commit.keys import Keys
from kodeord.decide.actions import ActionCall
from kodeord.inbound.messages import Channel
from kodeord.watch import live

from . import answers, burst
from . import poll as polls
from .poll import Option, Poll
from .store import CALLERS_TTL_S, keys_of, minute_of

STUDIO_FIELD = ":studio"  # calls connected to the studio, in the counts hash (codes cannot start with ':')


class Vote:
    """One vote: decide, and describe every way the commit may go."""

    def __init__(self, call: ActionCall) -> None:
        self.call = call
        self.poll: Poll = polls.of(call.service, call.rule)
        self.keys = keys_of(call.service.key)
        self.is_call = call.inbound.channel is Channel.CALL
        self.minute = minute_of(call.now)
        code = call.args.split(maxsplit=1)[0] if call.args.strip() else ""
        self.option: Option | None = self.poll.option(code)
        self.vars: dict[str, Any] = {
            "title": self.poll.title,
            "code": self.option.code if self.option else code,
            "option": self.option.name if self.option else code,
            "opens": self.poll.opens,
            "closes": self.poll.closes,
        }

    def run(self) -> Effects:
        """The effects of the vote, with the guards that decide whether it counts."""
        effects = self._decide()
        effects.always = self._traffic()
        return effects

    def _decide(self) -> Effects:
        if self.option is None:
            return self._refused("unknown")
        state = self.poll.state(self.call.now)
        if state != "open":
            return self._refused("not_open" if state == "not-open" else "closed")
        code, sender = self.option.code, self.call.inbound.sender
        writes = [
            Write("HINCRBY", self.keys.counts, (f"{code}:{self.call.inbound.channel.value}", 1)),
            Write("HINCRBY", self.keys.minutes, (f"{self.minute}:{code}", 1)),
            *live.At(Keys.for_service(self.call.service.key), self.call.now.timestamp()).writes(
                f"vote:{code}", hourly=False
            ),
        ]
        guards = [Guard.unset("closed", self.keys.closed, self._refused("closed"))]
        if self.poll.max_votes is not None:
            guards.append(Guard.cap("capped", self.keys.voters, sender, self.poll.max_votes, self._refused("capped")))
        if self.poll.max_per_option is not None:
            guards.append(
                Guard.cap(
                    "capped_option",
                    self.keys.voter_options,
                    f"{sender}|{code}",
                    self.poll.max_per_option,
                    self._refused("capped_option"),
                )
            )
        effects = Effects(writes=writes, vars=dict(self.vars), guards=guards)
        if self.is_call:
            effects.silent = True  # the recording thanks the caller; no SMS
            effects.call = self._answer()
            if "connect" in effects.call:
                writes.append(Write("HINCRBY", self.keys.counts, (STUDIO_FIELD, 1)))
        return effects

    def _answer(self) -> dict[str, Any]:
        """Thanks, or the studio for the poll's share of calls (0-10 %)."""
        thanks = answers.recording(self.poll.thanks)
        share = round(self.poll.studio_share * 100)  # in hundredths of a percent
        if self.poll.studio and share and secrets.randbelow(10_000) < share:
            return {"connect": self.poll.studio, "busy": thanks, "failed": thanks}
        return thanks

    def _refused(self, why: str) -> Effects:
        """A vote that does not count: the poll's reply for ``why`` (free), or the recording for a caller."""
        record = self.poll.closed_recording if why in ("closed", "not_open") else None
        return answers.refusal(
            self.call, self.poll.replies[why], polls.DEFAULT_REPLIES[why], dict(self.vars), record or self.poll.thanks
        )

    def _traffic(self) -> list[Write]:
        """Writes made whether the vote counts or not: the caller for the hot button, the rates for bursts."""
        inbound = self.call.inbound
        writes: list[Write] = []
        if self.is_call:
            callers = self.keys.callers(self.minute)
            writes += [
                Write("ZADD", callers, (int(self.call.now.timestamp() * 1000), inbound.sender)),
                Write("EXPIRE", callers, (CALLERS_TTL_S,)),
            ]
        return writes + burst.writes(self.poll, inbound.sender, self.minute)

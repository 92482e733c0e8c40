"""``voting.enter``: a competition answer by SMS (the text after the keyword) or by call (MA-6).

Each number's first answer inside the window is its entry (a guard in the commit makes that exact);
later answers get the ``already`` reply and change nothing. Whether an entry is right is judged against
the competition's ``key`` when a winner is drawn (see :mod:`.draw`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from kodeord.commit.effects import Effects, Guard, Write
from kodeord.commit.keys import Keys
from kodeord.config.model import Rule, Service
from kodeord.decide.actions import ActionCall, Param
from kodeord.inbound.messages import Channel

from . import answers
from .poll import PollError, localise, moment_problem, normalise_code, reply_checker, url_problem, window_state

if TYPE_CHECKING:
    from kodeord.platform import PluginHost

ACTION = "voting.enter"
VARIABLES = frozenset({"answer", "title"})
REPLY_NAMES = ("not_open", "closed", "already", "empty")
DEFAULT_REPLIES = {
    "not_open": "Tävlingen {{ title }} har inte öppnat än. Ditt svar registrerades inte.",
    "closed": "Tävlingen {{ title }} är stängd. Ditt svar registrerades inte.",
    "already": "Du har redan svarat i {{ title }}. Bara ditt första svar gäller.",
    "empty": "Skicka ditt svar efter kodordet, t.ex. TÄVLA 1.",
}
ANSWER = re.compile(r"\S{1,40}")


def _key(value: str) -> str | None:
    return None if ANSWER.fullmatch(value.strip()) else f"the key is one answer word, got {value!r}"


PARAMS = (
    Param("title", str, doc="the competition's name in replies and reports (default: the service id)"),
    Param("key", str, doc="the right answer; entries with another answer are not drawn", validate=_key),
    Param("opens", object, doc="when answers start to count", validate=moment_problem),
    Param("closes", object, doc="when answers stop counting", validate=moment_problem),
    Param(
        "replies",
        dict,
        doc="texts for not_open, closed, already and empty",
        validate=reply_checker(REPLY_NAMES, VARIABLES),
    ),
    Param("thanks", str, doc="URL of the recording played to callers", validate=url_problem),
)


@dataclass(frozen=True)
class Competition:
    """A checked competition."""

    service: str  # tenant/service: its id
    title: str
    key: str | None
    opens: datetime | None
    closes: datetime | None
    replies: Mapping[str, str]
    thanks: str | None

    def correct(self, answer: str) -> bool:
        """Whether ``answer`` is the key (every answer is, when there is no key)."""
        return self.key is None or normalise_code(answer) == normalise_code(self.key)

    def state(self, now: datetime) -> str:
        """``not-open``, ``open`` or ``closed``."""
        return window_state(self.opens, self.closes, now)


def build(service: Service, params: Mapping[str, Any]) -> Competition:
    """The competition of ``service`` from its rule's checked parameters."""
    return Competition(
        service=service.key,
        title=params.get("title") or service.id,
        key=params["key"].strip() if params.get("key") else None,
        opens=localise(params.get("opens"), service.timezone),
        closes=localise(params.get("closes"), service.timezone),
        replies=DEFAULT_REPLIES | dict(params.get("replies") or {}),
        thanks=params.get("thanks"),
    )


def check_rule(rule: Rule, service: Service) -> list[str]:
    """One competition per service; times in order; callers need a recording."""
    first = next(r for r in service.rules if r.action == ACTION)
    if first.name != rule.name:
        return [f"service {service.id!r} has two voting.enter rules; a service holds one competition"]
    competition = build(service, rule.params)
    problems = []
    if competition.opens and competition.closes and competition.closes <= competition.opens:
        problems.append("the competition's closes must be later than opens")
    if service.calls and not competition.thanks:
        problems.append("a competition with calls: needs thanks: (the recording callers hear)")
    return problems


@dataclass(frozen=True)
class CompetitionKeys:
    """Key names of one competition: ``entries`` (number -> "<ms> <answer>") and ``entered`` (the guard),
    ``draws`` (stream of draw records), ``winners`` (set), ``draw:<n>`` (the entry list a draw was made from).
    """

    service: str

    def key(self, *parts: str) -> str:
        """A key of this competition."""
        return Keys.for_service(self.service).plugin("competition").key_for(*parts)


def find(platform: PluginHost, tenant: str, competition_id: str) -> Competition:
    """The tenant's competition ``competition_id``; 404 if none."""
    service = platform.service(f"{tenant}/{competition_id}")
    rule = next((r for r in service.rules if r.action == ACTION), None) if service is not None else None
    if service is None or rule is None:
        raise PollError(f"no competition {competition_id!r} for tenant {tenant!r}", 404)
    return build(service, rule.params)


def enter(call: ActionCall) -> Effects:
    """Register one answer."""
    competition = build(call.service, call.rule.params)
    keys = CompetitionKeys(call.service.key)
    answer = call.args.split(maxsplit=1)[0][:40] if call.args.strip() else ""  # one word, as the key is
    variables = {"title": competition.title, "answer": answer}
    state = competition.state(call.now)
    if not answer or state != "open":
        return _reply(call, competition, "empty" if not answer else state.replace("-", "_"), variables)
    sender = call.inbound.sender
    entry = f"{int(call.now.timestamp() * 1000)} {answer}"
    effects = Effects(
        writes=[Write("HSET", keys.key("entries"), (sender, entry))],
        vars=variables,
        guards=[Guard.cap("already", keys.key("entered"), sender, 1, _reply(call, competition, "already", variables))],
    )
    if call.inbound.channel is Channel.CALL:
        effects.silent = True
        effects.call = answers.recording(competition.thanks)
    return effects


def _reply(call: ActionCall, competition: Competition, why: str, variables: dict[str, Any]) -> Effects:
    return answers.refusal(call, competition.replies[why], DEFAULT_REPLIES[why], variables, competition.thanks)

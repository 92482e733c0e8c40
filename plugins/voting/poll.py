"""A poll's definition: the ``with:`` of its ``voting.vote`` rule, checked at load and read once per rule.

Options have a vote code (``01``, ``A``) and a name. Codes of digits match with or without leading zeros
(``MELLO 3`` is ``MELLO 03``); other codes match case- and accent-insensitively. Times without a zone are
in the tenant's time zone.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from kodeord.config.keywords import fold
from kodeord.config.model import Rule, Service
from kodeord.decide import templating
from kodeord.decide.actions import Param
from kodeord.inbound import phone
from kodeord.support.errors import KodeordError, RequestError, TemplateError

ACTION = "voting.vote"
CODE = re.compile(r"[A-Za-z0-9ÅÄÖÆØåäöæø]{1,12}")
URL = re.compile(r"https?://\S+")
MAX_OPTIONS = 200

# Variables the poll's replies may use (the rule's own reply may use them too).
VARIABLES = frozenset({"option", "code", "title", "opens", "closes"})
REPLY_NAMES = ("not_open", "closed", "capped", "capped_option", "unknown")
DEFAULT_REPLIES = {
    "not_open": "Röstningen i {{ title }} har inte öppnat än. Din röst räknades inte och kostade inget.",
    "closed": "Röstningen i {{ title }} är stängd. Din röst räknades inte och kostade inget.",
    "capped": "Du har redan röstat så många gånger som är tillåtet i {{ title }}. Rösten räknades inte.",
    "capped_option": "Du har redan röstat på {{ option }} så många gånger som är tillåtet. Rösten räknades inte.",
    "unknown": "Okänd röstkod {{ code }} i {{ title }}. Rösten räknades inte.",
}


class PollError(RequestError):
    """A poll that does not exist or an operation it does not allow; ``http_status`` says which."""


def normalise_code(raw: str) -> str:
    """The form codes are compared in: digits without leading zeros, other codes folded."""
    raw = raw.strip()
    return (raw.lstrip("0") or "0") if raw.isascii() and raw.isdigit() else fold(raw)


def moment_problem(value: Any) -> str | None:
    if isinstance(value, datetime):
        return None
    if isinstance(value, str):
        try:
            datetime.fromisoformat(value)
            return None
        except ValueError:
            pass
    return f"expected a date and time such as 2027-02-01T20:00, got {value!r}"


def _options(value: list[Any]) -> str | None:
    if not value:
        return "a poll needs at least one option"
    if len(value) > MAX_OPTIONS:
        return f"a poll has at most {MAX_OPTIONS} options, got {len(value)}"
    seen: set[str] = set()
    for n, item in enumerate(value, 1):
        if not isinstance(item, Mapping) or set(item) - {"code", "name"} or "code" not in item:
            return f"option {n} must be a mapping with code and name, e.g. {{code: '01', name: Artist}}"
        code = str(item["code"])
        if not CODE.fullmatch(code):
            return f"option {n}: code {code!r} must be 1-12 letters or digits"
        if normalise_code(code) in seen:
            return f"option {n}: code {code!r} is used twice"
        seen.add(normalise_code(code))
        if "name" in item and not isinstance(item["name"], str):
            return f"option {n}: name must be a text"
    return None


def _positive(value: int) -> str | None:
    return None if value >= 1 else f"must be at least 1, got {value}"


def _share(value: float) -> str | None:
    return None if 0 <= value <= 10 else f"the share of calls sent to the studio is 0 to 10 (percent), got {value:g}"


def url_problem(value: str) -> str | None:
    return None if URL.fullmatch(value) else f"expected the recording's http(s) URL, got {value!r}"


def _number(value: str) -> str | None:
    try:
        phone.parse_address(value, ("SE", "NO"))
    except KodeordError as exc:
        return str(exc)
    return None


def reply_checker(names: tuple[str, ...], variables: frozenset[str]) -> Callable[[dict[str, Any]], str | None]:
    """A check of ``replies:``: known names only, each a template using the base variables and ``variables``."""

    def check(value: dict[str, Any]) -> str | None:
        for name, text in value.items():
            if name not in names:
                return f"unknown reply {name!r}; the replies are {', '.join(names)}"
            if not isinstance(text, str):
                return f"reply {name!r} must be a text"
            try:
                templating.check(text, templating.BASE_VARIABLES | variables)
            except TemplateError as exc:
                return f"reply {name!r}: {exc}"
        return None

    return check


def _prefix(value: int) -> str | None:
    return None if 4 <= value <= 14 else f"a prefix is 4 to 14 digits, got {value}"


PARAMS = (
    Param("title", str, doc="the poll's name in replies and results (default: the service id)"),
    Param("options", list, required=True, doc="each with a code (the vote code) and a name", validate=_options),
    Param("opens", object, doc="when votes start to count (default: always open)", validate=moment_problem),
    Param("closes", object, doc="when votes stop counting; the result is frozen from then", validate=moment_problem),
    Param("max_votes", int, doc="most votes counted per number in the poll", validate=_positive),
    Param("max_per_option", int, doc="most votes counted per number for one option", validate=_positive),
    Param(
        "replies",
        dict,
        doc="texts for not_open, closed, capped, capped_option and unknown",
        validate=reply_checker(REPLY_NAMES, VARIABLES),
    ),
    Param("thanks", str, doc="URL of the recording played to callers", validate=url_problem),
    Param(
        "closed_recording",
        str,
        doc="URL played to callers outside the voting window (default: thanks)",
        validate=url_problem,
    ),
    Param(
        "studio", str, doc="the studio's number: calls connected there by share or by the hot button", validate=_number
    ),
    Param("studio_share", float, default=0, doc="percent of calls (0-10) connected to the studio", validate=_share),
    Param("voice_gateway", str, doc="the gateway that places hot-button calls (default: the only one that can)"),
    Param(
        "caller_id",
        str,
        doc="which of the poll's voice numbers hot-button calls come from (default: the first)",
        validate=_number,
    ),
    Param(
        "burst_per_number",
        int,
        default=30,
        doc="an alert when one number votes more than this a minute",
        validate=_positive,
    ),
    Param(
        "burst_per_prefix",
        int,
        default=1000,
        doc="an alert when one prefix votes more than this a minute",
        validate=_positive,
    ),
    Param(
        "burst_prefix",
        int,
        default=8,
        doc="digits of the number (country code first) that make a prefix",
        validate=_prefix,
    ),
)


@dataclass(frozen=True)
class Option:
    """One answer a voter can pick."""

    code: str  # as written in the rule file
    name: str


@dataclass(frozen=True)
class Poll:
    """A checked poll, ready for voting."""

    service: str  # tenant/service: the poll's id
    title: str
    options: tuple[Option, ...]
    by_code: Mapping[str, Option]
    opens: datetime | None
    closes: datetime | None
    max_votes: int | None
    max_per_option: int | None
    replies: Mapping[str, str]
    thanks: str | None
    closed_recording: str | None
    studio: str | None
    studio_share: float
    voice_gateway: str | None
    caller_id: str | None
    burst_per_number: int
    burst_per_prefix: int
    burst_prefix: int

    def option(self, raw_code: str) -> Option | None:
        """The option a vote code names, if any."""
        return self.by_code.get(normalise_code(raw_code)) if raw_code.strip() else None

    def state(self, now: datetime) -> str:
        """``not-open``, ``open`` or ``closed`` by the clock (an early close by hand is kept in Redis)."""
        return window_state(self.opens, self.closes, now)


def window_state(opens: datetime | None, closes: datetime | None, now: datetime) -> str:
    """``not-open`` before ``opens``, ``closed`` from ``closes`` on, else ``open``."""
    if opens is not None and now < opens:
        return "not-open"
    if closes is not None and now >= closes:
        return "closed"
    return "open"


def localise(value: Any, zone: str) -> datetime | None:
    if value is None:
        return None
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=ZoneInfo(zone))


def build(service: Service, params: Mapping[str, Any]) -> Poll:
    """The poll of ``service`` from its rule's checked parameters."""
    options = tuple(Option(str(o["code"]), str(o.get("name") or o["code"])) for o in params["options"])
    return Poll(
        service=service.key,
        title=params.get("title") or service.id,
        options=options,
        by_code={normalise_code(o.code): o for o in options},
        opens=localise(params.get("opens"), service.timezone),
        closes=localise(params.get("closes"), service.timezone),
        max_votes=params.get("max_votes"),
        max_per_option=params.get("max_per_option"),
        replies=DEFAULT_REPLIES | dict(params.get("replies") or {}),
        thanks=params.get("thanks"),
        closed_recording=params.get("closed_recording"),
        studio=phone.parse_address(params["studio"], ("SE", "NO")) if params.get("studio") else None,
        studio_share=float(params.get("studio_share") or 0),
        voice_gateway=params.get("voice_gateway"),
        caller_id=phone.parse_address(params["caller_id"], ("SE", "NO")) if params.get("caller_id") else None,
        burst_per_number=int(params.get("burst_per_number") or 30),
        burst_per_prefix=int(params.get("burst_per_prefix") or 1000),
        burst_prefix=int(params.get("burst_prefix") or 8),
    )


_polls: dict[int, tuple[Mapping[str, Any], Poll]] = {}


def of(service: Service, rule: Rule) -> Poll:
    """The poll of a ``voting.vote`` rule, built once per loaded rule."""
    cached = _polls.get(id(rule.params))
    if cached is not None and cached[0] is rule.params and cached[1].service == service.key:
        return cached[1]
    if len(_polls) > 10_000:  # rule files reloaded many times: start over
        _polls.clear()
    poll = build(service, rule.params)
    _polls[id(rule.params)] = (rule.params, poll)
    return poll


def poll_rule(service: Service) -> Rule | None:
    """The ``voting.vote`` rule of ``service``, if it is a poll."""
    return next((rule for rule in service.rules if rule.action == ACTION), None)


def check_rule(rule: Rule, service: Service) -> list[str]:
    """One poll per service; times in order; studio settings complete; every ``calls:`` code an option."""
    problems: list[str] = []
    first = poll_rule(service)
    if first is not None and first.name != rule.name:
        problems.append(f"service {service.id!r} has two voting.vote rules; a service holds one poll")
        return problems
    poll = build(service, rule.params)
    if poll.opens and poll.closes and poll.closes <= poll.opens:
        problems.append("the poll's closes must be later than opens")
    if poll.caller_id and poll.caller_id not in service.calls:
        problems.append(f"caller_id {poll.caller_id} is not one of this service's calls: numbers")
    if poll.studio_share and not poll.studio:
        problems.append("studio_share needs a studio number")
    if service.calls and not poll.thanks:
        problems.append("a poll with calls: needs thanks: (the recording callers hear)")
    for number, words in service.calls.items():
        if poll.option(words) is None:
            problems.append(f"calls: {number} stands for {words!r}, which is no option's code")
    return problems

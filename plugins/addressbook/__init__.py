"""Opt-in address books on a virtual number (AB-1 to AB-10).

People join by sending START and leave with STOPP; administrators add members by hand (mobile numbers and
email addresses) and approve joiners where the list asks for it; writers broadcast to every member by
texting the number; everything else goes to the list's functionaries. Consent is recorded for every join,
leave, approval and manual add. The console's toolbox (``/console/lists``) does the administrators' and the
writers' part on the web, and the report ``addressbook.members`` counts joins, leaves and members per day.
See docs/addressbook.md.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING

from kodeord.decide.actions import ActionSpec, Param, Veto
from kodeord.hookspecs import hookimpl
from kodeord.inbound.messages import Outbound
from kodeord.outbound.fanout import FanoutSource

from . import broadcast, store
from .admin import ACTION
from .inbox import Inbox
from .options import CHECKS

if TYPE_CHECKING:
    import click
    import redis
    from starlette.routing import BaseRoute

    from kodeord.config.model import Service
    from kodeord.config.settings import Setting
    from kodeord.web.console.sections import ConsoleSection
    from kodeord.web.reports import Report

PARAMS = (
    Param("name", str, doc="the list's name in replies (default: the service id)", validate=CHECKS["name"]),
    Param(
        "approval",
        str,
        doc="auto: joiners become members at once; manual: an administrator approves them",
        validate=CHECKS["approval"],
    ),
    Param(
        "senders",
        str,
        doc="writers: only named writers broadcast; members: every member may",
        validate=CHECKS["senders"],
    ),
    Param("language", str, doc="sv, no or en: the default replies' language", validate=CHECKS["language"]),
    Param("join_words", list, doc="words that join (default START)", validate=CHECKS["join_words"]),
    Param("leave_words", list, doc="words that unsubscribe (default STOPP, STOP)", validate=CHECKS["leave_words"]),
    Param("footer", str, doc="a line added to every broadcast SMS", validate=CHECKS["footer"]),
    Param("replies", dict, doc="texts by name, replacing the defaults", validate=CHECKS["replies"]),
    Param(
        "admins",
        list,
        doc="email addresses of the console accounts that administer the list in the console",
        validate=CHECKS["admins"],
    ),
    Param(
        "mail_writers",
        str,
        doc="how a writer's mail is known to be theirs: confirm (they reply to a question), dkim (a DKIM "
        "signature aligned with From) or both",
        validate=CHECKS["mail_writers"],
    ),
    Param(
        "sms_segments",
        int,
        doc="SMS parts a mailed broadcast is cut to (1-10, default 3)",
        validate=CHECKS["sms_segments"],
    ),
    Param(
        "marketing",
        bool,
        doc="members join to get marketing (offers): a marketing broadcast may go to them (ERB, Swedish law)",
        validate=CHECKS["marketing"],
    ),
)


@hookimpl
def kodeord_register_actions(register: Callable[[ActionSpec], None]) -> None:
    """``addressbook.inbox``: the list behind a number."""
    register(
        ActionSpec(
            ACTION,
            "An opt-in list: START joins, STOPP leaves, writers broadcast",
            PARAMS,
            takes_reserved=True,
            run=lambda call: Inbox(call).run(),
        )
    )


def _is_list(service: Service) -> bool:
    return any(rule.action == ACTION for rule in service.rules)


@hookimpl
def kodeord_sender_role(service: Service, sender: str, redis: redis.Redis) -> str | None:
    """writer, functionary, member or stranger on a list; None for other services."""
    if not _is_list(service):
        return None
    standing, _ = store.standing(redis, store.ListKeys(service.key), sender)
    if standing.writer:
        return "writer"
    if standing.functionary:
        return "functionary"
    return "member" if standing.state == "members" else "stranger"


@hookimpl
def kodeord_vet_outgoing_batch(messages: Sequence[Outbound], redis: redis.Redis) -> Mapping[int, Veto] | None:
    """A broadcast message to someone who left the list in the meantime is not sent."""
    return broadcast.vet(messages, redis)


@hookimpl
def kodeord_register_settings(register: Callable[[Setting], None]) -> None:
    """The lists' mail domain, and the limits of kodeord mail."""
    from .mailaddress import SETTINGS

    for setting in SETTINGS:
        register(setting)


@hookimpl
def kodeord_marketing_consent(messages: Sequence[Outbound], redis: redis.Redis) -> Mapping[int, bool] | None:
    """A list's marketing message has consent when its member is on the list with consent records."""
    return broadcast.consent(messages, redis)


@hookimpl
def kodeord_register_fanout_sources(register: Callable[[FanoutSource], None]) -> None:
    """A list's members, page by page, for its broadcasts."""
    register(FanoutSource(store.PLUGIN, broadcast.page))


@hookimpl
def kodeord_register_routes(register: Callable[[BaseRoute], None]) -> None:
    """The JSON API under /api/addressbook/ and the re-join and leave pages under /addressbook/."""
    from . import api, pages

    for route in (*api.routes(), *pages.routes()):
        register(route)


@hookimpl
def kodeord_register_console_sections(register: Callable[[ConsoleSection], None]) -> None:
    """``/console/lists``: the lists' toolbox, shown to tenants that have lists."""
    from kodeord.web.console.i18n import N_
    from kodeord.web.console.sections import ConsoleSection

    from . import console

    register(ConsoleSection("lists", N_("Adressböcker"), console.routes(), package=__package__, shown=console.shown))


@hookimpl
def kodeord_register_reports(register: Callable[[Report], None]) -> None:
    """``addressbook.members``: joins, leaves and members per list and day."""
    from .report import REPORT

    register(REPORT)


@hookimpl
def kodeord_register_commands(cli: click.Group) -> None:
    """``kodeord lists ...`` and ``kodeord mail``."""
    from .cli import lists, mail

    cli.add_command(lists)
    cli.add_command(mail)

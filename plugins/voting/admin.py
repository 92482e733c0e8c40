"""Finding a tenant's polls and competitions in the loaded rule files (for the API, the CLI and the console).

Only the tenant's own services are looked at, so an id can never reach another customer's poll.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kodeord.config.model import Rule, Service

from . import competition
from . import poll as polls
from .poll import Poll, PollError

if TYPE_CHECKING:
    from kodeord.platform import PluginHost


def services(platform: PluginHost, tenant: str, action: str) -> dict[str, tuple[Service, Rule]]:
    """The tenant's services with a rule naming ``action``, by service id, with that rule."""
    return {service.id: (service, rules[0]) for service, rules in platform.services(tenant, action)}


def all_polls(platform: PluginHost, tenant: str) -> dict[str, Poll]:
    """Every poll of ``tenant`` by id (the service id)."""
    return {sid: polls.of(service, rule) for sid, (service, rule) in services(platform, tenant, polls.ACTION).items()}


def find_poll(platform: PluginHost, tenant: str, poll_id: str) -> Poll:
    """The tenant's poll ``poll_id``; 404 if it has none by that id."""
    found = all_polls(platform, tenant).get(poll_id)
    if found is None:
        raise PollError(f"no poll {poll_id!r} for tenant {tenant!r}", 404)
    return found


def has_polls(platform: PluginHost, tenant: str) -> bool:
    """Whether ``tenant`` has a poll."""
    return bool(platform.services(tenant, polls.ACTION))


def has_competitions(platform: PluginHost, tenant: str) -> bool:
    """Whether ``tenant`` has a competition."""
    return bool(platform.services(tenant, competition.ACTION))


def has_voting(platform: PluginHost, tenant: str) -> bool:
    """Whether ``tenant`` has a poll or a competition (the console's section and reports are for them)."""
    return has_polls(platform, tenant) or has_competitions(platform, tenant)

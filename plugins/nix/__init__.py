"""The Swedish do-not-call register, NIX-Telefon (NIX-1 to NIX-9).

Single-number checks, washing of a customer's call lists (removed or marked),
a history of every check with the register version used, and a veto that keeps
telemarketing away from registered numbers. The register itself (versions imported
whole and switched to atomically, exact checks, areas) is :mod:`.register`; ``kodeord
nix ...`` and ``/api/nix/`` are its front ends. See docs/nix.md.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING

from kodeord.hookspecs import hookimpl

if TYPE_CHECKING:
    import click
    from starlette.routing import BaseRoute

    from kodeord.config.settings import Setting
    from kodeord.decide.actions import Veto
    from kodeord.inbound.messages import Outbound
    from kodeord.platform import PluginHost
    from kodeord.web.console.sections import ConsoleSection
    from kodeord.web.reports import Report


@hookimpl
def kodeord_register_settings(register: Callable[[Setting], None]) -> None:
    """The registers, how many versions are kept, and when a version is too old."""
    from .spec import SETTINGS

    for setting in SETTINGS:
        register(setting)


@hookimpl
def kodeord_housekeeping(platform: PluginHost) -> None:
    """An alert when a register's newest version is too old."""
    from . import freshness

    freshness.check(platform)


@hookimpl
def kodeord_register_commands(cli: click.Group) -> None:
    """``kodeord nix ...``."""
    from .cli import nix

    cli.add_command(nix)


@hookimpl
def kodeord_register_routes(register: Callable[[BaseRoute], None]) -> None:
    """The JSON API under /api/nix/, the dialer's ``POST /api/nix/dial`` among it."""
    from . import api, dialer

    for route in (*api.routes(), *dialer.routes()):
        register(route)


@hookimpl
def kodeord_vet_outgoing_batch(messages: Sequence[Outbound], host: PluginHost) -> Mapping[int, Veto] | None:
    """A telemarketing service's message to a number the do-not-call register does not clear is not sent."""
    from . import veto

    return veto.vet(messages, host)


@hookimpl
def kodeord_register_reports(register: Callable[[Report], None]) -> None:
    """``nix.history`` (the proof of every check and wash) and ``nix.usage`` (checked numbers per month)."""
    from .reports import HISTORY, USAGE

    register(HISTORY)
    register(USAGE)


@hookimpl
def kodeord_register_console_sections(register: Callable[[ConsoleSection], None]) -> None:
    """NIX-Telefon at /console/nix: wash a list, check a number."""
    from kodeord.web.console.i18n import N_
    from kodeord.web.console.sections import ConsoleSection

    from . import console

    register(ConsoleSection("nix", N_("NIX-Telefon"), console.routes(), package=__package__))

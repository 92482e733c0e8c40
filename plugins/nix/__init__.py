"""The Swedish do-not-call register, NIX-Telefon (NIX-1 to NIX-9).

Single-number checks, washing of a customer's call lists (removed or marked),
a history of every check with the register version used, and a veto that keeps
telemarketing away from registered numbers. The register itself (versions imported
whole and switched to atomically, exact checks, areas) is :mod:`.register`; ``kodeord
nix ...`` and ``/api/nix/`` are its front ends. See docs/nix.md.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from kodeord.hookspecs import hookimpl

if TYPE_CHECKING:
    import click
    from starlette.routing import BaseRoute

    from kodeord.config.settings import Setting
    from kodeord.platform import PluginHost


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
    """The JSON API under /api/nix/."""
    from . import api

    for route in api.routes():
        register(route)

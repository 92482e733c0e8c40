"""What commands share: a platform opened from the environment's settings (its errors ending the command), a
tenant and id from ``TENANT/ID``, and tables."""

from __future__ import annotations

import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING

import click

from kodeord.config.settings import Settings
from kodeord.support.errors import KodeordError

if TYPE_CHECKING:
    from kodeord.platform import PluginHost


@contextmanager
def platform() -> Iterator[PluginHost]:
    """A platform from the environment's settings (``KODEORD_*``); a ``KodeordError`` raised opening it or in
    the ``with`` block ends the command with ``error: ...`` and exit status 1."""
    from kodeord.platform import Platform

    try:
        with Platform(Settings()) as opened:
            yield opened
    except KodeordError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)


def tenant_and_id(name: str, wrong: str, id_required: bool = True) -> tuple[str, str]:
    """The tenant and the id of ``TENANT/ID``; otherwise ``error: <wrong>, not 'NAME'`` ends the command with
    exit status 2 (``wrong`` says how to name it, e.g. "name a list as TENANT/LIST")."""
    tenant, slash, item = name.partition("/")
    if not slash or not tenant or (id_required and not item):
        click.echo(f"error: {wrong}, not {name!r}", err=True)
        sys.exit(2)
    return tenant, item


def echo_table(rows: Sequence[Sequence[str]]) -> None:
    """Print ``rows`` (the first is the header) as columns as wide as their widest cell."""
    widths = [max(len(cell) for cell in column) for column in zip(*rows, strict=True)]
    for row in rows:
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())

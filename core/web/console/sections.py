"""Console sections: pages a plugin adds to the console, with their own templates, texts and menu entry.

A plugin registers one through ``kodeord_register_console_sections``::

    register(ConsoleSection("voting", N_("Omröstningar"), routes, package=__package__, shown=has_polls))

Its routes are served under ``/console/<name>``; its templates, in ``<package>/templates/``, are named
``<name>/<file>`` (and extend ``base.html``); its English is ``<package>/locale/en.po``. The menu shows the
section to a tenant for whom ``shown(host, tenant)`` is true. A section's handlers use :func:`signed_in`,
:func:`kodeord.web.console.pages.page`, :func:`~kodeord.web.console.pages.form` and
:func:`~kodeord.web.console.pages.csrf_refused`, and look up only the session's tenant's data.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from starlette.routing import BaseRoute

if TYPE_CHECKING:
    from kodeord.platform import PluginHost


def _everyone(host: PluginHost, tenant: str) -> bool:
    return True


@dataclass(frozen=True)
class ConsoleSection:
    """Pages of one plugin: ``name`` (the path ``/console/<name>`` and the templates' folder), ``title`` (the
    menu's text, Swedish, marked with ``N_``), ``routes`` (relative to ``/console/<name>``; the menu links to
    ``/console/<name>``), ``package`` (where ``templates/`` and ``locale/`` are), ``shown``: whether a tenant
    sees it in the menu (its pages still check the tenant's data themselves)."""

    name: str
    title: str
    routes: Sequence[BaseRoute] = field(default_factory=list)
    package: str = ""
    shown: Callable[[PluginHost, str], bool] = _everyone

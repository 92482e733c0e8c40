"""A plugin's check of a whole service when rule files load (the ``kodeord_check_service`` hook).

A check sees the service with its tenant, its number and everything else the files declare, and reports what is
wrong at a place in the file: :meth:`ServiceCheck.problem` with a path inside the service's declaration
(``"marketing", 0, "text"``), :meth:`ServiceCheck.tenant_problem` with one inside the tenant's declaration in the
same file (``"company", "customer_service"``). A path that goes further than the file does (a key left out) is
reported at the last place that exists, so a missing key is shown where it belongs. Problems are printed by
``kodeord rules check`` as ``FILE:LINE:COL: message (at path)`` and make a reload keep the rules it had.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from kodeord.config.model import Config, OwnNumber, Service, Tenant
from kodeord.config.schema import Loc, Obj
from kodeord.support.errors import Problem

if TYPE_CHECKING:
    from kodeord.decide.actions import ActionSpec

Step = str | int  # a key of a mapping or the index of a list item


@dataclass
class ServiceCheck:
    """One service to check: ``service``, its ``tenant`` and ``number``, the whole ``config`` loaded with it, and
    the ``actions`` plugins declare (to know what a rule's action is); ``problems`` collects what is reported."""

    service: Service
    tenant: Tenant
    number: OwnNumber
    config: Config
    actions: Mapping[str, ActionSpec]
    service_obj: Obj
    tenant_obj: Obj
    problems: list[Problem] = field(default_factory=list)

    def problem(self, message: str, *path: Step) -> None:
        """Report ``message`` at ``path`` inside the service's declaration (none: the service itself)."""
        self._report(self.service_obj, message, path)

    def tenant_problem(self, message: str, *path: Step) -> None:
        """Report ``message`` at ``path`` inside the tenant's declaration in the service's file."""
        self._report(self.tenant_obj, message, path)

    def problem_at(self, loc: Loc, message: str) -> None:
        """Report ``message`` at ``loc`` (a number's declaration, ``check.number.loc``)."""
        self.problems.append(Problem(loc.file, loc.line, loc.column, message))

    def _report(self, obj: Obj, message: str, path: tuple[Step, ...]) -> None:
        loc, where = locate(obj, path)
        self.problems.append(Problem(loc.file, loc.line, loc.column, message, where))


def locate(obj: Obj, path: tuple[Step, ...]) -> tuple[Loc, str]:
    """Where ``path`` is inside ``obj``, and its key path; as far as the file goes."""
    node: Any = obj
    loc, where = obj.loc, obj.path
    for step in path:
        if isinstance(node, Obj) and isinstance(step, str):
            loc, where = node.where(step)
            node = node.values.get(step)
        elif isinstance(node, list) and isinstance(step, int) and 0 <= step < len(node):
            node = node[step]
            where = f"{where}[{step}]"
            if isinstance(node, Obj):
                loc, where = node.loc, node.path or where
        else:
            break
    return loc, where

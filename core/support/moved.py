"""Modules that moved when the core was laid out by stage: importing an old name still works, with a warning
that names the new one (``kodeord.effects`` is now ``kodeord.commit.effects``)."""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
import warnings
from types import CodeType, ModuleType
from typing import Any

MOVED = {
    "kodeord.cli_gateways": "kodeord.cli.gateways",
    "kodeord.cli_messages": "kodeord.cli.messages",
    "kodeord.webhooks": "kodeord.inbound.webhooks",
    "kodeord.messages": "kodeord.inbound.messages",
    "kodeord.phone": "kodeord.inbound.phone",
    "kodeord.encoding": "kodeord.inbound.encoding",
    "kodeord.signing": "kodeord.inbound.signing",
    "kodeord.settings": "kodeord.config.settings",
    "kodeord.yamlfile": "kodeord.config.yamlfile",
    "kodeord.schema": "kodeord.config.schema",
    "kodeord.ruleschema": "kodeord.config.ruleschema",
    "kodeord.rulefile": "kodeord.config.rulefile",
    "kodeord.model": "kodeord.config.model",
    "kodeord.catalog": "kodeord.config.catalog",
    "kodeord.keywords": "kodeord.config.keywords",
    "kodeord.router": "kodeord.decide.router",
    "kodeord.lanes": "kodeord.decide.lanes",
    "kodeord.engine": "kodeord.decide.engine",
    "kodeord.actions": "kodeord.decide.actions",
    "kodeord.builtins": "kodeord.decide.builtins",
    "kodeord.templating": "kodeord.decide.templating",
    "kodeord.sandbox": "kodeord.decide.sandbox",
    "kodeord.budget": "kodeord.decide.budget",
    "kodeord.effects": "kodeord.commit.effects",
    "kodeord.keys": "kodeord.commit.keys",
    "kodeord.records": "kodeord.commit.records",
    "kodeord.handover": "kodeord.commit.handover",
    "kodeord.fanout": "kodeord.outbound.fanout",
    "kodeord.sender": "kodeord.outbound.sender",
    "kodeord.jobs": "kodeord.outbound.jobs",
    "kodeord.liveness": "kodeord.outbound.liveness",
    "kodeord.gateway": "kodeord.outbound.gateway",
    "kodeord.gatewayconfig": "kodeord.outbound.gatewayconfig",
    "kodeord.gatewaycheck": "kodeord.outbound.gatewaycheck",
    "kodeord.routing": "kodeord.outbound.operators",
    "kodeord.httppool": "kodeord.outbound.httppool",
    "kodeord.ratelimit": "kodeord.outbound.ratelimit",
    "kodeord.mailer": "kodeord.outbound.mailer",
    "kodeord.status": "kodeord.outbound.status",
    "kodeord.alerts": "kodeord.watch.alerts",
    "kodeord.metrics": "kodeord.watch.metrics",
    "kodeord.gauges": "kodeord.watch.gauges",
    "kodeord.messagelog": "kodeord.watch.messagelog",
    "kodeord.apikeys": "kodeord.web.apikeys",
    "kodeord.links": "kodeord.web.links",
    "kodeord.progress": "kodeord.cli.progress",
    "kodeord.errors": "kodeord.support.errors",
    "kodeord.redis_server": "kodeord.support.redis_server",
    "kodeord.httpclient": "kodeord.support.httpclient",
    "kodeord.manager": "kodeord.support.manager",
    "kodeord.csvfile": "kodeord.support.csvfile",
    "kodeord.fakekannel": "kodeord.testing.fakekannel",
}


class _Alias(importlib.abc.Loader):
    def __init__(self, old: str, new: str) -> None:
        self.old, self.new = old, new

    def _warn(self) -> None:
        warnings.warn(
            f"{self.old} moved to {self.new}: import it from there (or the names kodeord exports from kodeord)",
            DeprecationWarning,
            stacklevel=2,
        )

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        self._warn()
        module = importlib.import_module(self.new)
        self._spec = module.__spec__
        return module

    def exec_module(self, module: ModuleType) -> None:
        """Nothing to run, the new module has run; give it back its own spec, which the import system has just
        set to the old name's."""
        module.__spec__ = self._spec

    def get_code(self, fullname: str) -> CodeType | None:
        """The new module's code, for ``python -m`` with the old name."""
        self._warn()
        found = importlib.util.find_spec(self.new)
        loader = None if found is None else found.loader
        return loader.get_code(self.new) if isinstance(loader, importlib.abc.InspectLoader) else None


class MovedFinder(importlib.abc.MetaPathFinder):
    """Finds an old module name and gives the module it moved to."""

    def find_spec(self, name: str, path: object = None, target: object = None) -> importlib.machinery.ModuleSpec | None:
        new = MOVED.get(name)
        if new is None:
            return None
        found = importlib.util.find_spec(new)  # its file, for python -m with the old name
        return importlib.machinery.ModuleSpec(name, _Alias(name, new), origin=found.origin if found else None)


RENAMED = {  # names a module offered before: (module, old name) -> where it is now
    ("kodeord.config.catalog", "Route"): "kodeord.config.catalog.Destination",
    ("kodeord.outbound.operators", "Choice"): "kodeord.outbound.operators.ChosenRoute",
    ("kodeord.config.model", "Number"): "kodeord.config.model.OwnNumber",
    # the module kodeord.commit became a package; what it held is in kodeord.commit.committer
    **{("kodeord.commit", n): f"kodeord.commit.committer.{n}" for n in ("Committer", "Branch", "Earlier")},
}


def renamed(module: str, name: str) -> Any:
    """What ``module`` offered as ``name`` before the core was laid out by stage, with a warning;
    AttributeError for any other missing name (for a module's ``__getattr__``)."""
    now = RENAMED.get((module, name))
    if now is None:
        raise AttributeError(f"module {module!r} has no attribute {name!r}")
    warnings.warn(f"{module}.{name} is now {now}: import it from there", DeprecationWarning, stacklevel=3)
    home, _, attribute = now.rpartition(".")
    return getattr(importlib.import_module(home), attribute)


def old_module(name: str) -> ModuleType:
    """``kodeord.<name>`` for a module that moved (``kodeord.effects`` read as an attribute), with a warning;
    AttributeError for any other name (for the package's ``__getattr__``)."""
    if f"kodeord.{name}" not in MOVED:
        raise AttributeError(f"module 'kodeord' has no attribute {name!r}")
    return importlib.import_module(f"kodeord.{name}")


def install() -> None:
    """Let old module names be imported (once per process)."""
    if not any(isinstance(finder, MovedFinder) for finder in sys.meta_path):
        sys.meta_path.append(MovedFinder())

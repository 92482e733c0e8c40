"""Modules that moved when the core was laid out by stage: importing an old name still works, with a warning
that names the new one (``kodeord.effects`` is now ``kodeord.commit.effects``)."""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
import warnings
from types import ModuleType

MOVED = {
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

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        warnings.warn(
            f"{self.old} moved to {self.new}: import it from there (or the names kodeord exports from kodeord)",
            DeprecationWarning,
            stacklevel=2,
        )
        return importlib.import_module(self.new)

    def exec_module(self, module: ModuleType) -> None:
        """Nothing to run: the new module has run."""


class MovedFinder(importlib.abc.MetaPathFinder):
    """Finds an old module name and gives the module it moved to."""

    def find_spec(self, name: str, path: object = None, target: object = None) -> importlib.machinery.ModuleSpec | None:
        new = MOVED.get(name)
        return None if new is None else importlib.machinery.ModuleSpec(name, _Alias(name, new))


def install() -> None:
    """Let old module names be imported (once per process)."""
    if not any(isinstance(finder, MovedFinder) for finder in sys.meta_path):
        sys.meta_path.append(MovedFinder())

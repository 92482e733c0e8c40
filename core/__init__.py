"""Kodeord: an SMS keyword platform driven by YAML rules and pluggy plugins.

Writing a plugin
----------------
A plugin is any module or object with functions decorated by :data:`hookimpl`,
named after the hooks in :mod:`kodeord.hookspecs`::

    from kodeord import hookimpl, ActionSpec, Effects

    def enter(call):
        return Effects(vars={"ticket": 7})

    @hookimpl
    def kodeord_register_actions(register):
        register(ActionSpec("lottery.enter", "Enter the sender in the lottery", run=enter))

Register it for installation as a separate distribution through the entry-point
group ``kodeord`` (``[options.entry_points] kodeord = lottery = my_pkg.plugin``).
``docs/plugins.md`` walks through writing, registering and testing a plugin.

The way of a message
--------------------
The packages follow a message (``docs/architecture.md`` draws it)::

    inbound   a gateway's webhook -> an Inbound message
    decide    its service's rules -> an outcome and its Effects  (rule files: config)
    commit    the outcome -> Redis, atomically; replies queued in an outbox
    outbound  the outbox -> gateways; statuses and delivery reports
    watch     metrics, alerts, the message log

``web`` and ``cli`` are the two ways in; ``support`` and ``testing`` serve them all. At the top stay this
package, :mod:`kodeord.platform` (one running Kodeord, every stage wired together) and
:mod:`kodeord.hookspecs` (what plugins implement).
"""

from kodeord.support import moved

moved.install()

from typing import TYPE_CHECKING  # noqa: E402 - after the old names' finder

from kodeord.commit.effects import Effects, Guard, Write  # noqa: E402
from kodeord.decide.actions import ActionCall, ActionSpec, Param, Veto  # noqa: E402
from kodeord.hookspecs import hookimpl  # noqa: E402
from kodeord.inbound.messages import Channel, Inbound, Outbound  # noqa: E402
from kodeord.outbound.fanout import Fanout, FanoutPage, FanoutSource, Recipient  # noqa: E402

if TYPE_CHECKING:
    from kodeord.platform import PluginHost

__all__ = [
    "ActionCall",
    "ActionSpec",
    "Channel",
    "Effects",
    "Fanout",
    "FanoutPage",
    "FanoutSource",
    "Guard",
    "Inbound",
    "Outbound",
    "Param",
    "PluginHost",
    "Recipient",
    "Veto",
    "Write",
    "hookimpl",
]
__version__ = "0.1.0"


def __getattr__(name: str) -> object:
    if name == "PluginHost":  # imported when asked for: it brings the whole platform with it
        from kodeord.platform import PluginHost

        return PluginHost
    return moved.old_module(name)  # kodeord.effects and the like, read as attributes: moved

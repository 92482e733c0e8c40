"""Kodeord: an SMS keyword platform driven by YAML rules and pluggy plugins.

Writing a plugin
----------------
A plugin is any module or object with functions decorated by :data:`hookimpl`,
named after the hooks in :mod:`kodeord.hookspecs`::

    from kodeord import hookimpl, ActionSpec, Effects

    @hookimpl
    def kodeord_register_actions(register):
        register(ActionSpec("lottery.enter", "Enter the sender in the lottery"))

    @hookimpl
    def kodeord_run_action(call):
        if call.action != "lottery.enter":
            return None          # not ours: let another plugin answer
        return Effects(vars={"ticket": 7})

Register it for installation as a separate distribution through the entry-point
group ``kodeord`` (``[options.entry_points] kodeord = lottery = my_pkg.plugin``).
``docs/plugins.md`` walks through writing, registering and testing a plugin.
"""

from kodeord.actions import ActionCall, ActionSpec, Param, Veto
from kodeord.effects import Effects, Write
from kodeord.hookspecs import hookimpl
from kodeord.messages import Channel, Inbound, Outbound

__all__ = [
    "ActionCall",
    "ActionSpec",
    "Channel",
    "Effects",
    "Inbound",
    "Outbound",
    "Param",
    "Veto",
    "Write",
    "hookimpl",
]
__version__ = "0.1.0"

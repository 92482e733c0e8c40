"""The ``kodeord`` command (``commands``), with its ``gateways`` and ``messages`` groups and the terminal's
``progress`` bars. Plugins add their own commands through the ``kodeord_register_commands`` hook."""

from kodeord.cli.commands import cli, main

__all__ = ["cli", "main"]

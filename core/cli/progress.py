"""Progress of long commands on a terminal: a bar on standard error, and nothing in scripts and logs."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click


def bar(label: str, length: int) -> Any:
    """A progress bar of ``length`` steps on standard error when it is a terminal (hidden otherwise)."""
    return click.progressbar(length=length, label=label, file=sys.stderr, show_pos=True, hidden=not sys.stderr.isatty())


def lines(path: Path) -> int:
    """How many lines ``path`` has (read in blocks; about a second for a few million lines)."""
    count = 0
    with path.open("rb") as file:
        while block := file.read(1 << 20):
            count += block.count(b"\n")
    return count

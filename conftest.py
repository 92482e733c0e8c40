"""Test-session setup for the whole repository: the example partner plugin, installed where only the tests see it.

``examples/partner-plugin`` is installed (``pip install --target``, as its guide packages it) into
``.venv/partner-plugin`` rather than into the environment, so it never shows up in a user's ``kodeord --help``;
the tests, and the ``kodeord`` processes they start, find it through ``sys.path`` and ``PYTHONPATH``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parent
PLUGIN = ROOT / "examples" / "partner-plugin"
TARGET = ROOT / ".venv" / "partner-plugin"


def _newest(path: Path) -> float:
    return max(p.stat().st_mtime for p in path.rglob("*") if p.is_file() and "__pycache__" not in p.parts)


def install_partner_plugin() -> Path:
    """Install the example plugin into ``TARGET`` unless it is there and newer than its sources."""
    stamp = TARGET / ".installed"
    if not stamp.exists() or stamp.stat().st_mtime < _newest(PLUGIN / "kodeord_coupon") or (
        stamp.stat().st_mtime < (PLUGIN / "pyproject.toml").stat().st_mtime
    ):
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--upgrade", "--target",
                        str(TARGET), str(PLUGIN)], check=True)  # fmt: skip
        stamp.touch()
    return TARGET


def pytest_configure(config: pytest.Config) -> None:
    target = str(install_partner_plugin())
    if target not in sys.path:
        sys.path.insert(0, target)
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (target, os.environ.get("PYTHONPATH", "")) if p)

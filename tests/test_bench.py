"""Every benchmark starts as its docs show it (``.venv/bin/python bench/NAME.py``): its options parse and its
imports resolve, with ``bench/`` first on ``sys.path`` as Python puts a script's folder (where ``email.py`` must
not stand in for the standard library's ``email``)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"
SCRIPTS = sorted(p for p in BENCH.glob("*.py") if p.name not in ("benchlib.py", "mailbench.py"))


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_a_benchmark_starts_and_explains_itself(script: Path) -> None:
    done = subprocess.run([sys.executable, str(script), "--help"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "usage:" in done.stdout

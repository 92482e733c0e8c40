"""Modules and classes by their names before the core was laid out by stage: they still import, run and resolve,
each with a warning that names the new place; the new names import without any warning."""

from __future__ import annotations

import importlib
import re
import subprocess
import sys
from pathlib import Path

import pytest

import kodeord

CORE = Path(__file__).resolve().parents[2] / "core"


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("kodeord.effects", "kodeord.commit.effects"),
        ("kodeord.gateway", "kodeord.outbound.gateway"),
        ("kodeord.keys", "kodeord.commit.keys"),
    ],
)
def test_a_module_imported_by_its_name_before_the_stage_layout_still_imports_with_a_warning_naming_the_new(
    old: str, new: str
) -> None:
    sys.modules.pop(old, None)
    with pytest.warns(DeprecationWarning, match=rf"^{re.escape(old)} moved to {re.escape(new)}: import it from there"):
        module = importlib.import_module(old)
    assert module is importlib.import_module(new)
    assert module.__name__ == new


def test_what_the_old_commit_module_offered_is_still_there_with_a_warning() -> None:
    from kodeord.commit.committer import Committer

    with pytest.warns(
        DeprecationWarning,
        match=r"^kodeord.commit.Committer is now kodeord.commit.committer.Committer: import it from there",
    ):
        from kodeord.commit import Committer as old

    assert old is Committer


def test_a_class_by_its_name_before_the_stage_layout_still_imports_with_a_warning() -> None:
    from kodeord.config.catalog import Destination
    from kodeord.config.model import OwnNumber

    with pytest.warns(DeprecationWarning, match=r"^kodeord.config.catalog.Route is now kodeord.config.catalog.Destin"):
        from kodeord.config.catalog import Route
    with pytest.warns(DeprecationWarning, match=r"^kodeord.config.model.Number is now kodeord.config.model.OwnNumber"):
        from kodeord.config.model import Number
    assert (Route, Number) == (Destination, OwnNumber)
    with pytest.raises(ImportError):
        from kodeord.config.model import Nothing  # noqa: F401


# Imports each module in a child forked from an interpreter that has loaded only the libraries (not Kodeord), so
# that each Kodeord module is imported first, as in a fresh interpreter, without starting one per module.
FORK_EACH = """
import importlib, os, sys, traceback
for library in sys.argv[2].split(","):
    importlib.import_module(library)
failed = []
for module in sys.argv[1].split(","):
    pid = os.fork()
    if pid == 0:
        try:
            importlib.import_module(module)
        except BaseException:
            traceback.print_exc()
            os._exit(1)
        os._exit(0)
    if os.waitpid(pid, 0)[1] != 0:
        failed.append(module)
print(",".join(failed))
sys.exit(1 if failed else 0)
"""
LIBRARIES = (
    "redis",
    "msgpack",
    "jinja2",
    "pluggy",
    "click",
    "ruamel.yaml",
    "phonenumbers",
    "httpx",
    "starlette.applications",
    "starlette.routing",
    "uvicorn",
    "prometheus_client",
)


def test_the_new_module_names_import_without_any_warning_in_a_fresh_interpreter() -> None:
    modules = sorted(
        "kodeord." + ".".join(p.relative_to(CORE).with_suffix("").parts)
        for p in CORE.rglob("*.py")
        if p.name != "__init__.py" and "testing" not in p.parts
    )
    command = [sys.executable, "-W", "error", "-c", FORK_EACH, ",".join(modules), ",".join(LIBRARIES)]
    done = subprocess.run(command, capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.strip() == "", f"{done.stdout.strip()}: {done.stderr[-2000:]}"


def test_an_old_module_name_still_runs_with_python_m() -> None:
    done = subprocess.run([sys.executable, "-m", "kodeord.fakekannel", "--help"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage: fakekannel.py")


def test_a_moved_module_read_as_an_attribute_of_kodeord_is_there_with_a_warning() -> None:
    sys.modules.pop("kodeord.ratelimit", None)
    with pytest.warns(DeprecationWarning, match="kodeord.ratelimit moved to kodeord.outbound.ratelimit"):
        module = kodeord.ratelimit
    assert module.__name__ == "kodeord.outbound.ratelimit"
    with pytest.raises(AttributeError, match="module 'kodeord' has no attribute 'nothing'"):
        kodeord.nothing  # noqa: B018

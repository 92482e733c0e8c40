"""Run a benchmark alternately on this checkout and on an earlier commit: a ratio that a noisy machine keeps.

    .venv/bin/python bench/against.py COMMIT [--pairs 3] [--metric inbound_per_s] [--hide MODULE] \
        -- bench/load.py --seconds 30

The commit is unpacked with ``git archive`` into a temporary directory, its package laid out as its setup.cfg
maps it (``core`` as ``kodeord``, and so on) and put first on ``PYTHONPATH``; both run with this checkout's
virtual environment. ``--hide`` keeps a module from the commit's runs (an accelerator this checkout added, such
as ``hiredis``, so that the commit runs as it shipped). Each pair runs both, this checkout first in odd pairs and
the commit first in even ones; the metric is read from the last line each run prints (``name=value`` pairs).

Last line: ratio=N pairs=N this=N,N,... base=N,N,...
"""

from __future__ import annotations

import argparse
import configparser
import io
import os
import re
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def unpack(commit: str, into: Path) -> Path:
    """The tree of ``commit`` in ``into/tree``, its package in ``into/pkg``; returns the tree."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", commit], check=True, capture_output=True).stdout
    tree = into / "tree"
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(tree, filter="data")
    config = configparser.ConfigParser()
    config.read(tree / "setup.cfg")
    mapping = [line.split("=") for line in config["options"]["package_dir"].strip().splitlines()]
    for package, folder in sorted((p.strip(), f.strip()) for p, f in mapping):  # parents before children
        shutil.copytree(tree / folder, into / "pkg" / package.replace(".", "/"), dirs_exist_ok=True)
    return tree


def hide(modules: list[str], into: Path) -> Path:
    """A directory whose modules stand in for ``modules`` and fail to import."""
    shims = into / "hidden"
    shims.mkdir()
    for name in modules:
        (shims / f"{name}.py").write_text(f"raise ImportError('{name} is hidden from this run')\n")
    return shims


def run(command: list[str], cwd: Path, path: str | None, metric: str) -> float:
    """Run ``command`` in ``cwd`` (``path`` first on PYTHONPATH); the metric from its last line."""
    env = dict(os.environ)
    if path is not None:
        env["PYTHONPATH"] = path
    done = subprocess.run([sys.executable, *command], cwd=cwd, env=env, capture_output=True, text=True)
    lines = done.stdout.strip().splitlines()
    found = re.search(rf"(?:^| ){re.escape(metric)}=([0-9.]+)", lines[-1]) if lines else None
    if done.returncode != 0 or found is None:
        sys.exit(
            f"{' '.join(command)} in {cwd} failed (exit {done.returncode}):\n{done.stdout[-2000:]}{done.stderr[-2000:]}"
        )
    print(f"  {'this' if path is None else 'base'}: {lines[-1]}", flush=True)
    return float(found.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("commit", help="the earlier commit (anything git names: a hash, a tag, HEAD~3)")
    parser.add_argument("--pairs", type=int, default=3, help="runs of each")
    parser.add_argument("--metric", default="inbound_per_s", help="the name=value figure to compare")
    parser.add_argument("--hide", action="append", default=[], help="a module the commit's runs must not import")
    argv = sys.argv[1:]
    split = argv.index("--") if "--" in argv else len(argv)
    args = parser.parse_args(argv[:split])
    command = argv[split + 1 :]
    if not command:
        parser.error("give the benchmark to run after --, e.g. -- bench/load.py --seconds 30")
    with tempfile.TemporaryDirectory(prefix="kodeord-against-") as tmp:
        base_tree = unpack(args.commit, Path(tmp))
        path = os.pathsep.join(str(p) for p in (Path(tmp) / "pkg", hide(args.hide, Path(tmp))))
        this: list[float] = []
        base: list[float] = []
        for pair in range(args.pairs):
            print(f"pair {pair + 1}", flush=True)
            order = [(this, ROOT, None), (base, base_tree, path)]
            for figures, cwd, pythonpath in order if pair % 2 == 0 else reversed(order):
                figures.append(run(command, cwd, pythonpath, args.metric))
    ratio = statistics.mean(this) / statistics.mean(base)
    print(
        f"ratio={ratio:.3f} pairs={args.pairs} this={','.join(f'{v:g}' for v in this)} "
        f"base={','.join(f'{v:g}' for v in base)}"
    )


if __name__ == "__main__":
    main()

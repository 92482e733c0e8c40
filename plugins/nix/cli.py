"""``kodeord nix ...``: import versions of the do-not-call register, check numbers, list versions, extract an area.

Every command takes ``--register CODE`` (the ``nix_register`` setting, ``se``, when not given).
"""

from __future__ import annotations

import json
import sys
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import click

from kodeord.cli import host, progress

if TYPE_CHECKING:
    from .register import Imported

REGISTER = click.option("--register", "code", default=None, help="the register's code (default: nix_register)")


def _day(ctx: click.Context, param: click.Parameter, value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date YYYY-MM-DD") from None


@click.group()
def nix() -> None:
    """The do-not-call register (NIX-Telefon): versions, checks and area lists."""


@nix.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--version", "version", required=True, callback=_day, help="the version's update date, YYYY-MM-DD")
@click.option("--allow-shrink", is_flag=True, help="accept a version with under half the current one's numbers")
@REGISTER
def import_version(file: Path, version: date, allow_shrink: bool, code: str | None) -> None:
    """Import FILE (one number per line, or CSV with area code and number) as a version, and make it current."""
    from .register import open_register

    with host.platform() as platform:
        register = open_register(platform, code)
        today = datetime.now(ZoneInfo(platform.settings.timezone)).date()
        lines = progress.lines(file) if sys.stderr.isatty() else 0  # counting takes a second for a whole register
        with progress.bar(f"reading {file.name}", lines) as bar:
            shown = {"read": 0}

            def advance(stage: str, done: int) -> None:
                if stage == "read":
                    bar.update(done - shown["read"])
                    shown["read"] = done

            imported = register.import_version(
                file, version, by="cli", progress=advance, allow_shrink=allow_shrink, today=today
            )
    _summary(register.spec.name, imported)


def _summary(name: str, imported: Imported) -> None:
    record, tally = imported.version, imported.tally
    click.echo(
        f"{name} version {record.version} ({record.id}) is current: {record.numbers} numbers "
        f"from {tally.lines} lines ({tally.layout}), {record.duplicates} duplicates, {tally.bad} bad lines, "
        f"in {imported.seconds:.1f} s"
    )
    for bad in tally.first_bad:
        click.echo(f"  {bad}")
    if tally.bad > len(tally.first_bad):
        click.echo(f"  ... and {tally.bad - len(tally.first_bad)} more bad lines")
    if imported.pruned:
        click.echo(f"deleted older versions: {', '.join(imported.pruned)}")


@nix.command("check")
@click.argument("numbers", nargs=-1, required=True)
@click.option("--json", "as_json", is_flag=True, help="one JSON object per number")
@REGISTER
def check(numbers: tuple[str, ...], as_json: bool, code: str | None) -> None:
    """Check NUMBERS: registered, clear (and until when it may be called) or invalid (and why)."""
    from .register import open_register

    with host.platform() as platform:
        register = open_register(platform, code)
        results = register.check_many(numbers)
    rows: list[list[str]] = []
    for number, result in zip(numbers, results, strict=True):
        if as_json:
            click.echo(json.dumps({"number": number, "register": register.spec.code, **result.to_dict()}))
            continue
        if result.until is not None:
            said = f"callable until {result.until.isoformat()}"
        else:
            said = result.reason or "not to be called"
        rows.append([number, result.status.value, f"version {result.version.isoformat()}", said])
    if rows:
        host.echo_table(rows)


@nix.command("versions")
@click.option("--json", "as_json", is_flag=True, help="the versions' records as JSON")
@REGISTER
def versions(as_json: bool, code: str | None) -> None:
    """The kept versions, newest first; the current one is marked."""
    from .register import open_register

    with host.platform() as platform:
        register = open_register(platform, code)
        found = register.versions()
        current = register.current()
    if as_json:
        records: list[dict[str, Any]] = [json.loads(v.to_json()) | {"current": v == current} for v in found]
        click.echo(json.dumps(records, indent=2))
        return
    if not found:
        click.echo(f"no version of {register.spec.name} has been imported")
        return
    rows = [["", "version", "id", "numbers", "bad lines", "imported", "file"]]
    for v in found:
        mark = "*" if v == current else ""
        imported_at = v.imported_at.astimezone(ZoneInfo(platform.settings.timezone)).strftime("%Y-%m-%d %H:%M")
        rows.append([mark, v.version.isoformat(), v.id, str(v.numbers), str(v.bad_lines), imported_at, v.source])
    host.echo_table(rows)


@nix.command("drop")
@click.argument("version_id")
@REGISTER
def drop(version_id: str, code: str | None) -> None:
    """Delete version VERSION_ID (as ``versions`` lists it), e.g. one imported by mistake."""
    from .register import open_register

    with host.platform() as platform:
        register = open_register(platform, code)
        dropped = register.drop(version_id)
        current = register.current()
    now = f"{current.version} ({current.id})" if current is not None else "none: checks fail until an import"
    click.echo(f"deleted version {dropped.version} ({dropped.id}); current: {now}")


@nix.command("extract")
@click.option("--area", required=True, help="the area code, e.g. 08 (or 8)")
@click.option("--out", type=click.Path(dir_okay=False, writable=True, path_type=Path), help="write to this file")
@REGISTER
def extract(area: str, out: Path | None, code: str | None) -> None:
    """The registered numbers of one area code, one a line, in the current version."""
    from .register import open_register

    with host.platform() as platform:
        register = open_register(platform, code)
        current = register.current()
        count = 0
        target = out.open("w", encoding="utf-8", newline="\n") if out is not None else sys.stdout
        try:
            for number in register.extract(area):
                target.write(number + "\n")
                count += 1
        finally:
            if out is not None:
                target.close()
    version = f"version {current.version}" if current is not None else "no version"
    click.echo(f"{count} registered numbers of area {area} ({register.spec.name} {version})", err=True)

"""``kodeord nix ...``: import versions of the do-not-call register, check numbers, list versions, extract an area;
wash a tenant's call list, show its history and its usage.

The register's commands take ``--register CODE`` (the ``nix_register`` setting, ``se``, when not given); a
tenant's (``wash``, ``history``, ``usage``) take ``--tenant T``, needed only when the rule files have more than
one tenant.
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
    from kodeord.platform import PluginHost

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


TENANT = click.option("--tenant", default=None, help="the tenant (needed when the rule files have more than one)")


def _tenant(platform: PluginHost, given: str | None) -> str:
    """The tenant named, or the only one; else ``error: ...`` and exit status 2."""
    known = platform.tenants()
    if given is not None:
        if given not in known:
            click.echo(f"error: no tenant {given!r} (the rule files have: {', '.join(known) or 'none'})", err=True)
            sys.exit(2)
        return given
    if len(known) != 1:
        click.echo(f"error: give the tenant with --tenant, one of: {', '.join(known) or 'none'}", err=True)
        sys.exit(2)
    return known[0]


@nix.command("wash")
@click.argument("infile", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--out", "outfile", type=click.Path(dir_okay=False, path_type=Path), help="default: INFILE-tvättad")
@click.option("--mode", type=click.Choice(["remove", "mark"]), default="remove", show_default=True)
@click.option("--column", default=None, help="the phone column's header or number (default: found by its header)")
@click.option("--business", default=None, help="a column marking business rows (passed through, not checked)")
@TENANT
@REGISTER
def wash(
    infile: Path,
    outfile: Path | None,
    mode: str,
    column: str | None,
    business: str | None,
    tenant: str | None,
    code: str | None,
) -> None:
    """Wash the call list INFILE (CSV or XLSX): registered numbers removed or marked, in OUTFILE."""
    from .listfile import ListFile
    from .listrows import ListFileError
    from .wash import wash_list, washed_name

    out = outfile if outfile is not None else infile.with_name(washed_name(infile.name))
    with host.platform() as platform:
        owner = _tenant(platform, tenant)
        with progress.bar(f"washing {infile.name}", 1000) as bar:
            shown = {"done": 0}

            def advance(source: ListFile) -> None:
                done = int((source.progress or 0) * 1000)
                if done > shown["done"]:
                    bar.update(done - shown["done"])
                    shown["done"] = done

            try:
                washed = wash_list(
                    platform,
                    owner,
                    infile,
                    out,
                    by="cli",
                    mode=mode,
                    column=column,
                    business=business,
                    code=code,
                    progress=advance,
                )
            except ListFileError as exc:
                click.echo(str(exc), err=True)
                sys.exit(1)
    summary, entry = washed.summary, washed.entry
    done = "registered rows removed" if mode == "remove" else "every row marked"
    click.echo(
        f"{summary.name}: {summary.rows} rows, {summary.registered} registered, {summary.clear} clear, "
        f"{summary.invalid} invalid, {summary.business} business (passed, not checked)"
    )
    click.echo(f"checked against {entry.register} version {entry.version}, column {summary.column!r}")
    click.echo(f"written: {out} ({summary.written} rows, {done})")
    click.echo(f"recorded for {owner}: {entry.checked} numbers checked; SHA-256 {summary.sha256}, {summary.size} bytes")


HISTORY_FORMATS = ("table", "json", "csv", "xlsx")


@nix.command("history")
@TENANT
@click.option("--format", "fmt", type=click.Choice(HISTORY_FORMATS), default="table", show_default=True)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="write to this file")
def history(tenant: str | None, fmt: str, out: Path | None) -> None:
    """The tenant's checks and washes, oldest first: the proof that a list was washed."""
    from kodeord.web import tables

    from .history import entries
    from .reports import HISTORY_COLUMNS, history_rows

    if fmt == "xlsx" and out is None and sys.stdout.isatty():
        click.echo("error: give --out FILE for xlsx", err=True)
        sys.exit(2)
    with host.platform() as platform:
        owner = _tenant(platform, tenant)
        found = list(entries(platform, owner))
        zone = ZoneInfo(_zone(platform, owner))
    if fmt == "table":
        rows = [["time", "kind", "by", "file", "rows", "registered", "clear", "invalid", "business", "version"]]
        for e in found:
            at = e.at.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S")
            counts = [str(n) for n in (e.rows, e.registered, e.clear, e.invalid, e.business)]
            version = f"{e.register} {e.version}" if e.version is not None else e.register
            rows.append([at, e.kind, e.by, e.file or "-", *counts, version])
        _emit(out, "\n".join(_table_lines(rows)) + "\n" if found else f"no checks or washes of {owner}\n")
        return
    if fmt == "json":
        _emit(out, json.dumps([e.to_dict() for e in found], indent=2, ensure_ascii=False) + "\n")
        return
    table = tables.Table(HISTORY_COLUMNS, history_rows(found), str(zone), "NIX")
    _write_table(table, fmt, out)


@nix.command("usage")
@TENANT
@click.option("--json", "as_json", is_flag=True, help="the months as JSON")
def usage_command(tenant: str | None, as_json: bool) -> None:
    """Numbers checked per month, and what they cost at the price setting (KODEORD_NIX_PRICE_ORE)."""
    from .usage import monthly

    with host.platform() as platform:
        owner = _tenant(platform, tenant)
        months = monthly(platform, owner)
    if as_json:
        click.echo(json.dumps([m.to_dict() for m in months], indent=2))
        return
    if not months:
        click.echo(f"no numbers checked by {owner}")
        return
    rows = [["month", "checked", "price (öre)", "cost (SEK)"]]
    rows += [[m.month, str(m.checked), str(m.price_ore), f"{m.cost:.2f}"] for m in months]
    host.echo_table(rows)


def _zone(platform: PluginHost, tenant: str) -> str:
    found = platform.tenant(tenant)
    return found.timezone if found is not None else str(platform.settings.timezone)


def _table_lines(rows: list[list[str]]) -> list[str]:
    widths = [max(len(cell) for cell in column) for column in zip(*rows, strict=True)]
    return ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows]


def _emit(out: Path | None, text: str) -> None:
    if out is None:
        click.echo(text, nl=False)
    else:
        out.write_text(text, encoding="utf-8")


def _write_table(table: Any, fmt: str, out: Path | None) -> None:
    from kodeord.web import tables

    target = out.open("wb") if out is not None else sys.stdout.buffer
    try:
        if fmt == "xlsx":
            tables.write_xlsx(table, target)
        else:
            for chunk in tables.csv_chunks(table):
                target.write(chunk)
    finally:
        if out is not None:
            target.close()
        else:
            target.flush()

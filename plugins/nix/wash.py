"""A call list washed for a tenant, as the command, the API and the console all do it (NIX-3, NIX-5, NIX-8).

:func:`wash_list` reads the list (:mod:`.listfile`), checks its numbers against the current version of the
register, writes the outfile, and then records the wash in the tenant's history (:mod:`.history`) and counts
the numbers checked as the tenant's usage (:mod:`.usage`): the rows sent to the register, that is every row
but the blank ones and the business rows (NIX-7: those are not checked, so they are neither counted nor
paid for). Only the list's name, size, SHA-256 and counts are kept, never a number of it. A list refused
(:class:`~.listrows.ListFileError`) or a wash that fails leaves no outfile, no history entry and no usage.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from starlette.concurrency import iterate_in_threadpool
from starlette.responses import StreamingResponse

from kodeord.web import tables
from kodeord.web.download import attachment

from .history import Entry, record
from .listcolumns import ColumnSpec
from .listfile import BATCH, ListFile, wash
from .listrows import Mode, Summary
from .register import RegisterError, open_register
from .usage import count_usage

if TYPE_CHECKING:
    from kodeord.platform import PluginHost


# A washed CSV keeps the list's own encoding, so no charset is named.
MEDIA_TYPES = {"csv": "text/csv", "xlsx": tables.MEDIA_TYPES["xlsx"]}


@dataclass(frozen=True)
class Washed:
    """A wash done: the list's summary and the history entry that proves it."""

    summary: Summary
    entry: Entry

    @property
    def checked(self) -> int:
        """The numbers checked against the register (and counted as usage)."""
        return self.entry.checked

    def response(self, washed_file: BinaryIO, name: str) -> StreamingResponse:
        """The washed copy as a download named after ``name``, its counts in ``X-Nix-*`` headers (the API's and
        the console's answer alike); ``washed_file`` is read as it is sent, then closed."""
        summary, entry = self.summary, self.entry
        headers = attachment(washed_name(name)) | {
            "Cache-Control": "no-store",
            "X-Nix-Rows": str(summary.rows),
            "X-Nix-Registered": str(summary.registered),
            "X-Nix-Clear": str(summary.clear),
            "X-Nix-Invalid": str(summary.invalid),
            "X-Nix-Business": str(summary.business),
            "X-Nix-Written": str(summary.written),
            "X-Nix-Checked": str(entry.checked),
            "X-Nix-Register": entry.register,
            "X-Nix-Version": entry.version.isoformat() if entry.version is not None else "",
            "X-Nix-Sha256": summary.sha256,
            "X-Nix-Size": str(summary.size),
        }
        chunks = iterate_in_threadpool(tables.read_chunks(washed_file))
        media = MEDIA_TYPES.get(summary.format, "application/octet-stream")
        return StreamingResponse(chunks, media_type=media, headers=headers)


def wash_list(
    host: PluginHost,
    tenant: str,
    path: Path,
    out: Path | None,
    *,
    by: str,
    mode: Mode | str = Mode.REMOVE,
    column: ColumnSpec = None,
    business: ColumnSpec = None,
    name: str | None = None,
    code: str | None = None,
    progress: Callable[[ListFile], None] | None = None,
    batch: int = BATCH,
) -> Washed:
    """Wash the list at ``path`` (named ``name`` in messages and the history; default the path's) for
    ``tenant`` into ``out`` (None: count only) in ``mode``, with register ``code`` (default: the
    ``nix_register`` setting); ``by`` is who asked (an email address, ``key:<name>``, ``cli``).

    Raises :class:`~.listrows.ListFileError` for a list that cannot be washed, :class:`.RegisterError` before
    the register's first import; in both cases nothing is written or recorded."""
    chosen = Mode(mode)
    register = open_register(host, code)
    current = register.current()
    if current is None:
        raise RegisterError(f"no version of {register.spec.name} has been imported: lists cannot be washed", 503)
    checks = register.pinned()  # each bucket of the register read once, however long the list
    with ListFile.open(path, column=column, business=business, name=name) as source:
        summary = wash(source, out, chosen, checks.check_many, batch=batch, progress=progress)
    seen = checks.dates
    entry = Entry(
        tenant=tenant,
        by=by,
        at=datetime.now(UTC),
        kind="wash",
        register=register.spec.code,
        version=min(seen) if seen else current.version,
        file=summary.name,
        sha256=summary.sha256,
        size=summary.size,
        mode=chosen.value,
        column=summary.column,
        **summary.counts(),
    )
    record(host, entry)
    count_usage(host, tenant, entry.checked)
    return Washed(summary, entry)


def washed_name(name: str, suffix: str = "-tvättad") -> str:
    """The outfile's default name: ``lista.csv`` gives ``lista-tvättad.csv``."""
    path = Path(name)
    return f"{path.stem}{suffix}{path.suffix}"

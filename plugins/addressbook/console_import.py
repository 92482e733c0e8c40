"""Importing a member file in the console: upload, preview, confirm.

The upload is a multipart form of at most ``MAX_UPLOAD`` bytes (checked from its length before it is read,
and again as it is read). The file is read as :mod:`.memberfile` reads it (CSV as Swedish Excel saves it, or
XLSX) and checked against the list; the preview shows the first members it will add and every row it refuses,
with its line and why. What was checked is kept in Redis for ``UPLOAD_TTL`` seconds under a random token bound
to the session and the list, and confirming imports exactly that (through :meth:`ListAdmin.import_members`,
which still leaves out anyone who unsubscribed meanwhile): a confirmation never trusts a file sent again.
"""

from __future__ import annotations

import json
import secrets
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from kodeord.web import tables
from kodeord.web.console.i18n import N_
from kodeord.web.console.pages import csrf_refused, form
from kodeord.web.reports import download
from kodeord.web.tables import Column, Kind, Table

from . import memberfile, store
from .console_list import ListView, denied, open_list, open_to, render

MAX_UPLOAD = 5 * 1024 * 1024  # bytes of a file
FORM_SLACK = 64 * 1024  # the rest of the form around the file: its token, a note, the part headers
DRAIN_UP_TO = 25 * 1024 * 1024  # a body too big but below this is read (and dropped) so the browser shows the page
UPLOAD_TTL = 30 * 60  # seconds a preview waits for its confirmation
PREVIEW_ROWS = 10  # members shown in the preview
SHOWN_REFUSED = 500  # refused rows listed on the page (all of them are in the download)
LIMITS = {"mb": MAX_UPLOAD // (1024 * 1024), "rows": memberfile.MAX_ROWS}

# Why a row is refused, in the page's language (memberfile.REASONS).
REASONS = {
    "phone": N_("ogiltigt nummer"),
    "not_mobile": N_("inte ett mobilnummer"),
    "email": N_("ogiltig e-postadress"),
    "name": N_("namnet är längre än 100 tecken"),
    "missing": N_("varken nummer eller e-postadress"),
    "duplicate": N_("finns redan på rad %(line)s"),
    "member": N_("redan medlem"),
    "unsubscribed": N_("avanmäld: bara personen själv kan gå med igen"),
}
# Why a file cannot be imported.
FILE_PROBLEMS = {
    "format": N_("Filen går inte att läsa som CSV eller Excel (xlsx)."),
    "xls": N_("Filen är i det gamla Excel-formatet (.xls). Spara den som .xlsx eller CSV och försök igen."),
    "header": N_(
        "Rad %(line)s: ingen kolumn för telefon eller e-post. Första raden ska namnge kolumnerna, till exempel "
        "Telefon, E-post och Namn."
    ),
    "empty": N_("Filen är tom."),
    "rows": N_("Filen har fler än %(rows)s rader. Dela upp den och importera en del i taget."),
    "big": N_("Filen är större än %(mb)s MB. Dela upp den och importera en del i taget."),
    "none": N_("Välj en fil att importera."),
    "form": N_("Formuläret gick inte att läsa. Försök igen."),
    "expired": N_("Förhandsgranskningen finns inte längre (den gäller i 30 minuter). Ladda upp filen igen."),
}
REFUSED_COLUMNS = (
    Column("line", "Rad", Kind.INTEGER),
    Column("given", "Nummer eller e-post", Kind.PHONE, 28),
    Column("reason", "Skäl", Kind.TEXT, 44),
)


@dataclass(frozen=True)
class Upload:
    """A checked file waiting for its confirmation, as kept in Redis."""

    tenant: str
    list_id: str
    sid: str  # the session that uploaded it
    file: str
    note: str
    rows: list[tuple[str, str]]
    refused: list[memberfile.Refused]

    def encode(self) -> str:
        """JSON, as stored."""
        refused = [[r.line, r.reason, r.given, r.first] for r in self.refused]
        data = {**self.__dict__, "rows": [list(row) for row in self.rows], "refused": refused}
        return json.dumps(data, ensure_ascii=False)

    @classmethod
    def decode(cls, raw: bytes) -> Upload:
        """Inverse of :meth:`encode`."""
        data = json.loads(raw)
        rows = [(str(member), str(contact)) for member, contact in data["rows"]]
        refused = [memberfile.Refused(int(a), str(b), str(c), int(d)) for a, b, c, d in data["refused"]]
        return cls(data["tenant"], data["list_id"], data["sid"], data["file"], data["note"], rows, refused)

    def belongs_to(self, view: ListView) -> bool:
        """Whether the upload was made by this session for this list."""
        account = view.session.account
        return (self.tenant, self.list_id, self.sid) == (account.tenant, view.list_id, view.session.sid)


def _problem(name: str, **values: Any) -> tuple[str, dict[str, Any]]:
    return FILE_PROBLEMS[name], values


async def _drain(request: Request, length: int) -> None:
    """Read a refused body that is not too big, so that the browser, still sending, gets the page."""
    if length <= DRAIN_UP_TO:
        async for _ in request.stream():
            pass


async def upload(request: Request) -> Response:
    """POST (multipart): a member file; the preview of its import, or the add page saying what is wrong."""
    view = await open_list(request)
    if isinstance(view, Response):
        return view
    length = request.headers.get("content-length", "")
    if not length.isdigit() or int(length) > MAX_UPLOAD + FORM_SLACK:
        # Browsers always say how long a form is; a body that does not say is not read at all.
        await _drain(request, int(length) if length.isdigit() else DRAIN_UP_TO + 1)
        if not view.access.changes_members:
            return denied(request, view)
        if not length.isdigit():
            return _refuse(request, view, _problem("form"), 411)
        return _refuse(request, view, _problem("big", mb=LIMITS["mb"]), 413)
    try:
        fields = await request.form(max_files=1, max_fields=10, max_part_size=FORM_SLACK)
    except (HTTPException, MultiPartException):
        return _refuse(request, view, _problem("form"), 400)
    try:
        csrf = fields.get("csrf")
        refused = csrf_refused(request, view.session, {"csrf": csrf if isinstance(csrf, str) else ""})
        if refused is not None:
            return refused
        if not view.access.changes_members:
            return denied(request, view)
        file, note = fields.get("file"), fields.get("note")
        if not isinstance(file, UploadFile) or not file.filename:
            return _refuse(request, view, _problem("none"), 400)
        data = await file.read(MAX_UPLOAD + 1)
        if len(data) > MAX_UPLOAD:
            return _refuse(request, view, _problem("big", mb=LIMITS["mb"]), 413)
        name = Path(file.filename.replace("\\", "/")).name[:200]  # a Windows path: only its last part
        note = (note if isinstance(note, str) else "").strip()[:300]
    finally:
        await fields.close()
    try:
        token, checked = await run_in_threadpool(_check, view, data, name, note)
    except memberfile.FileError as exc:
        return _refuse(request, view, _problem(exc.problem, line=exc.line, rows=memberfile.MAX_ROWS), 400)
    return render(
        request,
        view,
        "preview.html",
        title=N_("Förhandsgranska import"),
        token=token,
        file=name,
        added=len(checked.rows),
        first=[_shown(*row, line) for row, line in zip(checked.rows[:PREVIEW_ROWS], checked.lines, strict=False)],
        refused=checked.refused[:SHOWN_REFUSED],
        refused_count=len(checked.refused),
        reasons=REASONS,
    )


def add_form(request: Request, view: ListView, status: int = 200, **values: Any) -> Response:
    """The add page (one member, or a file), with what was typed and an error (a text to translate and its
    values) if any."""
    values.setdefault("given", {})
    values.setdefault("error", None)
    values.setdefault("import_error", None)
    return render(request, view, "add.html", status, limits=LIMITS, **values)


def _refuse(request: Request, view: ListView, problem: tuple[str, dict[str, Any]], status: int) -> Response:
    return add_form(request, view, status, import_error=problem)


def _shown(member: str, contact: str, line: int) -> dict[str, Any]:
    details = json.loads(contact) if contact else {}
    phone = member if member.startswith("+") else details.get("phone", "")
    email = details.get("email", "") if member.startswith("+") else member
    return {"line": line, "phone": phone, "email": email, "name": details.get("name", "")}


def _check(view: ListView, data: bytes, name: str, note: str) -> tuple[str, memberfile.Checked]:
    """Check the file against the list and keep it for the confirmation: its token and what was checked;
    FileError for a file that cannot be imported."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "upload"
        path.write_bytes(data)
        checked = memberfile.check(view.admin, view.list_id, memberfile.read(path, memberfile.MAX_ROWS))
    token = secrets.token_urlsafe(18)
    account = view.session.account
    kept = Upload(account.tenant, view.list_id, view.session.sid, name, note, checked.rows, checked.refused)
    view.admin.redis.set(store.upload_key(token), kept.encode(), ex=UPLOAD_TTL)
    return token, checked


def _kept(view: ListView, token: str) -> Upload | None:
    """The upload ``token`` names, if it is this session's for this list."""
    if not store.TOKEN.fullmatch(token):
        return None
    raw = view.admin.redis.get(store.upload_key(token))
    if not isinstance(raw, bytes):
        return None
    found = Upload.decode(raw)
    return found if found.belongs_to(view) else None


async def confirm(request: Request) -> Response:
    """POST: import what the preview showed; then to the members, with how many were imported."""
    fields = await form(request)
    view = await open_to(request, lambda access: access.changes_members, fields)
    if isinstance(view, Response):
        return view
    token = request.path_params["token"]

    def run() -> tuple[int, int] | None:
        kept = _kept(view, token)
        if kept is None or view.admin.redis.getdel(store.upload_key(token)) is None:  # gone, or confirmed twice
            return None
        note = kept.note or f"imported from {kept.file} in the console"
        skipped = view.admin.import_members(view.list_id, kept.rows, note)
        return len(kept.rows) - len(skipped), len(skipped)

    done = await run_in_threadpool(run)
    if done is None:
        return _refuse(request, view, _problem("expired"), 410)
    query = f"tab=members&done=imported&n={done[0]}&skipped={done[1]}"
    return RedirectResponse(f"{view.url}?{query}", status_code=303)


def _refused_rows(refused: Sequence[memberfile.Refused]) -> Iterator[Sequence[Any]]:
    for row in refused:
        reason = REASONS.get(row.reason, row.reason).replace("%(line)s", str(row.first))
        yield row.line, row.given, reason


async def refused_file(request: Request) -> Response:
    """The rows a preview refuses, as a file (``?format=csv`` or ``xlsx``), to fix and import again."""
    view = await open_to(request, lambda access: access.changes_members)
    if isinstance(view, Response):
        return view
    kept = await run_in_threadpool(_kept, view, request.path_params["token"])
    if kept is None:
        return _refuse(request, view, _problem("expired"), 410)
    fmt = request.query_params.get("format", "csv")
    fmt = fmt if fmt in tables.FORMATS else "csv"
    table = Table(REFUSED_COLUMNS, _refused_rows(kept.refused), view.zone, "Nekade rader")
    return download(table, fmt, f"nekade-{Path(kept.file).stem or 'rader'}")


def routes(one: str) -> list[Route]:
    """The import's routes, below a list's path ``one``."""
    return [
        Route(one + "/import", upload, methods=["POST"]),
        Route(one + "/import/{token}", confirm, methods=["POST"]),
        Route(one + "/import/{token}/refused", refused_file),
    ]

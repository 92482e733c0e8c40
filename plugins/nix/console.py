"""NIX-Telefon in the console: ``/console/nix/``, the register's current version, a list to wash and a number
to check.

- ``GET /console/nix/``: the current version of the register (its date, and until when a number found clear
  today may be called), the wash form (editors and owners) and the check form (everyone);
- ``POST /console/nix/wash`` (multipart, at most ``MAX_UPLOAD`` bytes, checked from its length before it is
  read): the list washed by :func:`.wash.wash_list`, as the command and the API wash it, and answered as the
  washed file to save; the wash is in the history (the ``nix.history`` report). The upload lives in a
  temporary folder only while it is washed;
- ``POST /console/nix/check``: one number checked, the answer on the page; counted and recorded as one
  check by the person's email address.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from kodeord.web.apiauth import host_of
from kodeord.web.console.accounts import Role
from kodeord.web.console.i18n import N_
from kodeord.web.console.pages import RANK, csrf_refused, form, page, signed_in
from kodeord.web.console.sessions import Session

from .history import record_checks
from .listrows import ListFileError
from .register import RegisterError, open_register
from .result import Result, add_months
from .usage import count_usage
from .wash import wash_list

MAX_UPLOAD = 50 * 1024 * 1024  # bytes of a list
FORM_SLACK = 64 * 1024  # the form around the file: its token, the options, the part headers
DRAIN_UP_TO = 60 * 1024 * 1024  # a body too big but below this is read (and dropped) so the browser gets the page
LONGEST_NUMBER = 100
STATUS_NAMES = {"registered": N_("registrerat"), "clear": N_("fritt"), "invalid": N_("ogiltigt")}
PROBLEMS = {
    "none": N_("Välj en fil att tvätta."),
    "big": N_("Filen är större än %(mb)s MB. Dela upp den, eller tvätta den med kommandot kodeord nix wash."),
    "form": N_("Formuläret gick inte att läsa. Försök igen."),
    "file": N_("Listan gick inte att tvätta:"),
    "register": N_("Registret går inte att använda än:"),
    "number": N_("Skriv ett telefonnummer."),
}


def _current(request: Request) -> dict[str, Any]:
    host = host_of(request)
    register = open_register(host)
    version = register.current()
    until = add_months(version.version, register.spec.months) if version is not None else None
    return {"register": register.spec, "version": version, "until": until}


async def _index(request: Request, session: Session, status: int = 200, **values: Any) -> Response:
    found = await run_in_threadpool(_current, request)
    values.setdefault("problem", None)
    values.setdefault("detail", "")
    values.setdefault("answer", None)
    values.setdefault("number", "")
    return page(
        request,
        "nix/index.html",
        status,
        title=N_("NIX-Telefon"),
        session=session,
        can_wash=RANK[session.account.role] >= RANK[Role.EDITOR],
        mb=MAX_UPLOAD // (1024 * 1024),
        status_names=STATUS_NAMES,
        **found,
        **values,
    )


async def index(request: Request) -> Response:
    """The register's version, the wash form and the check form."""
    session = await signed_in(request)
    if isinstance(session, Response):
        return session
    return await _index(request, session)


async def check(request: Request) -> Response:
    """POST: check one number; the page with the answer."""
    session = await signed_in(request)
    if isinstance(session, Response):
        return session
    fields = await form(request)
    if (refused := csrf_refused(request, session, fields)) is not None:
        return refused
    number = fields.get("number", "").strip()[:LONGEST_NUMBER]
    if not number:
        return await _index(request, session, 400, problem=PROBLEMS["number"])
    tenant, email = session.account.tenant, session.account.email

    def run() -> Result:
        host = host_of(request)
        register = open_register(host)
        [result] = register.check_many([number])
        count_usage(host, tenant, 1)
        record_checks(host, tenant, email, register.spec.code, [result])
        return result

    try:
        answer = await run_in_threadpool(run)
    except RegisterError as exc:
        return await _index(request, session, 503, problem=PROBLEMS["register"], detail=str(exc), number=number)
    return await _index(request, session, answer=answer, number=number)


async def _drain(request: Request, length: int) -> None:
    """Read a refused body that is not too big, so that the browser, still sending, gets the page."""
    if length <= DRAIN_UP_TO:
        async for _ in request.stream():
            pass


async def wash(request: Request) -> Response:
    """POST (multipart): a list to wash; the washed file, or the page saying what is wrong."""
    session = await signed_in(request, Role.EDITOR)
    if isinstance(session, Response):
        return session
    length = request.headers.get("content-length", "").strip()
    if not (length.isascii() and length.isdigit()) or len(length) > 20 or int(length) > MAX_UPLOAD + FORM_SLACK:
        await _drain(request, int(length) if length.isascii() and length.isdigit() and len(length) < 20 else -1)
        status = 413 if length.isdigit() else 411
        return await _index(request, session, status, problem=PROBLEMS["big" if status == 413 else "form"])
    try:
        fields = await request.form(max_files=1, max_fields=10, max_part_size=FORM_SLACK)
    except (HTTPException, MultiPartException):
        return await _index(request, session, 400, problem=PROBLEMS["form"])
    folder = Path(tempfile.mkdtemp(prefix="kodeord-nix-"))
    try:
        text = {name: value for name, value in fields.items() if isinstance(value, str)}
        if (refused := csrf_refused(request, session, {"csrf": text.get("csrf", "")})) is not None:
            return refused
        upload = fields.get("file")
        if not isinstance(upload, UploadFile) or not upload.filename:
            return await _index(request, session, 400, problem=PROBLEMS["none"])
        name = Path(upload.filename.replace("\\", "/")).name[:200] or "lista"
        mode = text.get("mode", "remove")
        mode = mode if mode in ("remove", "mark") else "remove"
        column, business = text.get("column", "").strip()[:200], text.get("business", "").strip()[:200]
        infile, outfile = folder / "list", folder / "washed"
        with infile.open("wb") as file:
            await run_in_threadpool(shutil.copyfileobj, upload.file, file)
        if infile.stat().st_size > MAX_UPLOAD:
            return await _index(request, session, 413, problem=PROBLEMS["big"])
        tenant, email = session.account.tenant, session.account.email

        def run() -> Any:
            washed = wash_list(
                host_of(request),
                tenant,
                infile,
                outfile,
                by=email,
                mode=mode,
                column=column or None,
                business=business or None,
                name=name,
            )
            return washed, outfile.open("rb")

        try:
            washed, opened = await run_in_threadpool(run)
        except ListFileError as exc:
            return await _index(request, session, 422, problem=PROBLEMS["file"], detail=str(exc))
        except RegisterError as exc:
            return await _index(request, session, 503, problem=PROBLEMS["register"], detail=str(exc))
    finally:
        await fields.close()
        shutil.rmtree(folder, ignore_errors=True)  # the outfile stays readable through ``opened`` until sent
    return washed.response(opened, name)


def routes() -> list[Route]:
    """The section's routes, under ``/console/nix``."""
    return [
        Route("/", index),
        Route("/check", check, methods=["POST"]),
        Route("/wash", wash, methods=["POST"]),
    ]

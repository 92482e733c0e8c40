"""The NIX JSON API under ``/api/nix/`` (an API key per tenant; see docs/nix.md).

- ``GET /api/nix/check?number=...&number=...`` checks up to 1000 numbers against the current version of the
  register (``register=`` names another than the default), counts them as the key's tenant's usage and records
  one history entry for the request (its counts, never its numbers);
- ``POST /api/nix/wash``: a call list (multipart, field ``file``, at most ``MAX_UPLOAD`` bytes; fields or query
  parameters ``mode``, ``column``, ``business``, ``register``) washed as ``kodeord nix wash`` washes it; the
  answer is the washed file, its counts in ``X-Nix-*`` headers. The upload is kept in a temporary folder only
  while it is washed: the outfile is opened, the folder deleted, and the open file sent;
- ``GET /api/nix/history`` (``format=json|csv|xlsx``, ``since``/``until`` days): the tenant's checks and washes;
- ``GET /api/nix/usage``: the numbers checked per month, with the price and the cost.

Who made a check or wash is recorded as ``key:<the key's name>``.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException
from starlette.requests import Request
from starlette.routing import Route

from kodeord.support.errors import RequestError
from kodeord.web import tables
from kodeord.web.apiauth import key_name, tenant_endpoint
from kodeord.web.reports import Period, download, zone_of

from .history import entries, record_checks
from .listrows import ListFileError
from .register import RegisterError, open_register
from .reports import HISTORY_COLUMNS, history_rows
from .usage import count_usage, monthly
from .wash import wash_list

if TYPE_CHECKING:
    from kodeord.platform import PluginHost

PREFIX = "/api/nix"
MAX_NUMBERS = 1000
LONGEST_NUMBER = 100  # characters of one number= value
MAX_UPLOAD = 50 * 1024 * 1024  # bytes of a list to wash
FORM_SLACK = 64 * 1024  # the multipart form around the file: its part headers and the small fields


def who(request: Request, platform: PluginHost) -> str:
    """``key:<name>`` of the request's API key (already found genuine), as the history records it."""
    name = key_name(request)
    return f"key:{name}" if name else "key"


async def check(request: Request, platform: PluginHost, tenant: str) -> Any:
    numbers = request.query_params.getlist("number")
    if not numbers:
        raise RegisterError("give the numbers to check as number=..., up to 1000")
    if len(numbers) > MAX_NUMBERS:
        raise RegisterError(f"{len(numbers)} numbers: check at most {MAX_NUMBERS} at a time", 413)
    if any(len(number) > LONGEST_NUMBER for number in numbers):
        raise RegisterError(f"a number= value is longer than {LONGEST_NUMBER} characters")
    code = request.query_params.get("register")

    def run() -> Any:
        register = open_register(platform, code)
        results = register.check_many(numbers)
        count_usage(platform, tenant, len(numbers))
        record_checks(platform, tenant, who(request, platform), register.spec.code, results)
        return {
            "results": [
                {"number": number, "register": register.spec.code, **result.to_dict()}
                for number, result in zip(numbers, results, strict=True)
            ]
        }

    return await run_in_threadpool(run)


async def wash(request: Request, platform: PluginHost, tenant: str) -> Any:
    length = request.headers.get("content-length", "").strip()
    if not (length.isascii() and length.isdigit()):
        raise HTTPException(411, "give the upload's Content-Length")
    if len(length) > 20 or int(length) > MAX_UPLOAD + FORM_SLACK:
        raise HTTPException(413, f"the list is larger than {MAX_UPLOAD // (1024 * 1024)} MB: split it")
    kind = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if kind != "multipart/form-data":
        raise HTTPException(415, "send the list as multipart/form-data, in the field 'file'")
    try:
        form = await request.form(max_files=1, max_fields=10, max_part_size=FORM_SLACK)
    except (HTTPException, MultiPartException):
        raise HTTPException(400, "the form cannot be read: send the list as multipart/form-data") from None
    folder = Path(tempfile.mkdtemp(prefix="kodeord-nix-"))
    try:
        upload = form.get("file")
        if not isinstance(upload, UploadFile) or not upload.filename:
            raise HTTPException(400, "give the list as the form's field 'file', with its file name")
        name = Path(upload.filename.replace("\\", "/")).name[:200] or "lista"
        options = {}
        for field in ("mode", "column", "business", "register"):
            value = form.get(field)
            options[field] = (value if isinstance(value, str) else request.query_params.get(field, "")).strip()
        mode = options["mode"] or "remove"
        if mode not in ("remove", "mark"):
            raise HTTPException(400, f"mode must be remove or mark, not {mode[:20]!r}")
        infile, outfile = folder / "list", folder / "washed"
        with infile.open("wb") as file:
            await run_in_threadpool(shutil.copyfileobj, upload.file, file)
        if infile.stat().st_size > MAX_UPLOAD:
            raise HTTPException(413, f"the list is larger than {MAX_UPLOAD // (1024 * 1024)} MB: split it")
        by = await run_in_threadpool(who, request, platform)

        def run() -> Any:
            washed = wash_list(
                platform,
                tenant,
                infile,
                outfile,
                by=by,
                mode=mode,
                column=options["column"] or None,
                business=options["business"] or None,
                name=name,
                code=options["register"] or None,
            )
            return washed, outfile.open("rb")

        try:
            washed, opened = await run_in_threadpool(run)
        except ListFileError as exc:
            raise RequestError(str(exc), exc.http_status) from None
    finally:
        await form.close()
        shutil.rmtree(folder, ignore_errors=True)  # the outfile stays readable through ``opened`` until sent
    return washed.response(opened, name)


async def history(request: Request, platform: PluginHost, tenant: str) -> Any:
    fmt = request.query_params.get("format", "json")
    params = request.query_params

    def run() -> Any:
        zone = zone_of(platform, tenant)
        given = params.get("since") or params.get("until")
        period = Period.parse(params.get("since"), params.get("until"), zone) if given else None
        found = entries(platform, tenant, period.since if period else None, period.until if period else None)
        if fmt == "json":
            return {"tenant": tenant, "entries": [e.to_dict() for e in found]}
        table = tables.Table(HISTORY_COLUMNS, history_rows(found), zone, "NIX")
        return download(table, fmt, f"nix-history_{tenant}")

    return await run_in_threadpool(run)


async def usage(request: Request, platform: PluginHost, tenant: str) -> Any:
    def run() -> Any:
        return {
            "tenant": tenant,
            "price_ore": int(platform.settings.nix_price_ore),
            "months": [m.to_dict() for m in monthly(platform, tenant)],
        }

    return await run_in_threadpool(run)


def routes() -> list[Route]:
    """The NIX routes."""
    return [
        Route(PREFIX + "/check", tenant_endpoint(check), methods=["GET"]),
        Route(PREFIX + "/wash", tenant_endpoint(wash), methods=["POST"]),
        Route(PREFIX + "/history", tenant_endpoint(history), methods=["GET"]),
        Route(PREFIX + "/usage", tenant_endpoint(usage), methods=["GET"]),
    ]

"""The address book's JSON API under ``/api/addressbook/`` (an API key per tenant; see docs/api.md).

The key decides the tenant, and a list id is looked up only among that tenant's lists: there is no way to
name another tenant's list, so one customer can never see or change another's.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from kodeord.outbound import fanout
from kodeord.web.apiauth import host_of, json_body, tenant_of
from kodeord.web.download import attachment
from kodeord.web.params import parse_whole

from .admin import ListAdmin, ListError
from .store import CONSENT_FIELDS

PREFIX = "/api/addressbook/lists"

Handler = Callable[[Request, ListAdmin], Awaitable[Any]]


def _endpoint(handler: Handler, status: int = 200) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        tenant = await tenant_of(request)
        admin = ListAdmin(host_of(request), tenant, by="api")
        result = await handler(request, admin)
        return result if isinstance(result, Response) else JSONResponse(result, status_code=status)

    return endpoint


def _text(body: dict[str, Any], name: str, required: bool = False) -> str:
    value = body.get(name, "")
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise ListError(f"{name} must be a text")
    if required and not value.strip():
        raise ListError(f"{name} is required")
    return value


async def list_lists(request: Request, admin: ListAdmin) -> Any:
    return await run_in_threadpool(lambda: {"lists": [admin.show(i) for i in admin.ids()]})


async def create_list(request: Request, admin: ListAdmin) -> Any:
    body = await json_body(request)
    list_id = _text(body, "id", required=True)
    options = body.get("options") or {}
    if not isinstance(options, dict):
        raise ListError("options must be an object")
    return await run_in_threadpool(admin.create, list_id, options)


async def show_list(request: Request, admin: ListAdmin) -> Any:
    return await run_in_threadpool(admin.show, request.path_params["list"])


async def change_options(request: Request, admin: ListAdmin) -> Any:
    body = await json_body(request)
    return await run_in_threadpool(admin.set_options, request.path_params["list"], body)


async def add_role(request: Request, admin: ListAdmin) -> Any:
    body = await json_body(request)
    params = request.path_params
    found = await run_in_threadpool(admin.set_role, params["list"], params["role"], _text(body, "address", True), True)
    return {params["role"]: found}


async def remove_role(request: Request, admin: ListAdmin) -> Any:
    params = request.path_params
    found = await run_in_threadpool(admin.set_role, params["list"], params["role"], params["address"], False)
    return {params["role"]: found}


async def list_members(request: Request, admin: ListAdmin) -> Any:
    query = request.query_params
    limit = parse_whole(query.get("limit", "100"), 1000)
    if not limit:
        raise ListError("limit must be a whole number from 1 to 1000")
    state = query.get("state", "members")
    return await run_in_threadpool(admin.members, request.path_params["list"], state, query.get("after", ""), limit)


async def add_member(request: Request, admin: ListAdmin) -> Any:
    body = await json_body(request)
    args = [_text(body, name) for name in ("phone", "email", "name", "note")]
    return await run_in_threadpool(admin.add_member, request.path_params["list"], *args)


async def remove_member(request: Request, admin: ListAdmin) -> Any:
    await run_in_threadpool(admin.remove_member, request.path_params["list"], request.path_params["member"])
    return Response(status_code=204)


def _decide(approve: bool) -> Handler:
    async def decide(request: Request, admin: ListAdmin) -> Any:
        params = request.path_params
        await run_in_threadpool(admin.decide, params["list"], params["member"], approve)
        return {"member": params["member"], "approved": approve}

    return decide


async def consent(request: Request, admin: ListAdmin) -> Any:
    params = request.path_params
    records = await run_in_threadpool(admin.consent, params["list"], params["member"])
    if request.query_params.get("format") != "csv":
        return {"member": params["member"], "list": params["list"], "records": records}
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CONSENT_FIELDS, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(records)
    name = f"consent-{params['list']}-{params['member']}.csv".replace("+", "").replace("@", "_at_")
    return Response(out.getvalue(), media_type="text/csv; charset=utf-8", headers=attachment(name))


async def start_broadcast(request: Request, admin: ListAdmin) -> Any:
    body = await json_body(request)
    text, subject = _text(body, "text", True), _text(body, "subject")
    marketing = body.get("marketing", False)
    if not isinstance(marketing, bool):
        raise ListError("marketing must be true or false")
    return await run_in_threadpool(
        lambda: admin.broadcast(request.path_params["list"], text, subject, marketing=marketing)
    )


async def broadcast_progress(request: Request, admin: ListAdmin) -> Any:
    params = request.path_params

    def read() -> Any:
        lk = admin.keys(params["list"])
        found = fanout.read_progress(admin.redis, lk.scope, params["broadcast"])
        if found is None:
            raise ListError(f"no broadcast {params['broadcast']!r} on {params['list']}", 404)
        return {"id": params["broadcast"], **found}

    return await run_in_threadpool(read)


def routes() -> list[Route]:
    """Every address-book API route."""
    one = PREFIX + "/{list}"
    return [
        Route(PREFIX, _endpoint(list_lists), methods=["GET"]),
        Route(PREFIX, _endpoint(create_list, 201), methods=["POST"]),
        Route(one, _endpoint(show_list), methods=["GET"]),
        Route(one, _endpoint(change_options), methods=["PATCH"]),
        Route(one + "/members", _endpoint(list_members), methods=["GET"]),
        Route(one + "/members", _endpoint(add_member, 201), methods=["POST"]),
        Route(one + "/members/{member}", _endpoint(remove_member), methods=["DELETE"]),
        Route(one + "/members/{member}/consent", _endpoint(consent), methods=["GET"]),
        Route(one + "/pending/{member}/approve", _endpoint(_decide(True)), methods=["POST"]),
        Route(one + "/pending/{member}/reject", _endpoint(_decide(False)), methods=["POST"]),
        Route(one + "/broadcasts", _endpoint(start_broadcast, 202), methods=["POST"]),
        Route(one + "/broadcasts/{broadcast}", _endpoint(broadcast_progress), methods=["GET"]),
        Route(one + "/{role:str}", _endpoint(add_role, 201), methods=["POST"]),
        Route(one + "/{role:str}/{address}", _endpoint(remove_role), methods=["DELETE"]),
    ]

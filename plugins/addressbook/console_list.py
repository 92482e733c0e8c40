"""One console request's view of one list: who asks (the session), the list (its admin view) and what they may
do with it (:mod:`.access`), and the pages every list page may answer with instead (not found, not allowed).

A list the account may not see answers 404 exactly as one the tenant does not have, so nobody learns which
lists exist by guessing. Every change is made through :class:`~.admin.ListAdmin`, with ``console:<email>``
as who made it in the consent records.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from kodeord.web.apiauth import host_of
from kodeord.web.console.i18n import N_
from kodeord.web.console.pages import csrf_refused, page, signed_in
from kodeord.web.console.sessions import Session
from kodeord.web.reports import zone_of

from .access import Access, access_of
from .admin import ListAdmin
from .options import ListOptions

NAME = "lists"  # the section: /console/lists, templates lists/<file>
HOME = f"/console/{NAME}/"


@dataclass(frozen=True)
class ListView:
    """A signed-in account's view of one list it may see."""

    session: Session
    admin: ListAdmin
    list_id: str
    access: Access
    options: ListOptions
    zone: str

    @property
    def url(self) -> str:
        """The list's page."""
        return f"{HOME}{self.list_id}"

    def local(self, moment: datetime | str | int | None) -> str:
        """A time (aware datetime, ISO text or milliseconds since 1970) on the tenant's clock, to the minute."""
        if moment is None or moment == "":
            return ""
        if isinstance(moment, str):
            try:
                when = datetime.fromisoformat(moment)
            except ValueError:
                return moment
        elif isinstance(moment, datetime):
            when = moment
        else:
            when = datetime.fromtimestamp(moment / 1000, UTC)
        return when.astimezone(ZoneInfo(self.zone)).strftime("%Y-%m-%d %H:%M")


def admin_for(request: Request, session: Session) -> ListAdmin:
    """The session's tenant's lists, acting as the session's account."""
    account = session.account
    return ListAdmin(host_of(request), account.tenant, by=f"console:{account.email}", channel="console")


async def open_list(request: Request) -> ListView | Response:
    """The view of the list named in the path, or the response to give: the login page without a session,
    404 for a list the account may not see (or the tenant does not have)."""
    session = await signed_in(request)
    if isinstance(session, Response):
        return session
    admin = admin_for(request, session)
    list_id = request.path_params["list_id"]

    def read() -> ListView | None:
        access = access_of(admin, list_id, session.account)
        if not access.sees:
            return None
        return ListView(session, admin, list_id, access, admin.options(list_id), zone_of(admin.platform, admin.tenant))

    view = await run_in_threadpool(read)
    return view if view is not None else not_found(request, session)


async def open_to(
    request: Request, allowed: Callable[[Access], bool], fields: dict[str, str] | None = None
) -> ListView | Response:
    """:func:`open_list`, then for a POST the form's CSRF token (``fields``), then 403 unless ``allowed``."""
    view = await open_list(request)
    if isinstance(view, Response):
        return view
    if fields is not None and (refused := csrf_refused(request, view.session, fields)) is not None:
        return refused
    if not allowed(view.access):
        return denied(request, view)
    return view


def not_found(request: Request, session: Session) -> Response:
    """The console's 404 page."""
    return page(request, "notfound.html", 404, title=N_("Hittades inte"), session=session)


def denied(request: Request, view: ListView) -> Response:
    """403: the account sees the list but may not do this with it."""
    return render(request, view, "denied.html", 403, title=N_("Inte tillåtet"))


def render(request: Request, view: ListView, template: str, status: int = 200, **values: Any) -> Response:
    """A page of the section about one list (``lists/<template>``)."""
    values.setdefault("title", N_("Adressbok"))
    return page(request, f"{NAME}/{template}", status, session=view.session, view=view, **values)

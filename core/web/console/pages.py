"""The console's pages: logging in and out, the tenant's start page, and what every page shares.

Every page but ``/login`` needs a session; without one it sends the browser to ``/login`` (and back after).
Every POST needs the form's CSRF token, else 403. Pages are HTML, rendered by Jinja2 with autoescaping from
the templates beside this module, in Swedish.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, quote

from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from kodeord.inbound.webhooks import read_limited
from kodeord.web.console import accounts
from kodeord.web.console.accounts import Role
from kodeord.web.console.sessions import COOKIE, LOGIN_COOKIE, MAX_AGE_S, Session, Sessions

_TEMPLATES = Environment(
    loader=PackageLoader("kodeord.web.console", "templates"), autoescape=select_autoescape(default=True)
)
ROLE_NAMES = {Role.OWNER: "ägare", Role.EDITOR: "redaktör", Role.VIEWER: "läsare"}
MAX_FORM = 16384  # bytes of a form's body; a console form is a few fields
BAD_LOGIN = "Fel e-postadress eller lösenord, eller för många försök. Försök igen om en stund."


def _sessions(request: Request) -> Sessions:
    platform = request.app.state.platform
    found: Sessions | None = getattr(request.app.state, "sessions", None)
    if found is None:
        found = request.app.state.sessions = Sessions(platform.secret_key)
    return found


def _secure(request: Request) -> bool:
    return request.url.scheme == "https" or request.app.state.platform.settings.public_url.startswith("https:")


def page(request: Request, template: str, status: int = 200, **values: Any) -> HTMLResponse:
    """A console page rendered from ``template`` (with the session, if any, for the header)."""
    session: Session | None = values.get("session")
    tenant_name = ""
    if session is not None:
        tenant = request.app.state.platform.catalog.config.tenants.get(session.account.tenant)
        tenant_name = tenant.name if tenant is not None else session.account.tenant
    html = _TEMPLATES.get_template(template).render(tenant_name=tenant_name, role_names=ROLE_NAMES, **values)
    headers = {"Cache-Control": "no-store", "X-Frame-Options": "DENY", "Referrer-Policy": "same-origin"}
    return HTMLResponse(html, status_code=status, headers=headers)


async def session_of(request: Request) -> Session | None:
    """The request's session, or None."""
    platform = request.app.state.platform
    return await run_in_threadpool(_sessions(request).read, platform.redis, request.cookies.get(COOKIE))


def to_login(request: Request) -> Response:
    """Send the browser to the login page, and back to this page (with its query) after."""
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/login?next={quote(here, safe='/')}", status_code=303)


async def form(request: Request) -> dict[str, str]:
    """The fields of a URL-encoded form (the first of each name); none for a body over ``MAX_FORM`` bytes or
    of another type."""
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/x-www-form-urlencoded":
        return {}
    body = await read_limited(request, MAX_FORM)
    if body is None:
        return {}
    try:
        pairs = parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True, max_num_fields=20)
    except ValueError:  # more fields than any console form has
        return {}
    fields: dict[str, str] = {}
    for name, value in pairs:
        fields.setdefault(name, value)
    return fields


def _next(value: str) -> str:
    """Where to go after logging in: a console path only (never another site)."""
    return value if value.startswith("/console") and "//" not in value and "\\" not in value else "/console"


def _login_form(request: Request, status: int = 200, error: str = "", email: str = "", after: str = "") -> Response:
    """The login form with a fresh token, kept in ``LOGIN_COOKIE`` too (double submit: a page of another site
    can make a browser post the form, but cannot read the token to put in it)."""
    token = _sessions(request).login_token()
    response = page(
        request, "login.html", status, title="Logga in", csrf=token, next=_next(after), email=email[:320], error=error
    )
    response.set_cookie(
        LOGIN_COOKIE, token, max_age=3600, httponly=True, samesite="lax", secure=_secure(request), path="/login"
    )
    return response


async def login(request: Request) -> Response:
    """GET: the form. POST: check the address and password; on success a session and on to the console."""
    if request.method == "GET":
        return _login_form(request, after=request.query_params.get("next", ""))
    sessions = _sessions(request)
    fields = await form(request)
    if not sessions.check(request.cookies.get(LOGIN_COOKIE, ""), fields.get("csrf")):
        return _login_form(request, 403, "Sidan hade blivit för gammal. Logga in igen.")
    platform = request.app.state.platform
    address = request.client.host if request.client else ""
    email, after = fields.get("email", ""), fields.get("next", "")
    account = await run_in_threadpool(accounts.login, platform.redis, email, fields.get("password", ""), address)
    if account is None:
        return _login_form(request, 401, BAD_LOGIN, email, after)
    response = RedirectResponse(_next(after), status_code=303)
    response.set_cookie(
        COOKIE, sessions.cookie(account), max_age=MAX_AGE_S, httponly=True, samesite="lax", secure=_secure(request)
    )
    response.delete_cookie(LOGIN_COOKIE, path="/login")
    return response


def csrf_refused(request: Request, session: Session, fields: dict[str, str]) -> Response | None:
    """403 unless the form carries the session's CSRF token; None when it does."""
    if _sessions(request).check(session.csrf, fields.get("csrf")):
        return None
    return page(request, "refused.html", 403, title="Förfrågan nekad", session=session)


async def logout(request: Request) -> Response:
    """End the session (POST with the CSRF token) and go to the login page."""
    session = await session_of(request)
    if session is not None:
        if (refused := csrf_refused(request, session, await form(request))) is not None:
            return refused
        await run_in_threadpool(Sessions.end, request.app.state.platform.redis, session)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE)
    return response


async def home(request: Request) -> Response:
    """The tenant's start page."""
    session = await session_of(request)
    if session is None:
        return to_login(request)
    services = request.app.state.platform.catalog.config.of_tenant(session.account.tenant)
    return page(request, "home.html", title="Konsol", session=session, services=services)


async def admin(request: Request) -> Response:
    """``/admin``: the console."""
    return RedirectResponse("/console", status_code=303)


def routes() -> list[BaseRoute]:
    """The console's routes."""
    from kodeord.web.console import messages, rules

    return [
        Route("/login", login, methods=["GET", "POST"]),
        Route("/logout", logout, methods=["POST"]),
        Route("/console", home),
        Route("/console/rules", rules.rules, methods=["GET", "POST"]),
        Route("/console/messages", messages.messages),
        Route("/console/messages/{id:path}", messages.message),
        Route("/admin", admin),
    ]

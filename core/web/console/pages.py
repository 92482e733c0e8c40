"""The console's pages: logging in and out, the tenant's start page, and what every page shares.

Every page but ``/login`` needs a session; without one it sends the browser to ``/login`` (and back after).
Every POST needs the form's CSRF token, else 403. Pages are HTML, rendered by Jinja2 with autoescaping from
the templates beside this module and those of the plugins' console sections (:mod:`.sections`), in Swedish or
English (:mod:`.i18n`).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, quote

from jinja2 import BaseLoader, ChoiceLoader, Environment, PackageLoader, PrefixLoader, select_autoescape
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from kodeord.inbound.webhooks import read_limited
from kodeord.web.console import accounts, i18n
from kodeord.web.console.accounts import Role
from kodeord.web.console.i18n import N_
from kodeord.web.console.sections import ConsoleSection
from kodeord.web.console.sessions import COOKIE, LOGIN_COOKIE, MAX_AGE_S, Session, Sessions

_SECTION_TEMPLATES: dict[str, BaseLoader] = {}  # a console section's name -> its templates
_TEMPLATES = Environment(
    loader=ChoiceLoader([PackageLoader("kodeord.web.console", "templates"), PrefixLoader(_SECTION_TEMPLATES)]),
    autoescape=select_autoescape(default=True),
    extensions=["jinja2.ext.i18n"],
)
_TEMPLATES.install_gettext_callables(i18n.gettext, i18n.ngettext, newstyle=True)  # type: ignore[attr-defined]
_TEMPLATES.filters["number"] = i18n.number
ROLE_NAMES = {Role.OWNER: N_("ägare"), Role.EDITOR: N_("redaktör"), Role.VIEWER: N_("läsare")}
RANK = {Role.VIEWER: 0, Role.EDITOR: 1, Role.OWNER: 2}
MAX_FORM = 16384  # bytes of a form's body; a console form is a few fields
BAD_LOGIN = N_("Fel e-postadress eller lösenord, eller för många försök. Försök igen om en stund.")


def _sessions(request: Request) -> Sessions:
    platform = request.app.state.platform
    found: Sessions | None = getattr(request.app.state, "sessions", None)
    if found is None:
        found = request.app.state.sessions = Sessions(platform.secret_key)
    return found


def _named(request: Request, base: str) -> str:
    """The name of cookie ``base`` for this request: ``__Host-<base>`` over https, so the browser takes it only
    from this very host over https with ``Path=/`` (a sibling subdomain or a plain-http page cannot plant a
    login token or a session of its own); ``base`` over plain http (the demo on a laptop)."""
    return f"__Host-{base}" if _secure(request) else base


def _secure(request: Request) -> bool:
    return request.url.scheme == "https" or request.app.state.platform.settings.public_url.startswith("https:")


def language(request: Request) -> str:
    """The language the request's pages are shown in (its cookie's, else Swedish)."""
    return i18n.choose(request.cookies.get(i18n.COOKIE))


def _menu(request: Request, tenant: str) -> list[tuple[str, str]]:
    """(path, title) of the console's menu for ``tenant``: the core's pages, then the plugins' sections."""
    platform = request.app.state.platform
    entries = [("/console", N_("Start")), ("/console/live", N_("Live")), ("/console/reports", N_("Rapporter"))]
    entries += [("/console/messages", N_("Meddelanden")), ("/console/rules", N_("Regler"))]
    for section in sections_of(request):
        if section.shown(platform, tenant):
            entries.insert(-2, (f"/console/{section.name}/", section.title))
    return entries


def page(request: Request, template: str, status: int = 200, **values: Any) -> HTMLResponse:
    """A console page rendered from ``template`` (with the session, if any, for the header), in the request's
    language."""
    session: Session | None = values.get("session")
    tenant_name, menu = "", []
    if session is not None:
        tenant = request.app.state.platform.catalog.config.tenants.get(session.account.tenant)
        tenant_name = tenant.name if tenant is not None else session.account.tenant
        menu = _menu(request, session.account.tenant)
    i18n.use(language(request))
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    html = _TEMPLATES.get_template(template).render(
        tenant_name=tenant_name,
        role_names=ROLE_NAMES,
        menu=menu,
        path=request.url.path,
        here=here,
        language=i18n.current(),
        languages=i18n.LANGUAGES,
        **values,
    )
    headers = {"Cache-Control": "no-store", "X-Frame-Options": "DENY", "Referrer-Policy": "same-origin"}
    return HTMLResponse(html, status_code=status, headers=headers)


def sections_of(request: Request) -> list[ConsoleSection]:
    """The plugins' console sections of this app."""
    found: list[ConsoleSection] = getattr(request.app.state, "console_sections", [])
    return found


async def signed_in(request: Request, least: Role = Role.VIEWER) -> Session | Response:
    """The request's session, if its role is at least ``least``; else the response to give: to the login page
    without a session, 403 with a role too low."""
    session = await session_of(request)
    if session is None:
        return to_login(request)
    if RANK[session.account.role] < RANK[least]:
        return page(request, "refused.html", 403, title=N_("Förfrågan nekad"), session=session)
    return session


async def session_of(request: Request) -> Session | None:
    """The request's session, or None."""
    platform = request.app.state.platform
    return await run_in_threadpool(
        _sessions(request).read, platform.redis, request.cookies.get(_named(request, COOKIE))
    )


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
        request,
        "login.html",
        status,
        title=N_("Logga in"),
        csrf=token,
        next=_next(after),
        email=email[:320],
        error=error,
    )
    response.set_cookie(
        _named(request, LOGIN_COOKIE), token, max_age=3600, httponly=True, samesite="lax", secure=_secure(request)
    )
    return response


async def login(request: Request) -> Response:
    """GET: the form. POST: check the address and password; on success a session and on to the console."""
    if request.method == "GET":
        return _login_form(request, after=request.query_params.get("next", ""))
    sessions = _sessions(request)
    fields = await form(request)
    if not sessions.check(request.cookies.get(_named(request, LOGIN_COOKIE), ""), fields.get("csrf")):
        return _login_form(request, 403, N_("Sidan hade blivit för gammal. Logga in igen."))
    platform = request.app.state.platform
    address = request.client.host if request.client else ""
    email, after = fields.get("email", ""), fields.get("next", "")
    account = await run_in_threadpool(accounts.login, platform.redis, email, fields.get("password", ""), address)
    if account is None:
        return _login_form(request, 401, BAD_LOGIN, email, after)
    response = RedirectResponse(_next(after), status_code=303)
    response.set_cookie(
        _named(request, COOKIE),
        sessions.cookie(account),
        max_age=MAX_AGE_S,
        httponly=True,
        samesite="lax",
        secure=_secure(request),
    )
    response.delete_cookie(_named(request, LOGIN_COOKIE), secure=_secure(request))
    return response


def csrf_refused(request: Request, session: Session, fields: dict[str, str]) -> Response | None:
    """403 unless the form carries the session's CSRF token; None when it does."""
    if _sessions(request).check(session.csrf, fields.get("csrf")):
        return None
    return page(request, "refused.html", 403, title=N_("Förfrågan nekad"), session=session)


async def logout(request: Request) -> Response:
    """End the session (POST with the CSRF token) and go to the login page."""
    session = await session_of(request)
    if session is not None:
        if (refused := csrf_refused(request, session, await form(request))) is not None:
            return refused
        await run_in_threadpool(Sessions.end, request.app.state.platform.redis, session)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(_named(request, COOKIE), secure=_secure(request))
    return response


async def home(request: Request) -> Response:
    """The tenant's start page."""
    session = await session_of(request)
    if session is None:
        return to_login(request)
    services = request.app.state.platform.catalog.config.of_tenant(session.account.tenant)
    return page(request, "home.html", title=N_("Konsol"), session=session, services=services)


async def admin(request: Request) -> Response:
    """``/admin``: the console."""
    return RedirectResponse("/console", status_code=303)


async def choose_language(request: Request) -> Response:
    """``/language?to=en&next=/console/...``: show the console in that language from now on (a cookie), and go
    back. Only a language choice, so a GET link: nothing of the tenant's changes."""
    after = request.query_params.get("next", "")
    login_page = after.startswith("/login") and "//" not in after and "\\" not in after
    response = RedirectResponse(after if login_page else _next(after), status_code=303)
    chosen = i18n.choose(request.query_params.get("to"))
    response.set_cookie(
        i18n.COOKIE, chosen, max_age=365 * 86400, httponly=True, samesite="lax", secure=_secure(request)
    )
    return response


def add_section(section: ConsoleSection) -> None:
    """Make a plugin's section's templates and English known to the console."""
    if section.package:
        _SECTION_TEMPLATES[section.name] = PackageLoader(section.package, "templates")
        i18n.add_package(section.package)


def routes(sections: list[ConsoleSection]) -> list[BaseRoute]:
    """The console's routes, the plugins' ``sections`` under ``/console/<name>``."""
    from kodeord.web.console import live, messages, reports, rules

    found: list[BaseRoute] = [
        Route("/login", login, methods=["GET", "POST"]),
        Route("/logout", logout, methods=["POST"]),
        Route("/language", choose_language),
        Route("/console", home),
        Route("/console/rules", rules.rules, methods=["GET", "POST"]),
        Route("/console/live", live.live_page),
        Route("/console/live/events", live.events),
        Route("/console/reports", reports.index),
        Route("/console/reports/{name}", reports.report),
        Mount("/console/static", StaticFiles(packages=[("kodeord.web.console", "static")]), name="console-static"),
        Route("/console/messages", messages.messages),
        Route("/console/messages/export", messages.export),
        Route("/console/messages/{id:path}", messages.message),
        Route("/admin", admin),
    ]
    for section in sections:
        add_section(section)
        found.append(Mount(f"/console/{section.name}", routes=list(section.routes)))
    return found

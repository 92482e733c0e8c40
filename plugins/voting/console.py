"""The console's pages for polls and competitions, under ``/console/voting`` (MA-4, MA-6).

- ``/``: the tenant's polls (state, votes) and competitions (entries, draws);
- ``/polls/<id>``: a poll's result per option by SMS and by call; editors close it, open it again after a
  close by hand, and press the hot button;
- ``/competitions/<id>``: entries, the record of every draw with its proof and entry list; editors draw.

Every change asks first ("Är du säker?"): the form's first POST (or a GET of its address) shows what will
happen, and only a second POST with ``confirm=yes`` does it. Each is one of the operations the API and the
commands use (:mod:`.store`, :mod:`.hotbutton`, :mod:`.draw`), by the person's address. Every page looks up
only the session's tenant's polls and competitions; another tenant's id answers 404 as an unknown one does.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from kodeord.outbound.gateway import CallFailed
from kodeord.web.apiauth import host_of
from kodeord.web.console.accounts import Role
from kodeord.web.console.i18n import N_
from kodeord.web.console.pages import csrf_refused, form, page, signed_in
from kodeord.web.console.sessions import Session
from kodeord.web.download import attachment
from kodeord.web.params import parse_whole

from . import competition, draw, hotbutton, store
from .admin import all_polls, find_poll, services
from .api import MAX_DRAW
from .competition import Competition
from .poll import Poll, PollError

BASE = "/console/voting"
SHOWN_CALLERS = 100  # callers listed by name on the hot button's confirmation
DEFAULT_SECONDS = 60  # as the API's
STATE_NAMES = {"open": N_("öppen"), "closed": N_("stängd"), "not-open": N_("inte öppnad än")}
DONE = {
    "closed": N_("Omröstningen är stängd. Inga fler röster räknas."),
    "already-closed": N_("Omröstningen var redan stängd."),
    "opened": N_("Omröstningen är öppen igen. Röster räknas från och med nu."),
    "not-closed": N_("Omröstningen var inte stängd."),
}
NOT_FOUND = N_("Hittades inte")
UNAVAILABLE = N_("Heta knappen kan inte användas för den här omröstningen.")
TOO_FEW = N_("Det finns för få som kan vinna: färre rätta svar utan tidigare vinst än antalet vinnare.")


def local(moment: datetime | str | None, zone: str) -> str:
    """A time as the tenant's clock shows it: ``2027-02-01 20:00:05``; empty for none."""
    if not moment:
        return ""
    found = datetime.fromisoformat(moment) if isinstance(moment, str) else moment
    return found.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M:%S")


def _zone(request: Request, tenant: str) -> str:
    found = host_of(request).tenant(tenant)
    return found.timezone if found is not None else "Europe/Stockholm"


def _view(request: Request, template: str, session: Session, status: int = 200, **values: Any) -> Response:
    """A page of this section, with the tenant's clock."""
    zone = _zone(request, session.account.tenant)
    return page(
        request,
        f"voting/{template}",
        status,
        session=session,
        zone=zone,
        local=lambda moment: local(moment, zone),
        state_names=STATE_NAMES,
        can_change=session.account.can_change,
        **values,
    )


def _not_found(request: Request, session: Session) -> Response:
    return page(request, "notfound.html", 404, title=NOT_FOUND, session=session)


def _poll(request: Request, session: Session) -> Poll | None:
    """The session's tenant's poll named in the path, or None."""
    try:
        return find_poll(host_of(request), session.account.tenant, request.path_params["poll"])
    except PollError:
        return None


def _competition(request: Request, session: Session) -> Competition | None:
    """The session's tenant's competition named in the path, or None."""
    try:
        return competition.find(host_of(request), session.account.tenant, request.path_params["competition"])
    except PollError:
        return None


async def _change(request: Request) -> tuple[Session, dict[str, str]] | Response:
    """An editor's (or owner's) form, its CSRF token checked; else the response to give (login, 403)."""
    session = await signed_in(request, Role.EDITOR)
    if not isinstance(session, Session):
        return session
    if request.method != "POST":
        return session, {}
    fields = await form(request)
    if (refused := csrf_refused(request, session, fields)) is not None:
        return refused
    return session, fields


async def index(request: Request) -> Response:
    """The tenant's polls and competitions."""
    session = await signed_in(request)
    if not isinstance(session, Session):
        return session
    host, tenant = host_of(request), session.account.tenant

    def read() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        polls = [store.result(host.redis, poll) for poll in all_polls(host, tenant).values()]
        contests = [
            draw.summary(host.redis, competition.find(host, tenant, cid))
            for cid in services(host, tenant, competition.ACTION)
        ]
        return polls, contests

    polls, contests = await run_in_threadpool(read)
    return _view(request, "index.html", session, title=N_("Omröstningar"), polls=polls, competitions=contests)


async def show_poll(request: Request) -> Response:
    """A poll's result, its state and, for editors, closing, opening again and the hot button."""
    session = await signed_in(request)
    if not isinstance(session, Session):
        return session
    return await _poll_page(request, session)


async def _poll_page(request: Request, session: Session, status: int = 200, **extra: Any) -> Response:
    """The poll page (``extra``: an error to show, a value to keep in a field)."""
    poll = _poll(request, session)
    if poll is None:
        return _not_found(request, session)
    host = host_of(request)

    def read() -> dict[str, Any]:
        now = datetime.now(UTC)
        try:
            hotbutton.line(host, poll)
            unavailable = ""
        except PollError as exc:
            unavailable = str(exc)
        return {
            "result": store.result(host.redis, poll, now),
            "reopenable": poll.state(now) != "closed",
            "presses": store.recent(host.redis, poll, "hot_button", 10),
            "hot_unavailable": unavailable,
        }

    values = await run_in_threadpool(read)
    done = DONE.get(request.query_params.get("done", ""), "")
    return _view(
        request,
        "poll.html",
        session,
        status,
        title=N_("Omröstning"),
        poll=poll,
        poll_id=request.path_params["poll"],
        done=done,
        **({"seconds": DEFAULT_SECONDS, "error": ""} | values | extra),
    )


def _confirm(
    request: Request,
    session: Session,
    title: str,
    question: str,
    consequence: str,
    yes: str,
    back: str,
    keep: dict[str, str] | None = None,
    **values: Any,
) -> Response:
    """The "are you sure?" page: what will happen, and a form that does it (``confirm=yes``, with the fields
    in ``keep``); ``back`` is where "no" goes."""
    return _view(
        request,
        "confirm.html",
        session,
        title=title,
        question=question,
        consequence=consequence,
        yes=yes,
        back=back,
        action=request.url.path,
        keep=keep or {},
        **values,
    )


def _closing(reopen: bool) -> Callable[[Request], Awaitable[Response]]:
    """The handler that closes a poll (or opens it again), after asking."""

    async def handle(request: Request) -> Response:
        asked = await _change(request)
        if isinstance(asked, Response):
            return asked
        session, fields = asked
        poll = _poll(request, session)
        if poll is None:
            return _not_found(request, session)
        here = f"{BASE}/polls/{request.path_params['poll']}"
        if fields.get("confirm") != "yes":
            if reopen:
                return _confirm(
                    request,
                    session,
                    N_("Öppna omröstningen igen"),
                    N_("Vill du öppna omröstningen %(title)s igen?"),
                    N_(
                        "Röster räknas igen från och med nu, till omröstningens sluttid. Röster som kom in medan "
                        "den var stängd räknas inte i efterhand."
                    ),
                    N_("Ja, öppna igen"),
                    here,
                    subject=poll.title,
                )
            return _confirm(
                request,
                session,
                N_("Stäng omröstningen"),
                N_("Vill du stänga omröstningen %(title)s nu?"),
                N_(
                    "Inga fler röster räknas efter detta och resultatet fryses. Den som röstar får svaret att "
                    "röstningen är stängd och betalar inget."
                ),
                N_("Ja, stäng"),
                here,
                subject=poll.title,
            )
        host, by = host_of(request), session.account.email
        if reopen:
            try:
                opened = await run_in_threadpool(store.reopen, host, poll, by)
            except PollError:
                error = N_("Omröstningens sluttid har passerats. Ändra closes: i regelfilen för att öppna den igen.")
                return await _poll_page(request, session, 409, error=error)
            done = "opened" if opened else "not-closed"
        else:
            done = "closed" if await run_in_threadpool(store.close, host, poll, by) else "already-closed"
        return RedirectResponse(f"{here}?done={done}", status_code=303)

    return handle


def _seconds(text: str) -> int | None:
    """The hot button's window from a form field: a whole number of seconds from 1 to the most allowed."""
    found = parse_whole(text.strip(), hotbutton.MAX_SECONDS)
    return found if found else None


async def hot_button(request: Request) -> Response:
    """The hot button: first the callers it would pick among, then (``confirm=yes``) the press and its result."""
    asked = await _change(request)
    if isinstance(asked, Response):
        return asked
    session, fields = asked
    poll = _poll(request, session)
    if poll is None:
        return _not_found(request, session)
    seconds = _seconds(fields.get("seconds", str(DEFAULT_SECONDS)))
    if seconds is None:
        error = N_("Ange antalet sekunder som ett heltal från 1 till 3600.")
        return await _poll_page(request, session, 400, error=error)
    host = host_of(request)
    try:
        hotbutton.line(host, poll)
    except PollError:  # the page says why
        return await _poll_page(request, session, 409, error=UNAVAILABLE)
    here = f"{BASE}/polls/{request.path_params['poll']}"
    if fields.get("confirm") != "yes":
        callers = await run_in_threadpool(hotbutton.eligible, host, poll, seconds)
        return _confirm(
            request,
            session,
            N_("Heta knappen"),
            N_("Vill du koppla en slumpvis vald uppringare till studion i %(title)s?"),
            N_(
                "Bland dem som ringt de senaste sekunderna och inte valts förut väljs en på måfå. Den rings upp "
                "och kopplas till studion. Vilka som kan väljas räknas om när du trycker."
            ),
            N_("Ja, ring upp"),
            here,
            {"seconds": str(seconds)},
            subject=poll.title,
            seconds=seconds,
            callers=callers[:SHOWN_CALLERS],
            more=max(0, len(callers) - SHOWN_CALLERS),
            eligible=len(callers),
            studio=poll.studio,
        )
    record: dict[str, Any] | None = None
    error, status = "", 200
    try:
        record = await run_in_threadpool(hotbutton.press, host, poll, seconds, session.account.email)
    except CallFailed as exc:
        error, status = str(exc), 502
    except PollError as exc:
        error, status = str(exc), exc.http_status
    return _view(
        request,
        "pressed.html",
        session,
        status,
        title=N_("Heta knappen"),
        poll=poll,
        back=here,
        record=record,
        seconds=seconds,
        nobody=status == 404,
        error=error,
    )


async def show_competition(request: Request) -> Response:
    """A competition's entries, the draw form and every draw's record with its proof."""
    session = await signed_in(request)
    if not isinstance(session, Session):
        return session
    return await _competition_page(request, session)


async def _competition_page(request: Request, session: Session, status: int = 200, **extra: Any) -> Response:
    """The competition page (``extra``: an error to show, a value to keep in a field)."""
    contest = _competition(request, session)
    if contest is None:
        return _not_found(request, session)
    host = host_of(request)

    def read() -> tuple[dict[str, Any], list[dict[str, Any]]]:
        return draw.summary(host.redis, contest), draw.draws(host.redis, contest)

    summary, records = await run_in_threadpool(read)
    drawn = parse_whole(request.query_params.get("drawn", ""), MAX_DRAW)
    values = {"winners": 1, "error": ""} | extra
    return _view(
        request,
        "competition.html",
        session,
        status,
        title=N_("Tävling"),
        contest=contest,
        contest_id=request.path_params["competition"],
        state=contest.state(datetime.now(UTC)),
        summary=summary,
        records=list(reversed(records)),
        drawn=drawn,
        **values,
    )


async def make_draw(request: Request) -> Response:
    """Draw winners: first how many can win, then (``confirm=yes``) the draw, whose record the page shows."""
    asked = await _change(request)
    if isinstance(asked, Response):
        return asked
    session, fields = asked
    contest = _competition(request, session)
    if contest is None:
        return _not_found(request, session)
    winners = parse_whole(fields.get("winners", "1").strip(), draw.MAX_WINNERS)
    if not winners:
        error = N_("Ange antalet vinnare som ett heltal från 1 till 100.")
        return await _competition_page(request, session, 400, error=error)
    host = host_of(request)
    summary = await run_in_threadpool(draw.summary, host.redis, contest)
    if summary["eligible"] < winners:
        return await _competition_page(request, session, 409, error=TOO_FEW, winners=winners)
    here = f"{BASE}/competitions/{request.path_params['competition']}"
    if fields.get("confirm") != "yes":
        return _confirm(
            request,
            session,
            N_("Dra vinnare"),
            N_("Vill du dra vinnare i %(title)s nu?"),
            N_(
                "Vinnarna dras på måfå bland de rätta svaren, utan tidigare vinnare. Dragningen sparas med "
                "listan den gjordes ur och kan inte göras om."
            ),
            N_("Ja, dra"),
            here,
            {"winners": str(winners)},
            subject=contest.title,
            winners=winners,
            eligible=summary["eligible"],
        )
    try:
        record = await run_in_threadpool(draw.draw, host.redis, contest, winners, session.account.email)
    except PollError:  # too few left: another draw came first
        return await _competition_page(request, session, 409, error=TOO_FEW, winners=winners)
    return RedirectResponse(f"{here}?drawn={record['draw']}#draw-{record['draw']}", status_code=303)


async def draw_entries(request: Request) -> Response:
    """The entry list a draw was made from, as a file (the bytes its SHA-256 covers), as the API gives it."""
    session = await signed_in(request)
    if not isinstance(session, Session):
        return session
    contest = _competition(request, session)
    n = parse_whole(request.path_params["draw"], MAX_DRAW)
    if contest is None or not n:
        return _not_found(request, session)
    try:
        body = await run_in_threadpool(draw.listing, host_of(request).redis, contest, n)
    except PollError:
        return _not_found(request, session)
    headers = attachment(f"draw-{n}-entries.txt") | {"Cache-Control": "no-store"}
    return Response(body, media_type="text/plain; charset=utf-8", headers=headers)


def routes() -> list[Route]:
    """The section's pages, relative to ``/console/voting``."""
    return [
        Route("/", index),
        Route("/polls/{poll}", show_poll),
        Route("/polls/{poll}/close", _closing(reopen=False), methods=["GET", "POST"]),
        Route("/polls/{poll}/open", _closing(reopen=True), methods=["GET", "POST"]),
        Route("/polls/{poll}/hot-button", hot_button, methods=["GET", "POST"]),
        Route("/competitions/{competition}", show_competition),
        Route("/competitions/{competition}/draws", make_draw, methods=["GET", "POST"]),
        Route("/competitions/{competition}/draws/{draw}/entries", draw_entries),
    ]

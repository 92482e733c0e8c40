"""The dialer's API (NIX-2, NIX-6): ``POST /api/nix/dial`` answers, for a batch of numbers a dialer is about to
call, whether each may be called now and why.

Every batch is checked against the register's newest version, read at the moment of the request, so a dialer
never holds on to an old answer. A clear number may be called while the two-month rule holds for that version:
once the newest version is older than the register's months (version date + months < today), nothing may be
called ("register too old") until a newer version is imported. :func:`verdict` is the same decision for the
telemarketing veto (:mod:`.veto`).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.routing import Route

from kodeord.web.apiauth import json_body, tenant_endpoint

from . import history
from .api import who
from .register import RegisterError, open_register
from .result import Result, Status, may_call
from .usage import count_usage

if TYPE_CHECKING:
    from kodeord.platform import PluginHost

    from .spec import RegisterSpec

PATH = "/api/nix/dial"
MAX_NUMBERS = 1000
LONGEST_NUMBER = 100  # characters of one number
BODY_LIMIT = MAX_NUMBERS * (LONGEST_NUMBER + 8) + 1024  # a full batch of the longest numbers, JSON-quoted

CLEAR = "clear"
REGISTERED = "registered"
INVALID = "invalid"
TOO_OLD = "register too old"


@dataclass(frozen=True, slots=True)
class Verdict:
    """Whether a number may be called today, the reason (one of the four words above) and a sentence why."""

    may_call: bool
    reason: str
    detail: str


def verdict(result: Result, spec: RegisterSpec, today: date) -> Verdict:
    """What ``result`` (a check against the newest version of ``spec``'s register) allows on ``today``."""
    version = result.version.isoformat()
    if result.status is Status.INVALID:
        return Verdict(False, INVALID, result.reason or "not a phone number")
    if result.status is Status.REGISTERED:
        return Verdict(False, REGISTERED, f"in {spec.name} version {version}: not to be called")
    until = result.until.isoformat() if result.until is not None else "?"
    if may_call(result, today):
        return Verdict(True, CLEAR, f"not in {spec.name} version {version}: may be called until {until}")
    return Verdict(
        False,
        TOO_OLD,
        f"the newest version of {spec.name}, {version}, held until {until}: import a newer version",
    )


def today_of(host: PluginHost, tenant: str) -> date:
    """Today in ``tenant``'s time zone (the platform's when the tenant is unknown)."""
    known = host.tenant(tenant)
    zone = ZoneInfo(known.timezone if known is not None else host.settings.timezone)
    return datetime.now(UTC).astimezone(zone).date()


def _numbers(body: dict[str, Any]) -> list[str]:
    numbers = body.get("numbers")
    if not isinstance(numbers, list) or not numbers:
        raise RegisterError('give the numbers to check as {"numbers": ["070-123 45 67", ...]}, up to 1000')
    if len(numbers) > MAX_NUMBERS:
        raise RegisterError(f"{len(numbers)} numbers: give at most {MAX_NUMBERS} at a time", 413)
    for index, number in enumerate(numbers):
        if not isinstance(number, str):
            raise RegisterError(f"numbers[{index}] is not a string")
        if len(number) > LONGEST_NUMBER:
            raise RegisterError(f"numbers[{index}] is longer than {LONGEST_NUMBER} characters")
    return numbers


def dial(host: PluginHost, tenant: str, numbers: list[str], by: str, code: str | None = None) -> dict[str, Any]:
    """The answer to a dialer's batch: one entry per number, in order; counted as ``tenant``'s usage and
    recorded in its history as asked ``by`` (``key:<name>``).

    RegisterError (503) before the register's first import: without a register nothing may be called.
    """
    register = open_register(host, code)
    results = register.check_many(numbers)
    count_usage(host, tenant, len(numbers))
    today = today_of(host, tenant)
    answers = []
    for number, result in zip(numbers, results, strict=True):
        said = verdict(result, register.spec, today)
        answers.append(
            {
                "number": number,
                "may_call": said.may_call,
                "reason": said.reason,
                "detail": said.detail,
                "register": register.spec.code,
                "version": result.version.isoformat(),
                "until": result.until.isoformat() if result.until is not None else None,
            }
        )
    counts = Counter(result.status for result in results)
    history.record(
        host,
        history.Entry(
            tenant=tenant,
            by=by,
            at=datetime.now(UTC),
            kind="dial",
            register=register.spec.code,
            version=results[0].version if results else None,
            rows=len(numbers),
            registered=counts[Status.REGISTERED],
            clear=counts[Status.CLEAR],
            invalid=counts[Status.INVALID],
        ),
    )
    return {"results": answers}


async def post_dial(request: Request, platform: PluginHost, tenant: str) -> Any:
    body = await json_body(request, BODY_LIMIT)
    numbers = _numbers(body)
    code = body.get("register")
    if code is not None and not isinstance(code, str):
        raise RegisterError('register must be a register\'s code, such as "se"')
    by = await run_in_threadpool(who, request, platform)
    return await run_in_threadpool(dial, platform, tenant, numbers, by, code)


def routes() -> list[Route]:
    """``POST /api/nix/dial``."""
    return [Route(PATH, tenant_endpoint(post_dial), methods=["POST"])]

"""The phone simulator: several simulated phones, each with its own conversation.

A phone texts or calls the platform's numbers as a real one would through a gateway; the thread of each phone
shows what it sent (with what became of it, in Swedish: taken, or rejected and why; for a call, what the
caller heard) and everything the console gateway delivered to it, later messages included (broadcasts,
receipts), in time order. The page polls ``/simulator/inbox`` for the thread.

Only mounted by ``kodeord demo`` (or with ``KODEORD_SIMULATOR=1``): it lets anyone inject messages, so it
never runs on a production server.
"""

from __future__ import annotations

import json
import time
import uuid
from importlib.resources import files
from typing import Any

import jinja2
import redis
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Route

from kodeord.commit.keys import platform_key
from kodeord.decide.router import Outcome
from kodeord.inbound import phone as phones
from kodeord.inbound.messages import MAX_TEXT, Channel, Inbound
from kodeord.inbound.webhooks import read_limited
from kodeord.outbound.gateway import CONSOLE_KEEP, console_inbox_key
from kodeord.platform import Platform
from kodeord.support.errors import KodeordError
from kodeord.support.redis_client import REDIS_ERRORS

_pages = jinja2.Environment(
    loader=jinja2.FileSystemLoader(str(files("kodeord.templates"))),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
)
DEFAULT_PHONES = ("+46701234567", "+46701234568", "+46701234569")
DEFAULT_PHONE = DEFAULT_PHONES[0]
GATEWAY = "simulator"
MAX_PHONES = 12  # phones offered besides the defaults: those that texted or called most recently
# Room for the longest text with every character written as a JSON escape pair (12 bytes) and the other fields.
MAX_BODY = 256 * 1024
PHONES_KEY = platform_key("simulator", "phones")
TEXTABLE = {"shared": "delat kortnummer", "dedicated": "eget nummer"}  # number types a phone texts, in Swedish

# What became of a message, for the thread: outcomes that reject it, and the guard that stopped it.
REJECTED = {
    "unknown-number": "Okänt nummer: {number} finns inte i regelfilerna.",
    "unknown-keyword": "Okänt kodord: inget kodord på {number} passar meddelandet.",
    "fallback": "Ingen regel i tjänsten {service} tog emot meddelandet (fel ord eller utanför regelns tider).",
    "error": "Ett fel uppstod när meddelandet behandlades.",
}
GUARDS = {
    "closed": "Röstningen är stängd.",
    "capped": "Numret har redan röstat så många gånger som är tillåtet.",
    "capped_option": "Numret har redan röstat på det bidraget så många gånger som är tillåtet.",
    "already": "Numret har redan deltagit.",
    "unsubscribed": "Numret har lämnat listan.",
    "not-member": "Numret är inte medlem i listan.",
    "not-pending": "Numret väntar inte på godkännande.",
}
VETOES = {
    "recipient sent STOP to this number": "mottagaren har skickat STOPP till numret",
    "no longer a member of the list": "mottagaren är inte längre medlem i listan",
}


def thread_key(address: str) -> str:
    """What one simulated phone sent (newest first), with what became of each message or call."""
    return platform_key("simulator", "thread", address)


# -- what became of a message, in Swedish --------------------------------------------------------------------


def verdict(outcome: Outcome, recipient: str) -> dict[str, Any]:
    """``rejected``, ``reason`` (why, in Swedish; "" when taken), ``summary`` (what happened, in Swedish),
    ``stopped`` (replies a veto held back, why) and ``details`` (the outcome's own error texts)."""
    stopped = [
        f"Svaret till {veto.get('to', '')} stoppades: {VETOES.get(veto.get('reason', ''), veto.get('reason', ''))}"
        for veto in outcome.vetoed
    ]
    found = {"rejected": False, "reason": "", "stopped": stopped, "details": list(outcome.errors)}
    if outcome.status in REJECTED:
        reason = REJECTED[outcome.status].format(number=recipient, service=outcome.service or "")
        return found | {"rejected": True, "reason": reason, "summary": "Avvisat: " + reason}
    if outcome.guard:
        reason = GUARDS.get(outcome.guard, f"Villkoret {outcome.guard} stoppade meddelandet.")
        return found | {"rejected": True, "reason": reason, "summary": "Avvisat: " + reason}
    if outcome.status == "reserved":
        summary = "Reserverat ord (START, STOPP eller HJÄLP), besvarat av plattformen."
    elif outcome.service:
        summary = f"Taget av {outcome.service}" + (f", regel {outcome.rule}." if outcome.rule else ".")
    else:
        summary = "Taget."
    if outcome.duplicate:
        summary = "Redan mottaget (dubblett). " + summary
    return found | {"summary": summary}


def describe_call(answer: dict[str, Any]) -> str:
    """What the caller heard, from the call's 46elks-style actions."""
    if "connect" in answer:
        fallback = answer.get("busy") or answer.get("failed")
        also = f" (om studion inte svarar: {describe_call(fallback)})" if isinstance(fallback, dict) else ""
        return f"Kopplad till studion {answer['connect']}{also}"
    if "play" in answer:
        return f"Inspelningen spelades upp: {answer['play']}"
    if "hangup" in answer:
        return "Samtalet lades på" + (" (upptaget)" if answer["hangup"] == "busy" else "")
    return "Samtalet besvarades: " + json.dumps(answer, ensure_ascii=False)


# -- the threads ----------------------------------------------------------------------------------------------


def record(client: redis.Redis, entry: dict[str, Any], address: str) -> None:
    """Keep ``entry`` (something phone ``address`` sent) in its thread, and the phone among those offered."""
    key = thread_key(address)
    pipe = client.pipeline(transaction=False)
    pipe.lpush(key, json.dumps(entry, ensure_ascii=False))
    pipe.ltrim(key, 0, CONSOLE_KEEP - 1)
    pipe.zadd(PHONES_KEY, {address: entry["at"]})
    pipe.zremrangebyrank(PHONES_KEY, 0, -MAX_PHONES - 1)
    pipe.execute()


def received(message: dict[str, Any], at: int, state: str) -> dict[str, Any]:
    """A message (or a call) to the phone as the thread shows it: ``state`` is ``queued`` or ``delivered``."""
    entry = {
        "id": message["id"],
        "at": at,
        "direction": "received",
        "channel": message.get("channel", "sms"),
        "peer": message.get("from", ""),
        "text": message.get("text", ""),
        "kind": message.get("kind", "reply"),
        "price": message.get("price", ""),
        "state": state,
    }
    if isinstance(message.get("actions"), dict):  # a call the platform placed (the hot button)
        entry["answer"] = describe_call(message["actions"])
    return entry


def thread(client: redis.Redis, address: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(the phone's conversation, oldest first; what the console gateway delivered to it, newest first).

    A reply the router queued and the gateway has not delivered yet is in the thread as ``queued``, right after
    the message it answers, unless the gateway's list is full and older than it (then it was delivered and
    dropped from the list since)."""
    pipe = client.pipeline(transaction=False)
    pipe.lrange(thread_key(address), 0, -1)
    pipe.lrange(console_inbox_key(address), 0, -1)
    sent_raw, delivered_raw = pipe.execute()
    sent = [json.loads(raw) for raw in sent_raw]
    delivered = [json.loads(raw) for raw in delivered_raw]
    ids = {message.get("id") for message in delivered}
    oldest = min((int(m.get("at", 0)) for m in delivered), default=0)
    full = len(delivered) >= CONSOLE_KEEP
    ordered: list[tuple[int, int, int, dict[str, Any]]] = []
    for n, entry in enumerate(reversed(sent)):
        ordered.append((int(entry["at"]), 0, n, entry))
        for reply in entry.get("replies", []):
            if reply.get("id") not in ids and (not full or entry["at"] >= oldest):
                ordered.append((int(entry["at"]), 1, n, received(reply, int(entry["at"]), "queued")))
    for n, message in enumerate(reversed(delivered)):
        ordered.append((int(message.get("at", 0)), 2, n, received(message, int(message.get("at", 0)), "delivered")))
    ordered.sort(key=lambda item: item[:3])
    return [entry for *_, entry in ordered], delivered


def offered_phones(client: redis.Redis, current: str) -> list[str]:
    """The phones the page offers: the defaults, those that texted or called lately, and ``current``."""
    recent: list[bytes] = client.zrevrange(PHONES_KEY, 0, MAX_PHONES - 1)  # type: ignore[assignment]
    return list(dict.fromkeys([*DEFAULT_PHONES, *(raw.decode() for raw in recent), current]))


# -- requests -------------------------------------------------------------------------------------------------


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


async def _fields(request: Request, names: tuple[str, ...]) -> dict[str, str] | JSONResponse:
    """The JSON body's ``names``, all strings; or the 400 (413 when too long) that says what is wrong."""
    body = await read_limited(request, MAX_BODY)
    if body is None:
        return _error(413, f"the body is longer than {MAX_BODY} bytes")
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):  # not JSON (or not UTF-8), or nested too deeply
        return _error(400, "body must be JSON")
    if not isinstance(data, dict) or not all(isinstance(data.get(name), str) for name in names):
        return _error(400, f"give {', '.join(names[:-1])} and {names[-1]} as strings")
    return {name: data[name] for name in names}


async def _route(platform: Platform, inbound: Inbound) -> Outcome | JSONResponse:
    """Route ``inbound`` as a gateway's webhook would; 503 while Redis is unreachable."""
    try:
        return await run_in_threadpool(platform.handle, inbound)
    except REDIS_ERRORS:
        return _error(503, "Redis is unavailable; try again")


async def _take(request: Request, channel: Channel, names: tuple[str, ...]) -> Response:
    """Read the body, route the SMS or call, keep it in the sending phone's thread, answer with the outcome."""
    platform: Platform = request.app.state.platform
    fields = await _fields(request, names)
    if isinstance(fields, JSONResponse):
        return fields
    try:
        inbound = Inbound.create(
            sender=fields["from"],
            recipient=fields["to"],
            text=fields.get("text", ""),
            channel=channel,
            gateway=GATEWAY,
            message_id=uuid.uuid4().hex,
            regions=platform.settings.regions,
        )
    except KodeordError as exc:
        return _error(400, str(exc))
    outcome = await _route(platform, inbound)
    if isinstance(outcome, JSONResponse):
        return outcome
    answer: dict[str, Any] = {}
    judged = verdict(outcome, inbound.recipient)
    if channel is Channel.CALL:
        answer = {"call": outcome.call or {"hangup": "busy"}}  # as the 46elks voice webhook answers
        answer["answer"] = describe_call(answer["call"])
    entry = {
        "id": inbound.message_id,
        "at": int(time.time() * 1000),
        "direction": "sent",
        "channel": channel.value,
        "peer": inbound.recipient,
        "text": inbound.text,
        "status": outcome.status,
        **judged,
        **answer,
        "replies": outcome.replies,
    }
    try:
        await run_in_threadpool(record, platform.redis, entry, inbound.sender)
    except REDIS_ERRORS:
        return _error(503, "Redis is unavailable; try again")
    return JSONResponse(outcome.to_dict() | judged | answer | {"entry": entry})


async def page(request: Request) -> Response:
    """The simulator page, showing the phone ``?phone=`` (or the first one)."""
    platform: Platform = request.app.state.platform
    wanted, problem, current = request.query_params.get("phone", ""), "", DEFAULT_PHONE
    if wanted:
        try:
            current = phones.parse(wanted, platform.settings.regions)
        except KodeordError:
            problem = f"{wanted[:40]} är inte ett telefonnummer. Skriv till exempel 070-123 45 67 eller +4670…"
    offered = await run_in_threadpool(offered_phones, platform.redis, current)
    index = platform.catalog.index
    numbers = sorted(index.config.numbers.values(), key=lambda n: n.address)
    services = sorted(index.config.services.values(), key=lambda s: s.key)
    voice = [
        {"address": address, "service": service.key, "words": " ".join(filter(None, (service.keyword, words)))}
        for address, (service, words) in sorted(index.calls.items())
    ]
    html = _pages.get_template("simulator.html").render(
        numbers=[{"address": n.address, "type": TEXTABLE[n.type]} for n in numbers if n.type in TEXTABLE],
        voice=voice,
        services=services,
        phones=offered,
        phone=current,
        problem=problem,
        max_text=MAX_TEXT,
    )
    return HTMLResponse(html, status_code=400 if problem else 200)


async def send(request: Request) -> Response:
    """POST JSON ``{"from", "to", "text"}``: route the SMS; the outcome, with ``rejected``, ``reason``
    and ``summary`` in Swedish and the thread's ``entry``."""
    return await _take(request, Channel.SMS, ("from", "to", "text"))


async def call(request: Request) -> Response:
    """POST JSON ``{"from", "to"}``: call ``to`` as the voice gateway's webhook would report it; the outcome,
    with the ``call`` answer (46elks call actions) and ``answer``, what the caller heard, in Swedish."""
    return await _take(request, Channel.CALL, ("from", "to"))


async def inbox(request: Request) -> Response:
    """``?phone=``: its ``thread`` (oldest first) and the ``messages`` delivered to it (newest first)."""
    platform: Platform = request.app.state.platform
    try:
        address = phones.parse(request.query_params.get("phone", ""), platform.settings.regions)
    except KodeordError as exc:
        return _error(400, str(exc))
    try:
        entries, delivered = await run_in_threadpool(thread, platform.redis, address)
    except REDIS_ERRORS:
        return _error(503, "Redis is unavailable; try again")
    return JSONResponse({"phone": address, "thread": entries, "messages": delivered})


def routes() -> list[BaseRoute]:
    """The simulator's routes."""
    return [
        Route("/simulator", page),
        Route("/simulator/send", send, methods=["POST"]),
        Route("/simulator/call", call, methods=["POST"]),
        Route("/simulator/inbox", inbox),
    ]

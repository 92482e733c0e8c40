"""JSON gateway: a generic webhook gateway for any SMS provider, signed with HMAC-SHA256 both ways.

In the gateways file::

    gateways:
      hook:
        type: json
        send_url: https://sms.example.com/kodeord   # where Kodeord POSTs outgoing messages
        secret: ${HOOK_SECRET}                      # the shared key, for both directions

Every request, in either direction, is a POST of a UTF-8 JSON object signed with the shared secret. The
signature covers ``"<timestamp>.<raw body>"``, the timestamp being Unix seconds, and travels in two headers::

    X-Kodeord-Timestamp: 1718000000
    X-Kodeord-Signature: sha256=<hex HMAC-SHA256 of "1718000000.<raw body>" under the secret>

A request whose timestamp is more than 300 s away from the receiver's clock is refused, so a captured
request cannot be replayed later. Sign the exact bytes you send and check the exact bytes you received
(never a re-serialised copy). Signing and checking, in Python::

    import hashlib
    import hmac
    import time

    def sign(secret, body):
        timestamp = str(int(time.time()))
        digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
        return {"X-Kodeord-Timestamp": timestamp, "X-Kodeord-Signature": "sha256=" + digest}

    def verify(secret, body, headers):
        timestamp = headers.get("X-Kodeord-Timestamp", "")
        if not (timestamp.isascii() and timestamp.isdigit()) or abs(time.time() - int(timestamp)) > 300:
            return False
        digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
        given = headers.get("X-Kodeord-Signature", "").encode()  # as bytes: any text may arrive in a header
        return hmac.compare_digest(("sha256=" + digest).encode(), given)

Inbound: the provider POSTs each SMS it receives to ``<public url>/gateways/<gateway id>/json``::

    {"id": "abc123", "from": "+46701234567", "to": "72500", "text": "MELLO 07", "channel": "sms"}

``id`` is the provider's message id (at most 200 characters): a message posted twice under one id is taken
once. ``channel`` is ``sms`` (the default) or ``call``; ``text`` may be left out for a call. Other keys are
ignored. Answers: 200 ``{"status": "handled", "replies": 1, "duplicate": false}`` (``status`` is the router's
outcome, ``replies`` the number of replies queued); 400 with the reason as text for a body that is not such an
object or a bad number; 401 for a missing, wrong or stale signature (logged; nothing else happens); 405 for
anything but POST; 413 for a body over 64 KiB; 503 while Redis is unreachable (post the message again). Replies
never travel in the answer: they are sent like any outgoing message, with routing, retries and reports.

Outbound: Kodeord POSTs each message to ``send_url`` with the signature headers, ``Content-Type:
application/json`` and ``Idempotency-Key: <id>``::

    {"id": "7b4d822e9d5a56e6e66d:0", "ref": "s:tv/mello|7b4d822e9d5a56e6e66d:0", "from": "72500", "to": "+46701234567",
     "text": "Tack för rösten på 07", "encoding": "gsm7", "segments": 1,
     "price": "5.00", "callback_url": "https://kodeord.example.com/gateways/hook/json/dlr"}

``id`` is the idempotency key (a reply's is the id of the message it answers, as ``kodeord messages`` shows it,
and its number among the replies): a retry of the same message carries the same id, and the provider should send
a message only once per id (``Idempotency-Key`` holds the id too, percent-encoded where it is not printable
ASCII). ``ref`` names the message in delivery reports. ``encoding`` (``gsm7`` or ``ucs2``) and ``segments``
say how Kodeord counted the text. ``price`` (what the recipient is charged) is there only for a premium
message through a gateway with ``charging: true``; ``callback_url`` only while ``dlr`` is on (the default).

The provider's answer decides the message's fate: 2xx accepted (an ``"id"`` in a JSON answer is kept as the
provider's reference); 409 accepted too, as it means the provider already took a message under that
idempotency key (an earlier try whose answer was lost); 408 and 429 a retry; any other 4xx refused for good,
the status and the start of the body recorded as the reason; 5xx, any other status, no answer or a timeout a
retry, with the same id.

Delivery reports: the provider POSTs, signed, to the ``callback_url`` it was given::

    {"ref": "s:tv/mello|7b4d822e9d5a56e6e66d:0", "status": "delivered", "reason": "optional detail"}

``status`` is ``delivered`` or ``failed``. Answers: 200; 400 for a bad body or another status; 401 for a bad
signature; 404 for a message Kodeord does not know, or did not send through this gateway.
"""

from __future__ import annotations

import http.client
import json
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from kodeord import hookimpl
from kodeord.config.schema import Field, Flag, Number, Record, Text
from kodeord.inbound import signing, webhooks
from kodeord.outbound import status
from kodeord.outbound.gateway import Endpoint, GatewayContext, GatewayType, Outgoing, RequestPerMessage, Sent, Status
from kodeord.support.httpclient import Answer, HttpClient
from kodeord.support.redis_client import REDIS_ERRORS

if TYPE_CHECKING:
    from kodeord.platform import Platform

OPTIONS = Record(
    "json options",
    {
        "send_url": Field(
            Text("an http(s) URL such as https://sms.example.com/kodeord", pattern=r"https?://[^\s/?#]+\S*"),
            required=True,
            doc="where Kodeord POSTs outgoing messages",
        ),
        "secret": Field(
            Text("a shared secret", pattern=r"(?s).*\S.*"), required=True, doc="the HMAC-SHA256 key for both directions"
        ),
        "dlr": Field(Flag(), default=True, doc="ask for delivery reports (send callback_url)"),
        "timeout": Field(Number("seconds", minimum=0.1, maximum=120), default=10),
        "connections": Field(
            Number("a count", minimum=1, maximum=64, integer=True),
            default=4,
            doc="requests in flight at once per worker",
        ),
    },
)

MAX_BODY = 64 * 1024  # far above any message; stops abuse of the endpoints
INBOUND_CHANNELS = ("sms", "call")
REPORTED = {"delivered": Status.DELIVERED, "failed": Status.FAILED}
RETRIED_4XX = {408, 429}  # a timeout or throttling is temporary; any other 4xx is about the message itself
_KEY_SAFE = "".join(chr(c) for c in range(0x21, 0x7F) if chr(c) != "%")  # printable ASCII but '%'


def idempotency_key(message_id: str) -> str:
    """The ``Idempotency-Key`` header: ``message_id`` with all but printable ASCII (and ``%``) percent-encoded."""
    return quote(message_id, safe=_KEY_SAFE)


def provider_ref(answer: Answer) -> str:
    """The provider's own id of the message from a JSON answer's ``"id"``, or ``""``."""
    try:
        data = json.loads(answer.body)
    except (ValueError, RecursionError):
        return ""
    ref = data.get("id") if isinstance(data, dict) else None
    return str(ref)[:200] if isinstance(ref, (str, int)) and not isinstance(ref, bool) else ""


def parse_object(body: bytes) -> dict[str, Any]:
    """The JSON object in ``body``; 400 with the reason for anything else."""
    try:
        data = json.loads(body.decode("utf-8"))
    except RecursionError:
        raise webhooks.bad_request("body is not JSON: nested too deeply") from None
    except ValueError as exc:  # UnicodeDecodeError and JSONDecodeError both are
        raise webhooks.bad_request(f"body is not UTF-8 JSON: {exc}") from None
    if not isinstance(data, dict):
        raise webhooks.bad_request("body must be a JSON object")
    return data


def strings(data: Mapping[str, Any], required: Sequence[str], optional: Sequence[str] = ()) -> dict[str, str]:
    """The named string fields of ``data`` (absent optional ones left out); 400 naming every one that is wrong."""
    missing = [name for name in required if data.get(name) is None]
    if missing:
        raise webhooks.bad_request(f"missing {', '.join(missing)}")
    found = {name: data[name] for name in (*required, *optional) if data.get(name) is not None}
    wrong = [name for name, value in found.items() if not isinstance(value, str)]
    if wrong:
        raise webhooks.bad_request(f"{', '.join(wrong)} must be text")
    for name, value in found.items():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate, which JSON's \\u escapes allow
            raise webhooks.bad_request(f"{name} is not valid Unicode") from None
    return found


class JsonGateway(RequestPerMessage):
    """Sends through any provider that speaks the signed JSON webhook format of this module."""

    def __init__(self, gateway_id: str, options: Mapping[str, Any], context: GatewayContext) -> None:
        self.id = gateway_id
        self.send_url = str(options["send_url"])
        self.secret = str(options["secret"])
        self.dlr = bool(options.get("dlr", True))
        self.charging = bool(options.get("charging", False))
        self.rate = float(options.get("rate", 0))
        self.callback_url = f"{context.public_url}/gateways/{gateway_id}/json/dlr"
        self.http = HttpClient(float(options["timeout"]))
        self.connections = int(options["connections"])

    # -- sending ---------------------------------------------------------------------------------------------

    def payload(self, item: Outgoing) -> dict[str, Any]:
        """The JSON object POSTed for one message (see the module docstring)."""
        message = item.message
        body: dict[str, Any] = {
            "id": item.id,
            "ref": item.ref,
            "from": message.sender,
            "to": message.to,
            "text": message.text,
            "encoding": message.info.encoding.value,
            "segments": message.info.segments,
        }
        if message.price and self.charging:
            body["price"] = message.price
        if self.dlr:
            body["callback_url"] = self.callback_url
        return body

    def send_one(self, item: Outgoing) -> Sent:
        """One signed POST: 2xx or 409 sent, 408/429/5xx/no answer a retry, any other 4xx refused for good."""
        body = json.dumps(self.payload(item), ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        headers = {
            **signing.sign(self.secret, body),
            "Content-Type": "application/json",
            "Idempotency-Key": idempotency_key(item.id),
        }
        try:
            answer = self.http.request("POST", self.send_url, body, headers)
        except (OSError, http.client.HTTPException) as exc:
            return Sent(item.id, "retry", f"json gateway unreachable: {exc}")
        if 200 <= answer.status < 300 or answer.status == 409:  # 409: taken earlier under this idempotency key
            return Sent.ok(item.id, provider_ref(answer))
        reason = f"json gateway {answer.status}: {answer.text[:200]}"
        refused = 400 <= answer.status < 500 and answer.status not in RETRIED_4XX
        return Sent(item.id, "failed" if refused else "retry", reason)

    # -- endpoints -------------------------------------------------------------------------------------------

    async def signed_object(self, request: Request) -> dict[str, Any]:
        """The JSON object of a signed POST; 405, 413, 401 (logged) or 400 otherwise."""
        webhooks.only_post(request)
        body = await webhooks.read_body(request, MAX_BODY)
        try:
            signing.verify(
                self.secret,
                body,
                request.headers.get(signing.TIMESTAMP_HEADER),
                request.headers.get(signing.SIGNATURE_HEADER),
            )
        except signing.SignatureError as exc:
            raise webhooks.unauthorized(request, self.id, str(exc)) from None
        return parse_object(body)

    async def inbound(self, request: Request, platform: Platform) -> Response:
        """Take one signed inbound message; answer with the router's outcome as JSON."""
        data = await self.signed_object(request)
        fields = strings(data, ("id", "from", "to"), ("text", "channel"))
        channel = fields.get("channel", "sms")
        if channel not in INBOUND_CHANNELS:
            raise webhooks.bad_request(f"channel must be one of {', '.join(INBOUND_CHANNELS)}, not {channel!r}")
        if channel == "sms" and "text" not in fields:
            raise webhooks.bad_request("missing text")
        outcome = await webhooks.receive(
            platform,
            sender=fields["from"],
            recipient=fields["to"],
            gateway=self.id,
            message_id=fields["id"],
            text=fields.get("text", ""),
            channel=channel,
        )
        return JSONResponse({"status": outcome.status, "replies": len(outcome.replies), "duplicate": outcome.duplicate})

    async def delivery_report(self, request: Request, platform: Platform) -> Response:
        """Apply one signed delivery report to a message this gateway sent."""
        data = await self.signed_object(request)
        fields = strings(data, ("ref", "status"), ("reason",))
        ref, state = fields["ref"], REPORTED.get(fields["status"])
        if state is None:
            raise webhooks.bad_request(f"status must be delivered or failed, not {fields['status']!r}")
        try:
            record = status.read(platform.redis, ref, platform.retention)
        except ValueError as exc:
            raise webhooks.bad_request(str(exc)) from None
        except REDIS_ERRORS:
            raise webhooks.Refused(webhooks.text(503, "temporarily unavailable; retry", {"Retry-After": "1"})) from None
        # A provider reports only on its own messages. No gateway yet: the report beat the sender's record of
        # the provider's answer, so the message is in flight through some gateway; let the report apply.
        if record is not None and record.get("gateway", self.id) != self.id:
            return webhooks.text(404, f"no message {ref} sent through gateway {self.id}")
        return webhooks.report(platform, ref, state, fields.get("reason") or f"json dlr {fields['status']}")


def endpoints(gateway: Any) -> Mapping[str, Endpoint]:
    """``json`` (inbound messages) and ``json/dlr`` (delivery reports)."""
    return {"json": gateway.inbound, "json/dlr": gateway.delivery_report}


JSON_GATEWAY = GatewayType(
    name="json",
    options=OPTIONS,
    build=JsonGateway,
    endpoints=endpoints,
    description="any provider: signed JSON webhooks inbound and for delivery reports, signed JSON POSTs outbound",
)


@hookimpl
def kodeord_register_gateway_types(register: Callable[[GatewayType], None]) -> None:
    """Offer the ``json`` gateway type."""
    register(JSON_GATEWAY)

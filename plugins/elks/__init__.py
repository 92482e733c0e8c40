"""46elks gateway (and 46elks-compatible APIs): inbound as a form POST to the number's ``sms_url``, outbound
through ``POST {api_url}/sms``, delivery reports to the ``whendelivered`` URL of each message.

On 46elks' side, point the number's ``sms_url`` at this gateway's ``elks`` endpoint, with the secret in the
query string or with basic auth in the URL (46elks sends the user and password as an Authorization header):

    sms_url = https://HOST/gateways/<id>/elks?secret=S
    sms_url = https://USER:PASSWORD@HOST/gateways/<id>/elks

Calls: point a voice number's ``voice_start`` at ``https://HOST/gateways/<id>/elks/voice?secret=S``. Each
call is an inbound event of channel ``call`` (its ``callid`` the message id, so a retried webhook is the same
call); the answer is the JSON call actions the service decided, e.g. ``{"play": "https://.../thanks.mp3"}``.
Calls placed by Kodeord (the hot button) go out through ``POST {api_url}/calls``.

On ours, in the gateways file:

    gateways:
      <id>:
        type: elks
        api_user: ${ELKS_USER}            # the API username and password of the 46elks account
        api_password: ${ELKS_PASSWORD}
        inbound_secret: ${ELKS_SECRET}    # S above; or inbound_user and inbound_password

46elks posts ``id``, ``from``, ``to``, ``message``, ``direction`` and ``created`` form-encoded in UTF-8. The
message is timed by its arrival here, like every other gateway's, not by ``created``. Our answer has an empty
body: 46elks would send a non-empty one as a reply SMS, and replies go through the API instead, so they get
routing, retries and delivery reports.
"""

from __future__ import annotations

import base64
import http.client
import json
import logging
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode

from starlette.requests import Request
from starlette.responses import Response

from kodeord import hookimpl
from kodeord.config.schema import Field, Flag, Number, Record, Text
from kodeord.inbound import signing, webhooks
from kodeord.inbound.messages import MAX_TEXT
from kodeord.outbound.gateway import CallFailed, GatewayContext, GatewayType, Outgoing, RequestPerMessage, Sent, Status
from kodeord.support.httpclient import Answer, HttpClient

if TYPE_CHECKING:
    from kodeord.platform import Platform

log = logging.getLogger(__name__)

OPTIONS = Record(
    "elks options",
    {
        "api_url": Field(
            Text("a URL such as https://api.46elks.com/a1", pattern=r"https?://\S+"),
            default="https://api.46elks.com/a1",
            doc="the API's base URL; messages go to its /sms",
        ),
        "api_user": Field(Text(), required=True, doc="the account's API username (HTTP basic auth)"),
        "api_password": Field(Text(), required=True, doc="its API password"),
        **webhooks.credential_fields("sms_url"),
        "dlr": Field(Flag(), default=True, doc="ask for delivery reports (whendelivered)"),
        "timeout": Field(Number("seconds", minimum=0.1, maximum=120), default=10),
        "connections": Field(
            Number("a count", minimum=1, maximum=64, integer=True),
            default=4,
            doc="API requests in flight at once per worker",
        ),
    },
)

FORM = "application/x-www-form-urlencoded"
# The longest text we take, every character 4 UTF-8 bytes and every byte percent-encoded, and the other fields.
MAX_BODY = MAX_TEXT * 4 * 3 + 8_000
RETRY_CODES = frozenset({408, 429})  # client errors that say "not now" rather than "never"
_DLR_STATES = {"delivered": Status.DELIVERED, "failed": Status.FAILED}  # "sent" (to the operator): no change


async def read_form(request: Request) -> dict[str, str]:
    """The fields of a form-encoded UTF-8 body (the first of repeated fields); 400 for anything else."""
    media_type = request.headers.get("content-type", FORM).partition(";")[0].strip().lower()
    if media_type != FORM:
        raise webhooks.bad_request(f"the body must be {FORM}, not {media_type or 'untyped'}")
    body = await webhooks.read_body(request, MAX_BODY)
    try:
        pairs = parse_qsl(
            body.decode("utf-8"), keep_blank_values=True, strict_parsing=True, encoding="utf-8", errors="strict"
        )
    except UnicodeDecodeError:
        raise webhooks.bad_request("the body is not UTF-8") from None
    except ValueError:
        raise webhooks.bad_request("the body is not form data (name=value&...)") from None
    fields: dict[str, str] = {}
    for name, value in pairs:
        fields.setdefault(name, value)
    return fields


class ElksGateway(RequestPerMessage):
    """Sends through one 46elks account's API."""

    def __init__(self, gateway_id: str, options: Mapping[str, Any], context: GatewayContext) -> None:
        self.id = gateway_id
        self.options = options
        self.context = context
        self.charging = bool(options.get("charging", False))
        self.rate = float(options.get("rate", 0))
        self.http = HttpClient(float(options["timeout"]))
        self.connections = int(options["connections"])
        self.sms_url = str(options["api_url"]).rstrip("/") + "/sms"
        self.calls_url = str(options["api_url"]).rstrip("/") + "/calls"
        login = f"{options['api_user']}:{options['api_password']}".encode()
        self.headers = {"Authorization": "Basic " + base64.b64encode(login).decode("ascii"), "Content-Type": FORM}

    def dlr_url(self, ref: str) -> str:
        """The ``whendelivered`` URL of message ``ref``: 46elks posts its reports there."""
        sig = signing.token(self.context.secret_key, self.id, ref)
        return f"{self.context.public_url}/gateways/{self.id}/elks/dlr?{urlencode({'ref': ref, 'sig': sig})}"

    def request_body(self, item: Outgoing) -> bytes:
        """The form that sends one message.

        ``price`` is not part of 46elks' API (46elks has no premium SMS): it is sent only by a gateway with
        ``charging: true``, for 46elks-compatible providers of premium messages that take the price there.
        """
        message = item.message
        fields = {"from": message.sender, "to": message.to, "message": message.text}
        if self.options.get("dlr"):
            fields["whendelivered"] = self.dlr_url(item.ref)
        if message.price and self.charging:
            fields["price"] = message.price
        return urlencode(fields).encode("ascii")

    def send_one(self, item: Outgoing) -> Sent:
        """One API request: 2xx sent, 4xx refused for good (408 and 429 retried), 5xx or no answer a retry."""
        try:
            answer = self.http.request("POST", self.sms_url, self.request_body(item), self.headers)
        except (OSError, http.client.HTTPException) as exc:
            return Sent(item.id, "retry", f"elks unreachable: {exc}")
        if 200 <= answer.status < 300:
            return Sent.ok(item.id, gateway_ref=self.message_id(answer))
        reason = f"elks {answer.status}: {answer.text[:200]}"
        permanent = 400 <= answer.status < 500 and answer.status not in RETRY_CODES
        return Sent(item.id, "failed" if permanent else "retry", reason)

    def message_id(self, answer: Answer) -> str:
        """46elks' id of an accepted message, from its JSON answer ("" if the answer has none)."""
        try:
            data = json.loads(answer.body)
        except ValueError:
            data = None
        if isinstance(data, dict) and isinstance(data.get("id"), str):
            return data["id"]
        # Accepted all the same: sending it again would send it twice.
        log.warning("gateway %s: accepted without a message id: %.200s", self.id, answer.text)
        return ""

    # -- endpoints -------------------------------------------------------------------------------------------

    async def inbound(self, request: Request, platform: Platform) -> Response:
        """The number's ``sms_url``: take one SMS; answer with an empty 200 (replies go through the API)."""
        webhooks.only_post(request)
        webhooks.check_credentials(request, self.id, self.options, request.query_params.get("secret"))
        fields = await read_form(request)
        missing = [k for k in ("id", "from", "to", "message") if k not in fields or (k != "message" and not fields[k])]
        if missing:
            raise webhooks.bad_request(f"missing {', '.join(missing)} (46elks posts id, from, to and message)")
        outcome = await webhooks.receive(
            platform,
            sender=fields["from"],
            recipient=fields["to"],
            gateway=self.id,
            message_id=fields["id"],
            text=fields["message"],
        )
        return Response(b"", status_code=200, headers={"X-Kodeord-Status": outcome.status})

    async def voice(self, request: Request, platform: Platform) -> Response:
        """A voice number's ``voice_start``: the call is an inbound event; answer with its call actions.

        46elks posts ``callid``, ``from``, ``to``, ``direction`` and ``created``. A call nobody's rules take is
        answered ``{"hangup": "busy"}``.
        """
        webhooks.only_post(request)
        webhooks.check_credentials(request, self.id, self.options, request.query_params.get("secret"))
        fields = await read_form(request)
        missing = [k for k in ("callid", "from", "to") if not fields.get(k)]
        if missing:
            raise webhooks.bad_request(f"missing {', '.join(missing)} (46elks posts callid, from and to)")
        outcome = await webhooks.receive(
            platform,
            sender=fields["from"],
            recipient=fields["to"],
            gateway=self.id,
            message_id=fields["callid"],
            channel="call",
        )
        answer = outcome.call or {"hangup": "busy"}
        return Response(
            json.dumps(answer),
            media_type="application/json",
            headers={"X-Kodeord-Status": "duplicate" if outcome.duplicate else outcome.status},
        )

    def place_call(self, caller_id: str, to: str, actions: Mapping[str, Any]) -> str:
        """``POST {api_url}/calls``: call ``to`` from ``caller_id`` and run ``actions`` when answered."""
        body = urlencode({"from": caller_id, "to": to, "voice_start": json.dumps(actions)}).encode("ascii")
        try:
            answer = self.http.request("POST", self.calls_url, body, self.headers)
        except (OSError, http.client.HTTPException) as exc:
            raise CallFailed(f"elks unreachable: {exc}") from None
        if not 200 <= answer.status < 300:
            raise CallFailed(f"elks {answer.status}: {answer.text[:200]}")
        return self.message_id(answer)

    async def delivery_report(self, request: Request, platform: Platform) -> Response:
        """A message's ``whendelivered`` URL: ``ref`` and ``sig`` in the query, the report in the form.

        46elks posts ``id``, ``status`` and ``delivered`` (the time); a status of ``delivered`` or ``failed``
        settles the message, ``sent`` (handed to the operator) changes nothing.
        """
        webhooks.only_post(request)
        ref, sig = request.query_params.get("ref", ""), request.query_params.get("sig", "")
        if not ref or not signing.check_token(self.context.secret_key, sig, self.id, ref):
            raise webhooks.unauthorized(request, self.id, "delivery report without a valid signature")
        fields = await read_form(request)
        reported = fields.get("status", "")
        if reported == "sent":
            return webhooks.text(200, "ignored status sent")
        state = _DLR_STATES.get(reported)
        if state is None:
            raise webhooks.bad_request(f"status must be delivered, failed or sent, not {reported[:40]!r}")
        detail = f"elks {reported}"
        if fields.get("delivered"):
            detail += f" at {fields['delivered']}"
        if fields.get("id"):
            detail += f" (elks id {fields['id']})"
        return webhooks.report(platform, ref, state, detail)


def endpoints(gateway: Any) -> Mapping[str, Callable[..., Any]]:
    """``elks`` (inbound SMS), ``elks/voice`` (inbound calls) and ``elks/dlr`` (delivery reports)."""
    return {"elks": gateway.inbound, "elks/voice": gateway.voice, "elks/dlr": gateway.delivery_report}


ELKS = GatewayType(
    name="elks",
    options=OPTIONS,
    build=ElksGateway,
    endpoints=endpoints,
    description="46elks: form POST inbound to sms_url and voice_start, POST /a1/sms and /a1/calls outbound, "
    "whendelivered reports",
)


@hookimpl
def kodeord_register_gateway_types(register: Callable[[GatewayType], None]) -> None:
    """Offer the ``elks`` gateway type."""
    register(ELKS)

"""Kannel gateway: inbound through an sms-service ``get-url``/``post-url``, outbound through
``/cgi-bin/sendsms``, delivery reports through ``dlr-url``.

Kannel's side (kannel.conf) and ours (the gateways file) are shown in docs/gateways.md. Inbound:

    get-url = "http://HOST:PORT/gateways/<id>/kannel?from=%p&to=%P&text=%a&id=%I&smsc=%i&coding=%c&charset=%C&secret=S"

The text arrives percent-encoded in whatever charset Kannel had: the one ``charset`` names when that is a text
encoding (:func:`kodeord.inbound.encoding.text_codec`; any other label is ignored) and the text decodes in it, UCS-2
(UTF-16BE) when ``coding=2``, UTF-8 when nothing says otherwise and it decodes, else Windows-1252 (Kannel's
default for 7-bit and 8-bit texts, a superset of Latin-1). Replies are never returned in the HTTP answer (set
``max-messages = 0`` on the sms-service); they are sent through sendsms so they get routing, retries and
delivery reports.
"""

from __future__ import annotations

import functools
import http.client
import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode, urlsplit

from starlette.requests import Request
from starlette.responses import Response

from kodeord import hookimpl
from kodeord.config.schema import Field, Flag, Number, Record, Text
from kodeord.inbound import signing, webhooks
from kodeord.inbound.encoding import Encoding, text_codec
from kodeord.inbound.messages import MAX_TEXT
from kodeord.outbound.gateway import GatewayContext, GatewayType, Outgoing, Report, Sent, Status
from kodeord.outbound.httppool import HttpPool
from kodeord.support.httpclient import Answer, HttpClient
from kodeord.web.params import parse_whole

if TYPE_CHECKING:
    from kodeord.platform import Platform

log = logging.getLogger(__name__)

OPTIONS = Record(
    "kannel options",
    {
        "sendsms_url": Field(Text("a URL such as http://kannel:13013/cgi-bin/sendsms"), required=True),
        "username": Field(Text(), required=True, doc="a sendsms-user's username"),
        "password": Field(Text(), required=True, doc="its password"),
        "smsc": Field(Text(), doc="force this smsc-id for outbound messages"),
        **webhooks.credential_fields("get-url"),
        "dlr": Field(Flag(), default=True, doc="ask for delivery reports"),
        "timeout": Field(Number("seconds", minimum=0.1, maximum=120), default=10),
        "connections": Field(
            Number("a count", minimum=1, maximum=64, integer=True),
            default=8,
            doc="sendsms requests in flight at once per worker",
        ),
    },
)

DLR_MASK = 1 | 2 | 16  # delivered, failed, rejected by the SMSC
_DLR_STATES = {1: Status.DELIVERED, 2: Status.FAILED, 16: Status.FAILED}  # 4 buffered, 8 accepted by SMSC: no change
MAX_FIELD = 2000
MAX_BODY = MAX_TEXT * 4  # a post-url body: the longest text we take, in 4-byte UTF-8 characters


def decode_text(raw: bytes, charset: str | None, coding: str | None) -> str:
    """The message text from Kannel's bytes, whatever charset it used (see the module docstring)."""
    codec = text_codec(charset)
    if codec is not None:
        try:
            return raw.decode(codec)
        except UnicodeDecodeError:
            pass  # a wrong label: fall through to the evidence of the bytes
    if coding == "2" and len(raw) % 2 == 0:
        try:
            return raw.decode("utf-16-be")
        except UnicodeDecodeError:
            pass
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("cp1252", "replace")


@functools.lru_cache(maxsize=256)
def _quoted(text: str) -> str:
    """``text`` percent-encoded: a broadcast sends one text (and one sender) to every member, encoded once."""
    return quote(text, safe="")


class KannelGateway:
    """Sends through one Kannel's sendsms interface."""

    def __init__(self, gateway_id: str, options: Mapping[str, Any], context: GatewayContext) -> None:
        self.id = gateway_id
        self.options = options
        self.context = context
        self.charging = bool(options.get("charging", False))
        self.rate = float(options.get("rate", 0))
        self.http = HttpClient(float(options["timeout"]))
        self.connections = int(options["connections"])
        self._pool: HttpPool | None = None
        fixed = {"username": options["username"], "password": options["password"], "charset": "UTF-8"}
        if options.get("smsc"):
            fixed["smsc"] = options["smsc"]
        self._sendsms = urlsplit(options["sendsms_url"])
        path, query = self._sendsms.path or "/", self._sendsms.query
        self._fixed = f"{path}?{query + '&' if query else ''}{urlencode(fixed)}"  # the request target's fixed part
        self._dlr_base = f"{context.public_url}/gateways/{gateway_id}/kannel/dlr"

    def dlr_url(self, ref: str) -> str:
        """Where Kannel reports on message ``ref`` (``%d`` is Kannel's report type)."""
        sig = signing.token(self.context.secret_key, self.id, ref)
        return f"{self._dlr_base}?ref={quote(ref, safe='')}&sig={sig}&type=%d"

    def request_url(self, item: Outgoing) -> str:
        """The sendsms URL for one message."""
        return f"{self._sendsms.scheme}://{self._sendsms.netloc}{self.request_target(item)}"

    def request_target(self, item: Outgoing) -> str:
        """Path and query of the sendsms request for one message (the fixed parameters are encoded once)."""
        message = item.message
        coding = "2" if message.info.encoding is Encoding.UCS2 else "0"
        url = (
            f"{self._fixed}&from={_quoted(message.sender)}&to={quote(message.to, safe='')}"
            f"&text={_quoted(message.text)}&coding={coding}"
        )
        if self.options.get("dlr"):
            url += f"&dlr-mask={DLR_MASK}&dlr-url={quote(self.dlr_url(item.ref), safe='')}"
        if message.price and self.charging:
            url += f"&binfo={quote(message.price, safe='')}"  # billing info, passed to the SMSC
        return url

    def judge(self, message_id: str, answer: Answer | OSError | http.client.HTTPException) -> Sent:
        """Kannel's answer to one sendsms request: 2xx sent, 4xx refused for good, 5xx or none a retry."""
        if isinstance(answer, (OSError, http.client.HTTPException)):
            return Sent(message_id, "retry", f"kannel unreachable: {answer}")
        if 200 <= answer.status < 300:
            return Sent.ok(message_id)
        reason = f"kannel {answer.status}: {answer.text[:200]}"
        return Sent(message_id, "failed" if 400 <= answer.status < 500 else "retry", reason)

    def send(self, batch: Sequence[Outgoing], report: Report) -> None:
        """One sendsms request per message, ``connections`` in flight at once; each reported as answered."""
        self.send_groups(iter([batch]), report)

    def send_groups(self, groups: Iterator[Sequence[Outgoing]], report: Report) -> None:
        """Send group after group over the same connections, taking the next while the last is answered."""
        url = self._sendsms
        if url.scheme != "http" or not url.hostname:  # https: the general client, one request at a time
            for group in groups:
                for item in group:
                    try:
                        answer: Answer | OSError | http.client.HTTPException = self.http.request(
                            "GET", self.request_url(item)
                        )
                    except (OSError, http.client.HTTPException) as exc:
                        answer = exc
                    report(self.judge(item.id, answer))
            return
        if self._pool is None:
            self._pool = HttpPool(url.hostname, url.port or 80, self.connections, float(self.options["timeout"]))
        host = f"Host: {url.netloc}\r\n\r\n".encode()
        sending: list[Outgoing] = []  # every message handed to the pool so far, by its request index

        def more() -> list[bytes] | None:
            group = next(groups, None)
            if group is None:
                return None
            sending.extend(group)
            return [f"GET {self.request_target(item)} HTTP/1.1\r\n".encode() + host for item in group]

        self._pool.run([], lambda done: report(*(self.judge(sending[i].id, answer) for i, answer in done)), more)

    def close(self) -> None:
        """Close connections."""
        if self._pool is not None:
            self._pool.close()
        self.http.close()

    # -- endpoints -------------------------------------------------------------------------------------------

    async def inbound(self, request: Request, platform: Platform) -> Response:
        """Kannel's get-url/post-url: take one SMS; answer with an empty 200 (replies go through sendsms)."""
        params = webhooks.raw_query(request)
        secret = params.get("secret")
        webhooks.check_credentials(
            request, self.id, self.options, secret.decode("latin-1") if secret is not None else None
        )
        body = await webhooks.read_body(request, MAX_BODY) if request.method == "POST" else b""
        fields = {
            k: params[k].decode("latin-1") for k in ("from", "to", "id", "smsc", "coding", "charset") if k in params
        }
        charset = fields.get("charset")
        if "text" in params:
            raw = params["text"]
        elif request.method == "POST":  # post-url: the text is the body, its charset in the content type
            raw = body
            ctype = request.headers.get("content-type", "")
            for part in ctype.split(";")[1:]:
                key, _, value = part.strip().partition("=")
                if key.lower() == "charset":
                    charset = charset or value.strip('"')
            fields.setdefault("from", request.headers.get("x-kannel-from", ""))
            fields.setdefault("to", request.headers.get("x-kannel-to", ""))
        else:
            raw = b""
        missing = [k for k in ("from", "to", "id") if not fields.get(k)]
        if missing:
            raise webhooks.bad_request(f"missing {', '.join(missing)} (get-url needs from=%p&to=%P&text=%a&id=%I)")
        if any(len(v) > MAX_FIELD for v in fields.values()):
            raise webhooks.bad_request("a parameter is too long")
        outcome = await webhooks.receive(
            platform,
            sender=fields["from"],
            recipient=fields["to"],
            gateway=self.id,
            message_id=fields["id"],
            text=decode_text(raw, charset, fields.get("coding")),
            operator=fields.get("smsc", ""),
        )
        return Response(
            b"", status_code=200, headers={"X-Kodeord-Status": "duplicate" if outcome.duplicate else outcome.status}
        )

    async def delivery_report(self, request: Request, platform: Platform) -> Response:
        """Kannel's dlr-url: ``ref``, ``sig`` and ``type`` (1 delivered, 2 failed, 16 rejected; 4 and 8 ignored)."""
        params = {k: v.decode("utf-8", "replace") for k, v in webhooks.raw_query(request).items()}
        ref, sig = params.get("ref", ""), params.get("sig", "")
        if not ref or not signing.check_token(self.context.secret_key, sig, self.id, ref):
            raise webhooks.unauthorized(request, self.id, "delivery report without a valid signature")
        kind = parse_whole(params.get("type", ""), 1 << 16)
        if kind is None:
            raise webhooks.bad_request("type must be Kannel's %d (a number)")
        state = _DLR_STATES.get(kind)
        if state is None:
            return webhooks.text(200, f"ignored report type {kind}")
        return webhooks.report(platform, ref, state, f"kannel dlr type {kind}")


def endpoints(gateway: Any) -> Mapping[str, Callable[..., Any]]:
    """``kannel`` (inbound) and ``kannel/dlr`` (delivery reports)."""
    return {"kannel": gateway.inbound, "kannel/dlr": gateway.delivery_report}


KANNEL = GatewayType(
    name="kannel",
    options=OPTIONS,
    build=KannelGateway,
    endpoints=endpoints,
    description="Kannel: sms-service get-url inbound, /cgi-bin/sendsms outbound, dlr-url reports",
)


@hookimpl
def kodeord_register_gateway_types(register: Callable[[GatewayType], None]) -> None:
    """Offer the ``kannel`` gateway type."""
    register(KANNEL)

"""A whole Kodeord for fuzzing: three tenants (an address book, a televote with a competition, a fund), a
Kannel, a 46elks and a JSON gateway, served by a real uvicorn; requests as raw bytes over a socket, and every
ERROR record any logger writes kept, so a test sees tracebacks as well as answers."""

from __future__ import annotations

import base64
import logging
import socket
import textwrap
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote, urlencode

import httpx
import pytest
import redis
from starlette.applications import Starlette

from kodeord.inbound import signing
from kodeord.platform import Platform
from kodeord.testing.fakeelks import FakeElks
from kodeord.testing.fakekannel import running
from kodeord.web import apikeys
from kodeord.web.app import create_app

from .addressbook_rig import RULES as LIST_RULES
from .conftest import free_port
from .televote_rig import poll_rules

SECRET_KEY = "fuzz-key"
JSON_SECRET = "json-s3cret"
KANNEL_AUTH = ("kannel", "in-pw")
ELKS_AUTH = ("elks", "hemligt")
INBOUND_SECRET = "s3cret"
CALLER = "+46701000009"
MEMBER_EMAIL = "anna@example.com"
WIDE_EMAIL = "på@例子.com"  # valid, and not Latin-1: a header that names it must be encoded
MEMBER_PHONE = "+46701000001"
PENDING_PHONE = "+46701000002"
LOGGERS = ("", "uvicorn")  # uvicorn's loggers do not propagate to the root logger
TENANTS = ("forening", "tv", "hjalp")

CONTEST = """\
  - id: tavling
    number: "72500"
    keyword: TÄVLA
    calls: {"099-123 99": "X"}
    rules:
      - name: answer
        do: voting.enter
        with: {title: Veckans fråga, key: X, thanks: "https://media.example/tack.mp3"}
        reply: "Tack!"
"""

FUND_RULES = textwrap.dedent(
    """\
    tenant:
      id: hjalp
      name: Hjälpen
      timezone: Europe/Stockholm
      company: {name: Test AB, address: "Testgatan 1, 111 22 Stockholm",
                 customer_service: "08-123 45 67", hours: "mon-fri 09:00-17:00"}
    numbers:
      - {number: "72550", type: shared}
    services:
      - id: ge
        number: "72550"
        keyword: GE
        rules:
          - {name: give, do: donation.give, with: {campaign: jul-2026, payout_percent: 85}, reply: "Tack!",
             price: "9.90"}
    """
)

GATEWAYS = """\
gateways:
  k1:
    type: kannel
    sendsms_url: "{sendsms}"
    username: kodeord
    password: pw
    inbound_user: {kannel_user}
    inbound_password: {kannel_password}
    inbound_secret: {secret}
  e1:
    type: elks
    api_url: "{elks}/a1"
    api_user: u1
    api_password: p1
    inbound_user: {elks_user}
    inbound_password: {elks_password}
    inbound_secret: {secret}
  hook:
    type: json
    send_url: "{sendsms}"
    secret: {json_secret}
routing:
  routes:
    default:
      - {{gateway: k1, price: 0.05}}
"""


class ErrorLog(logging.Handler):
    """Keeps every record of level ERROR or above."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def report(self) -> str:
        """The records as text, with their tracebacks."""
        formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
        return "\n".join(formatter.format(record) for record in self.records)


@dataclass(frozen=True)
class Answer:
    """What a raw request got back: the status (0 when the connection closed without one) and the bytes."""

    status: int
    raw: bytes

    @property
    def head(self) -> bytes:
        """The status line and headers."""
        return self.raw.partition(b"\r\n\r\n")[0]


Headers = Sequence[tuple[bytes, bytes]]


@dataclass
class Site:
    """The served platform, its tenants' API keys, and the ERROR records logged since the rig started."""

    platform: Platform
    app: Starlette
    url: str
    port: int
    redis: redis.Redis
    keys: dict[str, str]  # tenant -> API key
    errors: ErrorLog
    http: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=10))

    def raw(self, method: bytes, target: bytes, headers: Headers = (), body: bytes = b"") -> Answer:
        """One HTTP/1.1 request written byte for byte (so any byte can go in the target and headers)."""
        lines = [method + b" " + target + b" HTTP/1.1", b"Host: 127.0.0.1", b"Connection: close"]
        lines += [name + b": " + value for name, value in headers]
        if body or method in (b"POST", b"PATCH", b"PUT"):
            if not any(name.lower() == b"content-length" for name, _ in headers):
                lines.append(b"Content-Length: " + str(len(body)).encode())
        request = b"\r\n".join(lines) + b"\r\n\r\n" + body
        chunks = []
        with socket.create_connection(("127.0.0.1", self.port), timeout=10) as sock:
            sock.sendall(request)
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        raw = b"".join(chunks)
        status_line = raw.partition(b"\r\n")[0].split(b" ")
        ok = len(status_line) >= 2 and status_line[0].startswith(b"HTTP/") and status_line[1].isdigit()
        return Answer(int(status_line[1]) if ok else 0, raw)

    def path_values(self) -> dict[str, tuple[str, ...]]:
        """Path parameter name -> values that name something that exists (so a request gets past the lookup)."""
        member = ["forening/medlemmar", MEMBER_PHONE]
        tokens = tuple(self.platform.links.token(f"addressbook-{page}", member) for page in ("join", "leave"))
        return {
            "list": ("medlemmar", "kris"),
            "member": (MEMBER_EMAIL, WIDE_EMAIL, MEMBER_PHONE, PENDING_PHONE),
            "role": ("writers", "functionaries"),
            "address": (MEMBER_PHONE, "kansli@example.se"),
            "broadcast": ("api:1",),
            "poll": ("mello", "senare"),
            "competition": ("tavling",),
            "draw": ("1", "0"),
            "token": tokens,
            "gateway": ("k1", "e1", "hook"),
            "path": ("kannel", "kannel/dlr", "elks", "elks/voice", "elks/dlr", "json", "json/dlr"),
        }

    def bearer(self, tenant: str) -> tuple[bytes, bytes]:
        """The Authorization header of the tenant's API key."""
        return b"Authorization", b"Bearer " + self.keys[tenant].encode()

    def dlr_sig(self, gateway: str, ref: str) -> str:
        """The signature a gateway's delivery-report URL carries for ``ref``."""
        return signing.token(SECRET_KEY, gateway, ref)

    def signed(self, body: bytes) -> list[tuple[bytes, bytes]]:
        """Headers that sign ``body`` for the JSON gateway."""
        return [(k.encode(), v.encode()) for k, v in signing.sign(JSON_SECRET, body).items()]


def basic(user: str, password: str) -> tuple[bytes, bytes]:
    """An HTTP basic auth header."""
    return b"Authorization", b"Basic " + base64.b64encode(f"{user}:{password}".encode())


def query(params: dict[str, str] | Sequence[tuple[str, str]]) -> str:
    """A query string, percent-encoded as UTF-8."""
    return urlencode(params, quote_via=quote)


@pytest.fixture
def site(
    make_platform: Callable[..., Platform], serve: Callable[..., str], tmp_path: Path, kodeord_redis: redis.Redis
) -> Iterator[Site]:
    """The rig, with two members by email, a member by phone, a pending joiner and a recent caller."""
    now = datetime.now(UTC)
    with running() as kannel:
        elks = serve(FakeElks().app())
        files = {
            "forening.yaml": LIST_RULES,
            "tv.yaml": poll_rules(now - timedelta(hours=1), now + timedelta(hours=1), CONTEST),
            "hjalp.yaml": FUND_RULES,
            "gateways.yaml": GATEWAYS.format(
                sendsms=kannel.url,
                elks=elks,
                secret=INBOUND_SECRET,
                json_secret=JSON_SECRET,
                kannel_user=KANNEL_AUTH[0],
                kannel_password=KANNEL_AUTH[1],
                elks_user=ELKS_AUTH[0],
                elks_password=ELKS_AUTH[1],
            ),
        }
        for name, text in files.items():
            (tmp_path / name).write_text(text, encoding="utf-8")
        port = free_port()
        platform = make_platform(
            [tmp_path / n for n in ("forening.yaml", "tv.yaml", "hjalp.yaml")],
            gateways=tmp_path / "gateways.yaml",
            public_url=f"http://127.0.0.1:{port}",
            secret_key=SECRET_KEY,
        )
        app = create_app(platform, simulator_enabled=True)
        url = serve(app, port)
        keys = {tenant: apikeys.create(kodeord_redis, tenant, "fuzz") for tenant in TENANTS}
        errors = ErrorLog()
        for name in LOGGERS:
            logging.getLogger(name).addHandler(errors)
        made = Site(platform, app, url, port, kodeord_redis, keys, errors)
        try:
            admin = made.http
            auth = {"Authorization": f"Bearer {keys['forening']}"}
            lists = f"{url}/api/addressbook/lists"
            for member in ({"email": MEMBER_EMAIL}, {"email": WIDE_EMAIL}, {"phone": MEMBER_PHONE}):
                assert admin.post(f"{lists}/medlemmar/members", json=member, headers=auth).status_code == 201
            joined = admin.get(
                f"{url}/gateways/k1/kannel",
                params={
                    "from": PENDING_PHONE,
                    "to": "+46766861005",
                    "text": "START",
                    "id": "seed-1",
                    "secret": INBOUND_SECRET,
                },
            )
            assert joined.status_code == 200, joined.text
            rang = admin.post(
                f"{url}/gateways/e1/elks/voice?secret={INBOUND_SECRET}",
                data={"callid": "seed-call", "from": CALLER, "to": "+469912345"},
            )
            assert rang.status_code == 200, rang.text
            assert not errors.records, errors.report()
            yield made
            assert not errors.records, errors.report()  # anything logged after its answer was checked
        finally:
            for name in LOGGERS:
                logging.getLogger(name).removeHandler(errors)
            made.http.close()

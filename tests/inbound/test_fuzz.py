"""Hostile input never gets a 500: every route the app lists, every gateway webhook and delivery-report
endpoint, with and without credentials, over real HTTP with raw bytes in the target, headers and body; no
answer may be 500 or more and nothing may be logged as an error.

``--hypothesis-profile=fuzz`` runs ten times as many examples (tests/conftest.py).
"""

from __future__ import annotations

import base64
import json
import re
import time
from types import SimpleNamespace
from typing import cast
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from starlette.routing import Route

from kodeord.inbound import signing
from kodeord.platform import Platform
from kodeord.support.manager import Hooks, make_manager
from kodeord.web.app import create_app
from kodeord.web.download import attachment

from .. import fuzz_rig
from ..fuzz_rig import (
    ELKS_AUTH,
    INBOUND_SECRET,
    KANNEL_AUTH,
    MEMBER_EMAIL,
    SECRET_KEY,
    TENANTS,
    Answer,
    Headers,
    Site,
    basic,
    query,
)
from ..hostile import (
    any_bytes,
    any_text,
    byte_fields,
    header_value,
    json_fields,
    mostly,
    percent,
    query_string,
    raw_json_body,
    utf8,
)

site = fuzz_rig.site  # the rig, as this module's fixture
SUPPRESSED = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large]


def fuzz(weight: float) -> settings:
    """Settings of a fuzz test: ``weight`` times the profile's ``max_examples``, no deadline (HTTP varies)."""
    return settings(
        max_examples=max(1, round(settings().max_examples * weight)), deadline=None, suppress_health_check=SUPPRESSED
    )


def send(site: Site, method: bytes, target: bytes, headers: Headers = (), body: bytes = b"") -> Answer:
    """One request; fails unless the answer is below 500 and nothing was logged as an error."""
    site.errors.records.clear()
    answer = site.raw(method, target, headers, body)
    logged, site.errors.records[:] = site.errors.report(), []  # reported here, not again when the rig stops
    assert answer.status, f"no answer (connection dropped) to {method!r} {target[:200]!r}"
    assert answer.status < 500, f"{method!r} {target[:200]!r} got {answer.raw[:500]!r}"
    assert not logged, logged
    return answer


def body_of(answer: Answer) -> bytes:
    return answer.raw.partition(b"\r\n\r\n")[2]


def header(answer: Answer, name: bytes) -> str:
    """The value of header ``name`` (lower case) in the answer, as Latin-1 text."""
    for line in answer.head.split(b"\r\n")[1:]:
        key, _, value = line.partition(b":")
        if key.strip().lower() == name:
            return value.strip().decode("latin-1")
    raise AssertionError(f"no {name!r} header in {answer.head!r}")


# -- who asks ------------------------------------------------------------------------------------------------

# ("none", b""), ("bearer" | "x-api-key", tenant), ("kannel" | "elks", b"") for the gateways' basic auth,
# ("secret", the secret= parameter's value), or ("raw", any Authorization value).
Who = tuple[str, bytes]
anybody: st.SearchStrategy[Who] = st.one_of(
    st.just(("none", b"")),
    st.tuples(st.sampled_from(["bearer", "x-api-key"]), st.sampled_from(TENANTS).map(str.encode)),
    st.tuples(st.sampled_from(["kannel", "elks"]), st.just(b"")),
    st.tuples(st.just("raw"), header_value),
)


def gateway_caller(user: str) -> st.SearchStrategy[Who]:
    """Mostly a gateway with its credentials (basic auth as ``user``, or the secret), else anybody."""
    right = st.sampled_from([(user, b""), ("secret", INBOUND_SECRET.encode())])
    return mostly(right, st.one_of(anybody, st.tuples(st.just("secret"), any_bytes)))


def auth_headers(site: Site, who: Who) -> list[tuple[bytes, bytes]]:
    kind, value = who
    if kind == "bearer":
        return [site.bearer(value.decode())]
    if kind == "x-api-key":
        return [(b"X-Api-Key", site.keys[value.decode()].encode())]
    if kind in ("kannel", "elks"):
        return [basic(*(KANNEL_AUTH if kind == "kannel" else ELKS_AUTH))]
    if kind == "raw":
        return [(b"Authorization", value)]
    return []


def secret_param(who: Who) -> list[tuple[bytes, bytes]]:
    return [(b"secret", who[1])] if who[0] == "secret" else []


content_type = st.one_of(
    st.none(),
    st.sampled_from(
        [
            b"application/json",
            b"application/json; charset=latin-1",
            b"application/x-www-form-urlencoded",
            b"application/x-www-form-urlencoded; charset=iso-8859-1",
            b"text/plain; charset=undefined",
            b"text/plain; charset=idna",
            b'text/plain; charset="utf-16"',
            b"multipart/form-data; boundary=x",
            b"application/json\xff",
            b";",
            b"text/plain; charset=\xc3\xa9",
        ]
    ),
    header_value,
)


def with_type(headers: list[tuple[bytes, bytes]], ctype: bytes | None) -> list[tuple[bytes, bytes]]:
    return headers + ([(b"Content-Type", ctype)] if ctype is not None else [])


form_body = st.lists(st.tuples(any_bytes, any_bytes), max_size=6).map(query_string)
some_body = st.one_of(st.just(b""), form_body, raw_json_body, st.binary(max_size=80))
PHONES = ("+46701234567", "0701234568", "+4791234567", "+46701000001", "+46701000009", "+46766861004")
phone = st.sampled_from(PHONES)
NUMBERS = ("72500", "72550", "+46766861004", "+46766861005", "+469912345", "+469912399")
number = st.sampled_from(NUMBERS)
message_id = st.integers(0, 10**6).map(lambda n: f"fz-{n}")
TEXTS = ("MELLO 03", "MELLO 99", "START", "STOPP", "JA", "GE", "GELITE", "TÄVLA X", "mello\x0003", "Hej på er 😀")
sms_text = st.one_of(st.sampled_from(TEXTS), any_text)
REFS = ("s:forening/kris|k1:seed-1:0", "s:tv/mello|k1:x:0", "s:tv/mello|hook:fz-1:0", "x|y", "|", "s:{x}|y", "")
ref = st.one_of(st.sampled_from(REFS), any_text)

# -- every route the app lists -------------------------------------------------------------------------------

QUERY = {
    "limit": st.integers(1, 1000).map(lambda n: str(n).encode()),
    "after": st.sampled_from([b"", b"0", b"7", b"+46701000001", b"\xc2\xb2", str(2**63 - 1).encode()]),
    "state": st.sampled_from([b"members", b"pending", b"unsubscribed"]),
    "format": st.sampled_from([b"csv", b"json"]),
    "from": st.sampled_from([b"2026-11-23", b"2026-02-30", "٢٠٢٦-01-01".encode()]),
    "until": st.sampled_from([b"2026-11-24", b"9999-12-31", b"0000-01-01"]),
    "phone": st.sampled_from(PHONES).map(str.encode),
}
# route path -> the query parameters it reads
QUERIES = {
    "/api/addressbook/lists/{list}/members": ("state", "after", "limit"),
    "/api/addressbook/lists/{list}/members/{member}/consent": ("format",),
    "/api/donation/totals": ("from", "until"),
    "/api/donation/settlement": ("from", "until", "format"),
    "/simulator/inbox": ("phone",),
}
EMAILS = st.one_of(
    st.emails(),
    st.sampled_from(
        [
            "a\r\nb@example.com",
            "a\nb@example.com",
            'a"b@example.com',
            "på@例子.com",
            "ä@exämple.com",
            "x@[1.2.3.4]",
            "a@b",
        ]
    ),
)
OPTIONS = {
    "name": any_text,
    "approval": st.sampled_from(["auto", "manual"]),
    "senders": st.sampled_from(["writers", "members"]),
    "language": st.sampled_from(["sv", "no", "en"]),
    "join_words": st.lists(any_text, max_size=3),
    "leave_words": st.lists(st.sampled_from(["STOPP", "SLUTA"]), min_size=1),
    "footer": any_text,
    "replies": st.dictionaries(st.sampled_from(["joined", "left", "welcome"]), any_text, max_size=2),
}
# (method, route path) -> the fields of its JSON body
BODIES: dict[tuple[str, str], dict[str, st.SearchStrategy[object]]] = {
    ("POST", "/api/addressbook/lists"): {
        "id": st.sampled_from(["nyhetsbrev", "a" * 65, "-x"]),
        "options": st.fixed_dictionaries({}, optional=OPTIONS),
    },
    ("PATCH", "/api/addressbook/lists/{list}"): {name: st.one_of(value, st.none()) for name, value in OPTIONS.items()},
    ("POST", "/api/addressbook/lists/{list}/members"): {
        "phone": phone,
        "email": EMAILS,
        "name": any_text,
        "note": any_text,
    },
    ("POST", "/api/addressbook/lists/{list}/{role:str}"): {"address": st.one_of(phone, EMAILS)},
    ("POST", "/api/addressbook/lists/{list}/broadcasts"): {"text": sms_text},
    ("POST", "/api/voting/polls/{poll}/hot-button"): {"seconds": st.integers(-10, 4000)},
    ("POST", "/api/voting/competitions/{competition}/draws"): {"winners": st.integers(-1, 200)},
    ("POST", "/simulator/send"): {"from": phone, "to": number, "text": sms_text},
}
TENANT_OF = {"/api/addressbook": "forening", "/api/voting": "tv", "/api/donation": "hjalp"}
METHODS = ("GET", "POST", "PATCH", "DELETE", "PUT", "OPTIONS")
PARAM = re.compile(r"\{(\w+)(?::\w+)?\}")


def listed_routes() -> dict[str, Route]:
    """The routes an app with every installed plugin and the simulator lists, by methods and path (listing them
    needs plugins, not a platform)."""
    app = create_app(cast(Platform, SimpleNamespace(hooks=Hooks(make_manager()))), simulator_enabled=True)
    return {f"{','.join(sorted(r.methods or ()))} {r.path}": r for r in app.routes if isinstance(r, Route)}


ROUTES = listed_routes()


@st.composite
def route_request(draw: st.DrawFn, site: Site, route: Route) -> tuple[bytes, bytes, Headers, bytes]:
    """(method, target, headers, body) of a request to ``route``, mostly one that gets past its first checks."""
    method = draw(mostly(st.sampled_from(sorted(route.methods or ())), st.sampled_from(METHODS)))
    known = site.path_values()

    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        hostile = any_text.map(lambda text: percent(utf8(text)).decode())
        good = st.sampled_from(known[name]).map(lambda value: quote(value, safe="/@+")) if name in known else hostile
        return draw(mostly(good, hostile))

    path = PARAM.sub(fill, route.path)
    params = draw(byte_fields({name: QUERY[name] for name in QUERIES.get(route.path, ())}))
    tenant = next((t for prefix, t in TENANT_OF.items() if route.path.startswith(prefix)), "forening")
    who = draw(mostly(st.just(("bearer", tenant.encode())), anybody))
    ctype = draw(mostly(st.just(b"application/json"), content_type))
    body = draw(mostly(json_fields(BODIES.get((method, route.path), {})), some_body))
    target = path.encode() + (b"?" + query_string(params) if params else b"")
    return method.encode(), target, with_type(auth_headers(site, who), ctype), body


@pytest.mark.parametrize("route", ROUTES.values(), ids=ROUTES.keys())
@fuzz(0.3)
@given(data=st.data())
def test_every_route_answers_hostile_requests_below_500(site: Site, route: Route, data: st.DataObject) -> None:
    send(site, *data.draw(route_request(site, route)))


@fuzz(3)
@given(
    who=anybody,
    extra=st.lists(
        st.tuples(
            st.sampled_from(
                [
                    b"Authorization",
                    b"X-Api-Key",
                    b"X-Kodeord-Signature",
                    b"X-Kodeord-Timestamp",
                    b"Content-Type",
                    b"Cookie",
                    b"X-Kannel-From",
                    b"Accept",
                ]
            ),
            header_value,
        ),
        max_size=4,
    ),
    target=st.sampled_from(
        [
            b"/",
            b"/healthz",
            b"/metrics",
            b"/api/whoami",
            b"/api/addressbook/lists",
            b"/api/voting/polls",
            b"/api/donation/totals",
            b"/simulator/inbox?phone=%00",
        ]
    ),
)
def test_any_header_bytes_on_every_kind_of_route(site: Site, who: Who, extra: Headers, target: bytes) -> None:
    send(site, b"GET", target, [*auth_headers(site, who), *extra])


# -- Kannel ----------------------------------------------------------------------------------------------------

CHARSETS = (
    b"UTF-8",
    b"UTF-16BE",
    b"UCS-2",
    b"ISO-8859-1",
    b"WINDOWS-1252",
    b"undefined",
    b"idna",
    b"utf\x008",
    b"rot13",
    b"hex",
    b"base64",
    b"punycode",
    b"unicode_escape",
    b"\xc3\xa9",
)
KANNEL = {
    "from": phone.map(str.encode),
    "to": number.map(str.encode),
    "id": message_id.map(str.encode),
    "text": st.one_of(
        sms_text.map(utf8), any_bytes, st.sampled_from([b"\xff\xfe", b"\x00M\x00E", "GE".encode("utf-16-be")])
    ),
    "smsc": st.sampled_from([b"telia", b"tele2", b"x" * 101]),
    "coding": st.sampled_from([b"0", b"1", b"2", b"\xb2"]),
    "charset": st.sampled_from(CHARSETS),
}


@fuzz(5)
@given(
    method=st.sampled_from([b"GET", b"POST"]),
    params=byte_fields(KANNEL),
    who=gateway_caller("kannel"),
    ctype=content_type,
    body=st.one_of(sms_text.map(utf8), some_body),
)
@example(
    method=b"GET",
    params=[
        (b"from", b"+46701234567"),
        (b"to", b"72500"),
        (b"id", b"c1"),
        (b"text", b"\xff\xfe"),
        (b"charset", b"undefined"),
    ],
    who=("secret", b"s3cret"),
    ctype=None,
    body=b"",
)
@example(
    method=b"GET",
    params=[(b"from", b"+46701234567"), (b"to", b"72500"), (b"id", b"c2"), (b"text", b"x"), (b"charset", b"utf\x008")],
    who=("kannel", b""),
    ctype=None,
    body=b"",
)
@example(method=b"GET", params=[(b"from", b"1")], who=("raw", b"Basic \xe9\xe9"), ctype=None, body=b"")
@example(
    method=b"POST",
    params=[(b"from", b"+46701234567"), (b"to", b"72500"), (b"id", b"c3")],
    who=("kannel", b""),
    ctype=b"text/plain; charset=idna",
    body=b"MELLO 03",
)
def test_kannel_get_url_and_post_url(
    site: Site, method: bytes, params: list[tuple[bytes, bytes]], who: Who, ctype: bytes | None, body: bytes
) -> None:
    target = b"/gateways/k1/kannel?" + query_string(params + secret_param(who))
    send(site, method, target, with_type(auth_headers(site, who), ctype), body if method == b"POST" else b"")


@fuzz(3)
@given(
    ref=ref,
    signed=st.booleans(),
    sig=any_bytes,
    kind=st.one_of(st.sampled_from([b"1", b"2", b"4", b"16"]), any_bytes),
    method=st.sampled_from([b"GET", b"POST"]),
)
@example(ref="x|y", signed=False, sig="é".encode(), kind=b"1", method=b"GET")
@example(ref="x|y", signed=False, sig=b"\xff", kind=b"1", method=b"GET")
def test_kannel_delivery_report(site: Site, ref: str, signed: bool, sig: bytes, kind: bytes, method: bytes) -> None:
    given_sig = site.dlr_sig("k1", utf8(ref).decode("utf-8", "replace")).encode() if signed else sig
    params = [(b"ref", utf8(ref)), (b"sig", given_sig), (b"type", kind)]
    send(site, method, b"/gateways/k1/kannel/dlr?" + query_string(params))


# -- 46elks ----------------------------------------------------------------------------------------------------

ELKS_FORMS = {
    b"elks": {
        "id": message_id,
        "from": phone,
        "to": number,
        "message": sms_text,
        "direction": st.just("incoming"),
        "created": st.just("2026-11-23T19:02:13.224000"),
    },
    b"elks/voice": {"callid": message_id, "from": phone, "to": number, "direction": st.just("incoming")},
    b"elks/dlr": {
        "id": message_id,
        "status": st.sampled_from(["delivered", "failed", "sent", "x"]),
        "delivered": st.just("2026-11-23T19:02:13"),
    },
}
FORM = b"application/x-www-form-urlencoded"


@st.composite
def elks_request(draw: st.DrawFn) -> tuple[bytes, Who, list[tuple[bytes, bytes]], bytes | None, bytes]:
    """(endpoint, caller, query, content type, body) of a request to a 46elks endpoint."""
    endpoint = draw(st.sampled_from(sorted(ELKS_FORMS)))
    who = draw(gateway_caller("elks"))
    query = secret_param(who)
    if endpoint == b"elks/dlr":
        reported = draw(ref)
        genuine = signing.token(SECRET_KEY, "e1", utf8(reported).decode("utf-8", "replace"))  # as the query decodes
        sig = mostly(st.just(genuine), any_text)
        query = [(b"ref", utf8(reported)), (b"sig", utf8(draw(sig)))]
    good = {name: value.map(utf8) for name, value in ELKS_FORMS[endpoint].items()}
    body = draw(mostly(byte_fields(good).map(query_string), some_body))
    return endpoint, who, query, draw(mostly(st.just(FORM), content_type)), body


@fuzz(4)
@given(request=elks_request(), method=mostly(st.just(b"POST"), st.sampled_from([b"GET", b"PUT"])))
@example(request=(b"elks", ("raw", b"Basic !!!"), [], None, b""), method=b"POST")
@example(request=(b"elks/dlr", ("none", b""), [(b"ref", b"x|y"), (b"sig", "é".encode())], None, b""), method=b"POST")
def test_elks_webhooks(
    site: Site, request: tuple[bytes, Who, list[tuple[bytes, bytes]], bytes | None, bytes], method: bytes
) -> None:
    endpoint, who, params, ctype, body = request
    target = b"/gateways/e1/" + endpoint + (b"?" + query_string(params) if params else b"")
    send(site, method, target, with_type(auth_headers(site, who), ctype), body)


# -- the JSON gateway ------------------------------------------------------------------------------------------

JSON_BODIES = {
    b"json": {
        "id": message_id,
        "from": phone,
        "to": number,
        "text": sms_text,
        "channel": st.sampled_from(["sms", "call", "email"]),
    },
    b"json/dlr": {"ref": ref, "status": st.sampled_from(["delivered", "failed", "sent"]), "reason": any_text},
}


@st.composite
def json_request(draw: st.DrawFn) -> tuple[bytes, bytes, str]:
    """(endpoint, body, how it is signed: valid, stale or raw)."""
    endpoint = draw(st.sampled_from(sorted(JSON_BODIES)))
    body = draw(mostly(json_fields(JSON_BODIES[endpoint]), raw_json_body))
    return endpoint, body, draw(mostly(st.just("valid"), st.sampled_from(["stale", "raw"])))


@fuzz(4)
@given(
    request=json_request(),
    stamp=header_value,
    sig=header_value,
    ctype=mostly(st.none(), content_type),
    method=mostly(st.just(b"POST"), st.just(b"GET")),
)
@example(
    request=(b"json", b"{}", "raw"), stamp=str(int(time.time())).encode(), sig=b"\xc3\xa9", ctype=None, method=b"POST"
)
@example(request=(b"json/dlr", b"{}", "raw"), stamp=b"1", sig=b"sha256=\xe9", ctype=None, method=b"POST")
def test_json_gateway(
    site: Site, request: tuple[bytes, bytes, str], stamp: bytes, sig: bytes, ctype: bytes | None, method: bytes
) -> None:
    endpoint, body, signed = request
    if signed == "raw":
        headers = [(b"X-Kodeord-Timestamp", stamp), (b"X-Kodeord-Signature", sig)]
    else:
        headers = site.signed(body)
        if signed == "stale":
            headers = [(b"X-Kodeord-Timestamp", b"1"), headers[1]]
    send(site, method, b"/gateways/hook/" + endpoint, with_type(headers, ctype), body)


@fuzz(1)
@given(
    gateway=st.one_of(st.sampled_from(["k1", "e1", "hook"]), any_text),
    path=any_text,
    method=st.sampled_from([b"GET", b"POST", b"PUT"]),
)
def test_unknown_gateways_and_endpoints(site: Site, gateway: str, path: str, method: bytes) -> None:
    send(site, method, b"/gateways/" + percent(utf8(gateway)) + b"/" + percent(utf8(path)))


# -- the reported cases, one by one ----------------------------------------------------------------------------
# Each of these got a 500 (one a dropped connection) before the fix named in its test.


def test_a_delivery_report_whose_signature_is_not_ascii_is_refused(site: Site) -> None:
    """One constant-time compare of bytes for every secret and signature (signing.same)."""
    assert (
        send(site, b"GET", b"/gateways/k1/kannel/dlr?ref=s%3Atv%2Fmello%7Ck1%3Ax%3A0&sig=%C3%A9&type=1").status == 401
    )
    assert send(site, b"POST", b"/gateways/e1/elks/dlr?ref=x%7Cy&sig=%C3%A9", body=b"status=delivered").status == 401


def test_a_webhook_signature_that_is_not_ascii_is_refused(site: Site) -> None:
    headers = [(b"X-Kodeord-Timestamp", str(int(time.time())).encode()), (b"X-Kodeord-Signature", b"sha256=\xc3\xa9")]
    answer = send(site, b"POST", b"/gateways/hook/json", headers, b"{}")
    assert answer.status == 401 and b"signature does not match" in body_of(answer)
    headers = [(b"X-Kodeord-Timestamp", "١٧".encode()), (b"X-Kodeord-Signature", b"sha256=00")]
    assert b"must be Unix seconds" in body_of(send(site, b"POST", b"/gateways/hook/json", headers, b"{}"))


def test_basic_auth_that_is_not_base64_of_utf8_is_no_credentials(site: Site) -> None:
    for credentials in (
        b"Basic \xe9\xe9",
        b"Basic !!!",
        b"Basic " + base64.b64encode(b"\xff:\xfe"),
        "Basic é".encode(),
    ):
        header = [(b"Authorization", credentials)]
        assert send(site, b"GET", b"/gateways/k1/kannel?from=%2B46701234567&to=72500&id=b1", header).status == 401
        form = b"id=1&from=%2B46701234567&to=72500&message=x"
        assert send(site, b"POST", b"/gateways/e1/elks", header, form).status == 401


def test_a_kannel_charset_that_is_no_text_encoding_is_ignored(site: Site) -> None:
    """codecs.lookup() finds these, but they are not text encodings (encoding.text_codec)."""
    for charset in (
        b"undefined",
        b"idna",
        b"utf%008",
        b"%00",
        b"rot13",
        b"hex",
        b"base64",
        b"unicode_escape",
        b"punycode",
        b"%C3%A9",
    ):
        target = b"/gateways/k1/kannel?from=%2B46701234567&to=72500&text=MELLO%2003&secret=s3cret&charset=" + charset
        assert send(site, b"GET", target + b"&id=cs-" + charset).status == 200


def test_a_paging_cursor_or_page_size_that_no_page_gave_is_refused(site: Site) -> None:
    """One parser of whole numbers (web.params.parse_whole), behind the one cursor parser (store.offset)."""
    members = b"/api/addressbook/lists/medlemmar/members"
    for after in (b"%C2%B2", str(2**63 - 1).encode(), b"-1", b"1_0", b"9" * 5000):
        answer = send(site, b"GET", members + b"?state=pending&after=" + after, [site.bearer("forening")])
        assert answer.status == 400 and b"after must be the next cursor of an earlier page" in body_of(answer)
    for limit in (b"%C2%B2", b"0", b"1001", b"-1", b"1_0", b"9" * 5000, str(2**63 - 1).encode()):
        answer = send(site, b"GET", members + b"?limit=" + limit, [site.bearer("forening")])
        assert answer.status == 400 and b"limit must be a whole number from 1 to 1000" in body_of(answer)


def test_an_email_address_that_is_not_one_is_refused_with_the_reason(site: Site) -> None:
    api = [site.bearer("forening"), (b"Content-Type", b"application/json")]
    for email, reason in [
        ("a\r\nb@example.com", "The email address contains invalid characters before the @-sign: U+000A, U+000D."),
        ("a\nb@example.com", "The email address contains invalid characters before the @-sign: U+000A."),
        ('a"b@example.com', "An email address must have an @-sign."),
        ('"a b"@example.com', "Quoting the part before the @-sign is not allowed here."),
        ("anna@example", "The part after the @-sign is not valid. It should have a period."),
        ("anna@exam ple.com", "The part after the @-sign contains invalid characters: SPACE."),
    ]:
        for path, field in (
            (b"/api/addressbook/lists/medlemmar/members", "email"),
            (b"/api/addressbook/lists/medlemmar/functionaries", "address"),
        ):
            answer = send(site, b"POST", path, api, json.dumps({field: email}).encode())
            assert answer.status == 400
            assert json.loads(body_of(answer)) == {"error": f"invalid email address {email!r}: {reason}"}


def test_a_members_email_address_is_normalised_and_its_consent_export_is_a_file(site: Site) -> None:
    """Headers are built by code that escapes them (web.download.attachment)."""
    api = [site.bearer("forening"), (b"Content-Type", b"application/json")]
    for email, member, filename in [
        ("På@例子.com", "på@例子.com", "consent-medlemmar-på_at_例子.com.csv"),
        (" Anna.Berg@Example.COM ", "anna.berg@example.com", "consent-medlemmar-anna.berg_at_example.com.csv"),
    ]:
        added = send(
            site, b"POST", b"/api/addressbook/lists/medlemmar/members", api, json.dumps({"email": email}).encode()
        )
        assert added.status == 201 and json.loads(body_of(added))["id"] == member
        target = b"/api/addressbook/lists/medlemmar/members/" + percent(member.encode()) + b"/consent?format=csv"
        export = send(site, b"GET", target, api)
        assert export.status == 200
        assert header(export, b"content-disposition") == attachment(filename)["Content-Disposition"]


def test_header_values_built_from_data_are_escaped() -> None:
    assert attachment("draw-1-entries.txt") == {"Content-Disposition": 'attachment; filename="draw-1-entries.txt"'}
    assert attachment('a"b\\c\r\nd/é.csv') == {
        "Content-Disposition": "attachment; filename=\"a_b_c__d__.csv\"; filename*=UTF-8''a%22b_c__d_%C3%A9.csv"
    }


def test_a_draw_number_too_large_for_any_draw_is_not_found(site: Site) -> None:
    target = b"/api/voting/competitions/tavling/draws/" + b"9" * 5000 + b"/entries"
    assert send(site, b"GET", target, [site.bearer("tv")]).status == 404


def test_json_text_with_a_lone_surrogate_is_refused(site: Site) -> None:
    api = [site.bearer("forening"), (b"Content-Type", b"application/json")]
    for path, method, body in [
        (b"/api/addressbook/lists/medlemmar/members", b"POST", b'{"phone": "+46701000003", "name": "\\ud800"}'),
        (b"/api/addressbook/lists/medlemmar", b"PATCH", b'{"name": "\\udfff"}'),
        (b"/api/addressbook/lists", b"POST", b'{"id": "x", "options": {"\\ud800": 1}}'),
    ]:
        answer = send(site, method, path, api, body)
        assert answer.status == 400 and b"lone surrogate" in body_of(answer)


def test_json_nested_too_deeply_is_refused(site: Site) -> None:
    deep = b"[" * 100_000 + b"]" * 100_000
    assert send(site, b"POST", b"/simulator/send", [(b"Content-Type", b"application/json")], deep).status == 400


def test_the_rig_is_reachable_with_its_credentials(site: Site) -> None:
    served = {(route.path, frozenset(route.methods or ())) for route in site.app.routes if isinstance(route, Route)}
    assert served == {(route.path, frozenset(route.methods or ())) for route in ROUTES.values()}  # all fuzzed
    assert len(served) > 30  # the core's, the gateways', the simulator's and the plugins'
    target = b"/api/addressbook/lists/medlemmar/members/" + percent(MEMBER_EMAIL.encode()) + b"/consent"
    assert send(site, b"GET", target, [site.bearer("forening")]).status == 200
    inbound = query({"from": "+46701234567", "to": "72500", "id": "r1", "text": "MELLO 03", "secret": INBOUND_SECRET})
    assert send(site, b"GET", b"/gateways/k1/kannel?" + inbound.encode()).status == 200
    assert send(site, b"POST", b"/gateways/hook/json", site.signed(b"{}"), b"{}").status == 400  # past the signature

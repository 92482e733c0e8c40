"""Logging in to the console over real HTTP: the session cookie's flags, the CSRF token on every form, the
tenant's own page only, sessions that end with the account, and nowhere to be sent after login but the
console."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from kodeord.platform import Platform, demo_rules
from kodeord.web.app import create_app
from kodeord.web.console import accounts
from kodeord.web.console.sessions import COOKIE, LOGIN_COOKIE

from .conftest import PASSWORD, TOKEN, log_in


def test_a_person_logs_in_sees_their_tenant_only_and_logs_out(console: tuple[Platform, str]) -> None:
    _, url = console
    with httpx.Client(base_url=url) as client:
        assert client.get("/console").headers["location"] == "/login?next=/console"
        done = log_in(client, "Sekreterare@example.se")
        assert (done.status_code, done.headers["location"]) == (303, "/console")
        cookie = done.headers["set-cookie"]
        assert cookie.startswith(f"{COOKIE}=") and "HttpOnly" in cookie and "SameSite=lax" in cookie
        assert "Secure" not in cookie  # served over plain http to a plain-http public URL
        page = client.get("/console")
        assert page.status_code == 200 and "Demoföreningen" in page.text and "adressbok" in page.text
        assert "mello" not in page.text  # the other tenant's services
        assert page.headers["cache-control"] == "no-store"
        token = TOKEN.search(page.text)
        assert token is not None
        assert client.post("/logout", data={"csrf": "wrong"}).status_code == 403
        assert client.get("/console").status_code == 200  # still logged in
        copied = client.cookies[COOKIE]
        out = client.post("/logout", data={"csrf": token.group(1)})
        assert (out.status_code, out.headers["location"]) == (303, "/login")
        assert client.get("/console").status_code == 303
    with httpx.Client(base_url=url, cookies={COOKIE: copied}) as thief:
        assert thief.get("/console").status_code == 303  # logged out everywhere, not only in that browser


def test_a_login_without_the_form_token_or_with_a_wrong_password_is_refused(console: tuple[Platform, str]) -> None:
    _, url = console
    with httpx.Client(base_url=url) as client:
        forged = client.post("/login", data={"email": "producent@example.se", "password": PASSWORD})
        assert forged.status_code == 403 and COOKIE not in forged.headers.get("set-cookie", "")
        wrong = log_in(client, "producent@example.se", "fel lösenord!")
        assert wrong.status_code == 401 and "Fel e-postadress eller lösenord" in wrong.text
        assert 'value="producent@example.se"' in wrong.text  # kept, escaped
        assert client.get("/console").status_code == 303


def test_after_login_the_browser_goes_only_to_a_console_page(console: tuple[Platform, str]) -> None:
    _, url = console
    for after, landing in (
        ("/console", "/console"),
        ("https://evil.example/", "/console"),
        ("//evil.example/console", "/console"),
        ("/console//evil.example", "/console"),
    ):
        with httpx.Client(base_url=url) as client:
            assert log_in(client, "producent@example.se", after=after).headers["location"] == landing


def test_a_disabled_account_or_a_new_password_ends_its_sessions(console: tuple[Platform, str]) -> None:
    platform, url = console
    with httpx.Client(base_url=url) as first, httpx.Client(base_url=url) as second:
        log_in(first, "producent@example.se")
        log_in(second, "producent@example.se")
        accounts.set_password(platform.redis, "demo-tv", "producent@example.se", "ett nytt lösenord")
        assert first.get("/console").status_code == 303
        log_in(second, "producent@example.se", "ett nytt lösenord")
        assert second.get("/console").status_code == 200
        accounts.disable(platform.redis, "demo-tv", "producent@example.se")
        assert second.get("/console").status_code == 303
        assert log_in(second, "producent@example.se", "ett nytt lösenord").status_code == 401


def test_a_forged_or_altered_session_cookie_is_no_session(console: tuple[Platform, str]) -> None:
    _, url = console
    with httpx.Client(base_url=url) as client:
        log_in(client, "producent@example.se")
        genuine = client.cookies[COOKIE]
        for value in (genuine[:-2] + "xx", "e30.forged.sig", genuine.replace(".", "", 1)):
            client.cookies.set(COOKIE, value)
            assert client.get("/console").status_code == 303


def test_over_https_the_cookies_are_secure(make_platform: Callable[..., Platform], serve: Callable[[Any], str]) -> None:
    platform = make_platform(
        list(demo_rules()), environ={"KODEORD_SECRET_KEY": "test", "KODEORD_PUBLIC_URL": "https://kodeord.example"}
    )
    accounts.create(platform.redis, "demo-tv", "producent@example.se", PASSWORD)
    with httpx.Client(base_url=serve(create_app(platform))) as client:
        form = client.get("/login")
        # __Host- names: the browser takes them only from this host, over https, for the whole site.
        login_cookie = f"__Host-{LOGIN_COOKIE}"
        assert form.headers["set-cookie"].startswith(f"{login_cookie}=")
        assert "Secure" in form.headers["set-cookie"] and "Path=/;" in form.headers["set-cookie"]
        token = TOKEN.search(form.text)
        assert token is not None
        fields = {"csrf": token.group(1), "email": "producent@example.se", "password": PASSWORD}
        plain = client.post("/login", data=fields, headers={"cookie": f"{LOGIN_COOKIE}={form.cookies[login_cookie]}"})
        assert plain.status_code == 403  # a token planted under the plain name (from http, a sibling host) is not it
        cookie = f"{login_cookie}={form.cookies[login_cookie]}"  # a client keeps a Secure cookie for https only
        done = client.post("/login", data=fields, headers={"cookie": cookie})
        assert done.status_code == 303
        session = done.headers["set-cookie"]
        assert session.startswith(f"__Host-{COOKIE}=") and "Secure" in session and "Path=/" in session
        value = done.cookies[f"__Host-{COOKIE}"]
        home = client.get("/console", headers={"cookie": f"__Host-{COOKIE}={value}"})
        assert home.status_code == 200 and "Demo-TV" in home.text
        assert client.get("/console", headers={"cookie": f"{COOKIE}={value}"}).status_code == 303


def test_admin_is_the_console(console: tuple[Platform, str]) -> None:
    _, url = console
    assert httpx.get(f"{url}/admin").headers["location"] == "/console"

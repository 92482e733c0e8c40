"""The console in Swedish and English: every text the core's and the plugins' console pages mark has its English
in that package's ``locale/en.po`` (with the same placeholders, nothing left there that is no longer used, and the
same English for a Swedish text two catalogues share), the language link switches the pages (the login page too)
and never leads off the site, and numbers are written as each language writes them."""

from __future__ import annotations

import ast
import contextvars
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import httpx
import pytest
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jinja2 import Environment

from kodeord.platform import Platform
from kodeord.web.console import i18n

from .conftest import TOKEN, log_in

ROOT = Path(__file__).resolve().parents[3]
CONSOLE = ROOT / "core" / "web" / "console"
MARKERS = frozenset({"_", "N_"})  # what a text to translate is passed to, in Python and in templates
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")

Text = str | tuple[str, str]  # a msgid; (singular, plural) for ngettext


@dataclass(frozen=True)
class Package:
    """A package with console pages: its templates, its Python and its English catalogue."""

    name: str
    templates: Path
    python: Path
    catalogue: Path


def packages() -> list[Package]:
    """The core's console and every plugin with console templates (or a catalogue of its own)."""
    # Any text the core marks is shown by the console, whose catalogue is the core's only one.
    found = [Package("core", CONSOLE / "templates", ROOT / "core", CONSOLE / "locale" / "en.po")]
    for plugin in sorted(p for p in (ROOT / "plugins").iterdir() if p.is_dir()):
        if (plugin / "templates").is_dir() or (plugin / "locale").is_dir():
            found.append(Package(plugin.name, plugin / "templates", plugin, plugin / "locale" / "en.po"))
    return found


def template_texts(source: str) -> dict[Text, list[int]]:
    """The texts a template marks (``_``, ``gettext``, ``ngettext``), with the lines they are on."""
    texts: dict[Text, list[int]] = {}
    environment = Environment(extensions=["jinja2.ext.i18n"])
    for line, function, message in environment.extract_translations(source):  # type: ignore[attr-defined]
        given = message if isinstance(message, tuple) else (message,)
        text: Text | None = None
        if function == "ngettext" and len(given) >= 2 and isinstance(given[0], str) and isinstance(given[1], str):
            text = (given[0], given[1])
        elif function != "ngettext" and isinstance(given[0], str):
            text = given[0]
        if text is not None:  # else a variable (a title, an error chosen in Python): marked where it is made
            texts.setdefault(text, []).append(line)
    return texts


def python_texts(source: str) -> dict[Text, list[int]]:
    """The texts Python marks: the string given to ``N_(...)`` or ``_(...)`` (also as ``i18n.N_``)."""
    texts: dict[Text, list[int]] = {}
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call) or not node.args:
            continue
        name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", None)
        first = node.args[0]
        if name in MARKERS and isinstance(first, ast.Constant) and isinstance(first.value, str):
            texts.setdefault(first.value, []).append(node.lineno)
    return texts


@cache
def marked(package: Package) -> dict[Path, dict[Text, list[int]]]:
    """Every file of ``package`` that marks texts, with its texts."""
    found: dict[Path, dict[Text, list[int]]] = {}
    if package.templates.is_dir():
        for path in sorted(package.templates.rglob("*.html")):
            if texts := template_texts(path.read_text(encoding="utf-8")):
                found[path] = texts
    for path in sorted(package.python.rglob("*.py")):
        if texts := python_texts(path.read_text(encoding="utf-8")):
            found[path] = texts
    return found


@cache
def catalogue(path: Path) -> Catalog | None:
    """The .po file at ``path`` (None when there is none)."""
    if not path.is_file():
        return None
    with path.open("rb") as file:
        return read_po(file, locale="en_GB")


def english(package: Package, text: Text) -> bool:
    """Whether ``text`` has English in ``package``'s catalogue; a plugin's page may also use the core's, as the
    catalogues are merged."""
    catalogues = [catalogue(package.catalogue)]
    if package.name != "core":
        catalogues.append(catalogue(CONSOLE / "locale" / "en.po"))
    key = text if isinstance(text, str) else text[0]
    for found in catalogues:
        message = found.get(key) if found is not None else None
        if message is None:
            continue
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        if strings and all(strings):
            return True
    return False


def relative(path: Path) -> str:
    return str(path.relative_to(ROOT))


SOURCES = [(package, path) for package in packages() for path in marked(package)]


@pytest.mark.parametrize(("package", "path"), SOURCES, ids=[relative(path) for _, path in SOURCES])
def test_every_marked_text_has_english(package: Package, path: Path) -> None:
    missing = {text: lines for text, lines in marked(package)[path].items() if not english(package, text)}
    listed = "\n".join(f"  line {', '.join(map(str, lines))}: {text!r}" for text, lines in missing.items())
    assert not missing, f"{relative(path)}: no English in {relative(package.catalogue)} for:\n{listed}"


@pytest.mark.parametrize("package", packages(), ids=lambda package: package.name)
def test_a_catalogue_has_no_english_for_texts_no_longer_marked(package: Package) -> None:
    found = catalogue(package.catalogue)
    if found is None:
        return  # nothing to be stale; a package without English fails the test above for each of its texts
    used = {text if isinstance(text, str) else text[0] for texts in marked(package).values() for text in texts}
    stale = sorted(str(message.id if isinstance(message.id, str) else message.id[0]) for message in found)
    stale = [text for text in stale if text and text not in used]
    assert not stale, f"{relative(package.catalogue)}: English for texts no longer marked anywhere: {stale}"


@pytest.mark.parametrize("package", packages(), ids=lambda package: package.name)
def test_a_translation_has_the_placeholders_of_its_swedish(package: Package) -> None:
    found = catalogue(package.catalogue)
    wrong = []
    for message in found if found is not None else ():
        if not message.id:
            continue  # the header
        ids = [str(i) for i in (message.id if isinstance(message.id, tuple) else (message.id,))]
        strings = [str(s or "") for s in (message.string if isinstance(message.string, tuple) else (message.string,))]
        names = {name for text in ids for name in PLACEHOLDER.findall(text)}
        found_names = [set(PLACEHOLDER.findall(string)) for string in strings]
        # A plural's forms may each leave out the count; together they have the Swedish placeholders.
        differ = set().union(*found_names) != names if len(ids) > 1 else found_names[0] != names
        if differ or any(not names >= found for found in found_names):
            wrong.append(f"{ids[0]!r} -> {strings!r}: placeholders differ")
        elif not any(map(lone_percent, ids)) and any(map(lone_percent, strings)):
            wrong.append(f"{ids[0]!r} -> {strings!r}: a lone % (write %%)")
    assert not wrong, f"{relative(package.catalogue)}:\n" + "\n".join(wrong)


def test_catalogues_agree_on_the_texts_they_share() -> None:
    # The catalogues are merged into one, so two Englishes for one Swedish text would change each other's pages.
    english_of: dict[str, dict[str, str]] = {}
    for package in packages():
        for message in catalogue(package.catalogue) or ():
            if message.id and isinstance(message.id, str) and isinstance(message.string, str):
                english_of.setdefault(message.id, {})[relative(package.catalogue)] = message.string
    differ = {text: found for text, found in english_of.items() if len(set(found.values())) > 1}
    listed = "\n".join(f"  {text!r}: {found}" for text, found in differ.items())
    assert not differ, f"one Swedish text, different English (use a Swedish text of its own):\n{listed}"


def lone_percent(text: str) -> bool:
    """Whether ``text`` has a ``%`` that is neither a placeholder nor ``%%`` (filling it in would go wrong)."""
    return "%" in re.sub(r"%%|%\(\w+\)[sd]", "", text)


def test_the_extraction_finds_marked_texts_and_skips_variables() -> None:
    template = '{{ _("Hej %(name)s", name=n) }} {{ _(title) }} {{ ngettext("ett svar", "%(num)s svar", n) }}'
    assert template_texts(template) == {"Hej %(name)s": [1], ("ett svar", "%(num)s svar"): [1]}
    python = 'A = N_("Regler")\nB = i18n.N_("Live")\nC = _(title)\nD = print("not marked")\n'
    assert python_texts(python) == {"Regler": [1], "Live": [2]}


def test_pages_are_swedish_until_english_is_chosen(console: tuple[Platform, str]) -> None:
    _, url = console
    with httpx.Client(base_url=url) as client:
        log_in(client, "producent@example.se")
        swedish = client.get("/console/messages")
        assert '<html lang="sv">' in swedish.text and "<h1>Meddelanden</h1>" in swedish.text
        assert ">Logga ut</button>" in swedish.text and "(ägare)" in swedish.text
        chosen = client.get("/language", params={"to": "en", "next": "/console/messages?status=queued"})
        assert (chosen.status_code, chosen.headers["location"]) == (303, "/console/messages?status=queued")
        assert chosen.cookies[i18n.COOKIE] == "en" and "HttpOnly" in chosen.headers["set-cookie"]
        english = client.get("/console/messages")
        assert '<html lang="en">' in english.text and "<h1>Messages</h1>" in english.text
        assert ">Log out</button>" in english.text and "(owner)" in english.text
        assert '<option value="delivered">delivered</option>' in english.text  # a status, in words
        assert "Meddelanden" not in english.text  # the menu too
        assert '<a href="/language?to=sv&amp;next=/console/messages" lang="sv">Svenska</a>' in english.text
        client.get("/language", params={"to": "sv", "next": "/console/messages"})
        assert "<h1>Meddelanden</h1>" in client.get("/console/messages").text


def test_rules_and_a_tried_message_are_shown_in_english(console: tuple[Platform, str]) -> None:
    _, url = console
    with httpx.Client(base_url=url) as client:
        log_in(client, "sekreterare@example.se")
        swedish = client.get("/console/rules").text
        assert "text efter nyckelordet: (?i)fr[aå]ga.*; klockan 09:00–16:00; dagar: mån, tis, ons, tor, fre" in swedish
        client.get("/language", params={"to": "en", "next": "/console/rules"})
        page = client.get("/console/rules")
        assert "text after the keyword: (?i)fr[aå]ga.*; hours: 09:00–16:00; days: Mon, Tue, Wed, Thu, Fri" in page.text
        assert '<h2 id="try">Try a message</h2>' in page.text and "Number +46766861004, every message" in page.text
        token = TOKEN.search(page.text)
        assert token is not None
        fields = {"csrf": token.group(1), "to": "+46766861004", "sender": "+46701234567", "text": "START"}
        tried = client.post("/console/rules", data=fields)
        assert "<dt>Outcome</dt><dd>handled</dd>" in tried.text and "<dt>Action</dt>" in tried.text
        assert 'class="reply">Reply to +46701234567: Välkommen till' in tried.text  # the reply stays as written
        bad = client.post("/console/rules", data=fields | {"sender": "<b>not a number</b>"})
        assert bad.status_code == 400 and "The message cannot be tried: invalid phone number" in bad.text
        assert "<b>" not in bad.text and "&lt;b&gt;not a number&lt;/b&gt;" in bad.text  # filled in, escaped


def test_errors_and_missing_pages_are_in_english(console: tuple[Platform, str]) -> None:
    _, url = console
    with httpx.Client(base_url=url, cookies={i18n.COOKIE: "en"}) as client:
        log_in(client, "producent@example.se")
        since = client.get("/console/messages", params={"since": "<script>"})
        assert since.status_code == 400 and "That filter cannot be used: since must be like" in since.text
        assert "<script>" not in since.text
        other = client.get("/console/messages", params={"service": "demo-forening/adressbok"})
        assert other.status_code == 404 and "The customer has no such service." in other.text
        missing = client.get("/console/messages/nothing-here")
        assert missing.status_code == 404 and "<h1>Not found</h1>" in missing.text
        assert "<title>Not found · Kodeord</title>" in missing.text
        refused = client.post("/console/rules", data={"csrf": "wrong", "to": "72500"})
        assert refused.status_code == 403 and "<h1>Request refused</h1>" in refused.text


def test_an_unknown_language_is_swedish(console: tuple[Platform, str]) -> None:
    _, url = console
    with httpx.Client(base_url=url) as client:
        log_in(client, "producent@example.se")
        chosen = client.get("/language", params={"to": "xx", "next": "/console"})
        assert chosen.cookies[i18n.COOKIE] == "sv"
        page = client.get("/console")
        assert '<html lang="sv">' in page.text and "Du är inloggad som producent@example.se." in page.text
    with httpx.Client(base_url=url, cookies={i18n.COOKIE: "de"}) as client:  # a cookie made by hand
        assert '<html lang="sv">' in client.get("/login").text


@pytest.mark.parametrize(
    "after", ["//evil.example", "https://evil.example", "/\\evil.example", "/console//evil.example", "/login//evil"]
)
def test_the_language_link_never_leaves_the_site(console: tuple[Platform, str], after: str) -> None:
    _, url = console
    chosen = httpx.get(f"{url}/language", params={"to": "en", "next": after})
    assert (chosen.status_code, chosen.headers["location"]) == (303, "/console")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(after=st.text(max_size=40) | st.sampled_from(["/console", "/login", "//", "/\\", "http:", "/console/\t/x"]))
def test_wherever_next_points_the_language_link_stays_on_the_site(console: tuple[Platform, str], after: str) -> None:
    _, url = console
    chosen = httpx.get(f"{url}/language", params={"to": "en", "next": after})
    assert chosen.status_code == 303
    location = chosen.headers["location"]
    assert urlsplit(urljoin(url, location)).netloc == urlsplit(url).netloc
    assert location.startswith(("/console", "/login")) and not location.startswith("//")


def test_the_login_page_can_be_switched_before_logging_in(console: tuple[Platform, str]) -> None:
    _, url = console
    with httpx.Client(base_url=url) as client:
        asked = client.get("/console/rules")
        assert asked.headers["location"] == "/login?next=/console/rules"
        swedish = client.get(asked.headers["location"])
        switch = re.search(r'href="(/language\?to=en&amp;next=[^"]+)"', swedish.text)
        assert switch is not None and "<h1>Logga in</h1>" in swedish.text
        chosen = client.get(switch.group(1).replace("&amp;", "&"))
        assert chosen.headers["location"] == "/login?next=/console/rules"  # the same form, still on its way
        form = client.get(chosen.headers["location"])
        assert '<html lang="en">' in form.text and "<h1>Log in</h1>" in form.text
        assert '<label for="email">Email address</label>' in form.text and ">Password</label>" in form.text
        wrong = log_in(client, "producent@example.se", "not the password", after="/console/rules")
        assert wrong.status_code == 401 and "Wrong email address or password" in wrong.text
        done = log_in(client, "producent@example.se", after="/console/rules")
        assert done.headers["location"] == "/console/rules"
        assert "<h1>Rules</h1>" in client.get("/console/rules").text
        assert "You are logged in as producent@example.se." in client.get("/console").text


def test_numbers_are_written_as_each_language_writes_them() -> None:
    def written(language: str, value: object) -> str:
        i18n.use(language)
        return i18n.number(value)

    def run(language: str, value: object) -> str:  # in a context of its own: the language does not leak
        return contextvars.copy_context().run(written, language, value)

    assert run("sv", 1234567) == "1\N{NO-BREAK SPACE}234\N{NO-BREAK SPACE}567"
    assert run("en", 1234567) == "1,234,567"
    assert run("xx", 1234567) == "1\N{NO-BREAK SPACE}234\N{NO-BREAK SPACE}567"  # an unknown language: Swedish
    assert i18n.current() == i18n.DEFAULT

"""The console's languages: Swedish, as the pages are written, and English, from a catalogue.

Texts in templates are marked ``{{ _("Meddelanden") }}`` (Jinja2's i18n extension, new style: ``%(name)s``
placeholders are filled and escaped), texts in Python that a template shows later with ``N_("...")``. The
Swedish text is the message id, so a text not yet translated shows in Swedish, never as a key. English lives in
``locale/en.po`` beside the templates of the core and of each plugin's console section; the catalogues are
compiled in memory when first used. ``tests/web/console/test_i18n.py`` fails on a marked text without an
English translation.

The language is a cookie (``kodeord_lang``) set by ``/language``; Swedish without one. Numbers are shown as
the language writes them (``1 234 567`` in Swedish).
"""

from __future__ import annotations

import gettext as gettext_module
from contextvars import ContextVar
from functools import cache
from importlib import resources
from io import BytesIO
from typing import Any

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal
from babel.support import Translations

LANGUAGES = {"sv": "Svenska", "en": "English"}
LOCALES = {"sv": "sv_SE", "en": "en_GB"}
DEFAULT = "sv"
COOKIE = "kodeord_lang"
_current: ContextVar[str] = ContextVar("kodeord_console_language", default=DEFAULT)
_packages: list[str] = ["kodeord.web.console"]  # whose locale/<language>.po make up the catalogue


def N_(text: str) -> str:  # noqa: N802 - the name gettext's tools look for
    """Mark ``text`` for translation where it is shown (in a template, through ``_``)."""
    return text


def add_package(package: str) -> None:
    """Take the English of ``package``'s ``locale/en.po`` (a console section's) into the catalogue."""
    if package not in _packages:
        _packages.append(package)
        catalogue.cache_clear()


@cache
def catalogue(language: str) -> gettext_module.NullTranslations:
    """The translations into ``language``, every package's catalogue merged (none for Swedish); where two give
    one Swedish text different English, the core's wins (and ``test_i18n`` fails)."""
    merged: Translations | None = None
    for package in reversed(_packages):  # a later merge wins: the core's catalogue last
        source = resources.files(package).joinpath("locale", f"{language}.po")
        if not source.is_file():
            continue
        with source.open("rb") as file:
            read = read_po(file, locale=LOCALES[language])
        compiled = BytesIO()
        write_mo(compiled, read)
        compiled.seek(0)
        found = Translations(compiled)
        merged = found if merged is None else merged.merge(found)
    return merged if merged is not None else gettext_module.NullTranslations()


def choose(value: str | None) -> str:
    """A supported language code from a cookie or a query (Swedish otherwise)."""
    return value if value in LANGUAGES else DEFAULT


def use(language: str) -> None:
    """Render what follows (in this task or thread) in ``language``."""
    _current.set(choose(language))


def current() -> str:
    """The language being rendered."""
    return _current.get()


def gettext(text: str) -> str:
    """``text`` in the current language."""
    return catalogue(current()).gettext(text) if current() != DEFAULT else text


def ngettext(singular: str, plural: str, n: int) -> str:
    """``singular`` or ``plural`` for ``n``, in the current language."""
    if current() == DEFAULT:
        return singular if n == 1 else plural
    return catalogue(current()).ngettext(singular, plural, n)


def number(value: Any, decimals: int | None = None) -> str:
    """``value`` as the current language writes numbers (Swedish: ``1 234 567,5``)."""
    if value is None or value == "":
        return ""
    pattern = None if decimals is None else "#,##0." + "0" * decimals if decimals else "#,##0"
    return str(format_decimal(value, format=pattern, locale=LOCALES[current()]))

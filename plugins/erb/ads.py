"""Marketing material outside the rule files, checked as ``kodeord erb check FILE...`` does it: plain text, an
HTML page or an SVG image (A.1.a, CS; A.1.b for HTML and SVG).

An ad's text is what a reader sees: for HTML, the page's text without scripts, styles and the head; for SVG,
the text of its ``<text>`` elements. It gets the checks a marketing text in a rule file gets (:mod:`.texts`).
In HTML and SVG each premium number's price must also be set horizontally and drawn at least a third the size of
the number (A.1.b), the sizes read as :mod:`.styles` reads them. Each fault is located at the line (and the
column, where the number is found on it) of the file.

Files are read as untrusted input: at most :data:`LARGEST` bytes, XML without entities, DTDs or the network.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lxml import etree, html

from .numbers import Mention
from .rules import breach
from .styles import Look, Styles, texts
from .texts import Context, Price, company_faults, near_prices, price_faults

LARGEST = 10 * 1024 * 1024  # bytes of one ad file
TOLERANCE = 1e-6


@dataclass(frozen=True)
class AdProblem:
    """A fault of an ad file at ``line`` and ``column`` (1-based)."""

    file: str
    line: int
    column: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}: {self.message}"


class AdError(ValueError):
    """An ad file that cannot be read at all."""


def kind_of(path: Path, raw: bytes) -> str:
    """``svg``, ``html`` or ``text``: by the file's name, else by how it begins."""
    suffix = path.suffix.lower()
    if suffix == ".svg":
        return "svg"
    if suffix in (".html", ".htm", ".xhtml"):
        return "html"
    start = raw[:1024].lstrip().lower()
    if start.startswith(b"<svg") or (start.startswith(b"<?xml") and b"<svg" in start):
        return "svg"
    if start.startswith((b"<!doctype html", b"<html")):
        return "html"
    return "text"


def check_ad(path: Path, context: Context, name: str | None = None) -> list[AdProblem]:
    """The faults of the ad at ``path`` (shown as ``name``) against ``context``; AdError if it cannot be read."""
    shown = name or str(path)
    try:
        with path.open("rb") as file:
            raw = file.read(LARGEST + 1)
    except OSError as exc:
        raise AdError(f"{shown}: cannot be read ({exc.strerror or exc})") from None
    if len(raw) > LARGEST:
        raise AdError(f"{shown}: larger than {LARGEST // (1024 * 1024)} MB; an ad is smaller")
    kind = kind_of(path, raw)
    if kind == "text":
        return _text_ad(shown, _decode(raw, shown), context)
    return _drawn_ad(shown, raw, kind == "svg", context)


def _decode(raw: bytes, shown: str) -> str:
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise AdError(f"{shown}: not text")  # cp1252 leaves five bytes undefined


def _line_column(text: str, offset: int) -> tuple[int, int]:
    line = text.count("\n", 0, offset) + 1
    return line, offset - (text.rfind("\n", 0, offset) + 1) + 1


def _text_ad(shown: str, text: str, context: Context) -> list[AdProblem]:
    problems = []
    for mention, message in price_faults(text, context):
        problems.append(AdProblem(shown, *_line_column(text, mention.start), message))
    if context.company is not None:
        problems.extend(AdProblem(shown, 1, 1, message) for message in company_faults(text, context.company))
    return problems


def _parse(raw: bytes, svg: bool, shown: str) -> Any:
    """The file's tree; AdError for one that is not what it says, or that is read only in part (what is not
    read could be a number without its price, so such a file does not pass unread)."""
    what = "an SVG image" if svg else "an HTML page"
    try:
        if svg:
            parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
            root = etree.fromstring(raw, parser)
            if root.getroottree().docinfo.internalDTD is not None or b"<!ENTITY" in raw:
                raise AdError(f"{shown}: an SVG image with a DTD or entities is not checked: write its text out")
            for element in root.iter():  # selectors and names without the SVG namespace
                if isinstance(element.tag, str) and "}" in element.tag:
                    element.tag = element.tag.split("}", 1)[1]
        else:
            parser = html.HTMLParser()
            # decoded here: lxml takes bytes without a <meta charset> as Latin-1, and "Tevevägen" would be lost
            root = html.document_fromstring(_decode(raw, shown), parser=parser)
        limits = [e for e in parser.error_log if e.type_name == "ERR_RESOURCE_LIMIT"]
        if limits:
            raise AdError(f"{shown}: {what} read only in part ({limits[0].message.strip()}): it is not checked")
        return root
    except AdError:
        raise
    except (etree.XMLSyntaxError, etree.ParserError, ValueError) as exc:
        raise AdError(f"{shown}: not {what} ({exc})") from None


@dataclass(frozen=True)
class _Run:
    start: int
    end: int
    element: Any


def _drawn_ad(shown: str, raw: bytes, svg: bool, context: Context) -> list[AdProblem]:
    root = _parse(raw, svg, shown)
    styles = Styles(root, svg)
    pieces, runs, at = [], [], 0
    for piece, element in texts(root, svg):
        if styles.looks[element].hidden:
            continue
        runs.append(_Run(at, at + len(piece), element))
        pieces.append(piece)
        at += len(piece) + 1
    text = "\n".join(pieces)  # pieces of text apart: digits of two elements never run into one number
    source = raw.decode("utf-8", "replace").splitlines()

    def located(mention: Mention | Price, written: str, message: str) -> AdProblem:
        element = _element_at(runs, mention.start)
        line = element.sourceline if element is not None and element.sourceline else 1
        column = source[line - 1].find(written) + 1 if line <= len(source) and written in source[line - 1] else 1
        return AdProblem(shown, line, column, message)

    problems = [located(m, m.written, message) for m, message in price_faults(text, context)]
    for mention, near in near_prices(text, context):
        for message in _size_faults(mention, near, runs, styles.looks):
            problems.append(located(mention, mention.written, message))
    if context.company is not None:
        problems.extend(AdProblem(shown, 1, 1, message) for message in company_faults(text, context.company))
    return sorted(problems, key=lambda p: (p.line, p.column))


def _element_at(runs: list[_Run], offset: int) -> Any:
    for run in runs:
        if run.start <= offset < run.end:
            return run.element
    return None


def _size_faults(mention: Mention, near: list[Price], runs: list[_Run], looks: dict[Any, Look]) -> list[str]:
    """A.1.b: the price next to ``mention`` is horizontal and at least a third of its size."""
    swedish = [p for p in near if p.swedish]
    if not swedish:
        return []  # A.1.a says what is wrong
    number = looks.get(_element_at(runs, mention.start))
    drawn = [(price, looks.get(_element_at(runs, price.start))) for price in swedish]
    if number is None or any(look is None for _, look in drawn):
        return []
    if number.size is None or any(look.size is None for _, look in drawn):  # type: ignore[union-attr]
        why = number.why or next(look.why for _, look in drawn if look is not None and look.size is None)
        reason = f" ({why})" if why else ""
        return [
            breach(
                "A.1.b",
                f"the sizes of {mention.written} and its price cannot be read from the file{reason}: "
                "set them in px, pt, em or %",
            )
        ]
    faults = []
    if not any(look.horizontal for _, look in drawn if look is not None):
        turned = next(look for _, look in drawn if look is not None)
        how = "runs vertically" if turned.vertical else f"is turned {abs(turned.angle):.0f}°"
        faults.append(breach("A.1.b", f"the price next to {mention.written} {how}: set it horizontally"))
    biggest = max(look.size for _, look in drawn if look is not None and look.size is not None)
    if biggest * 3 < number.size - TOLERANCE:
        faults.append(
            breach(
                "A.1.b",
                f"the price next to {mention.written} is {biggest:.3g}px, less than a third of the number's "
                f"{number.size:.3g}px (at least {number.size / 3:.3g}px)",
            )
        )
    return faults

"""How big and which way round each element's text is drawn, read from an HTML page or an SVG image as a browser
would read the file alone: the cascade of ``<style>`` sheets (by specificity and order, ``!important`` first),
SVG presentation attributes and ``style`` attributes, with ``font-size`` inherited and transforms compounded.

Sizes are CSS pixels: ``px``, ``pt``, ``pc``, ``in``, ``cm``, ``mm``, ``Q``, ``em``, ``rem``, ``ex``, ``ch``,
``%``, the keywords (``small`` ... ``xxx-large``, ``larger``, ``smaller``), and in SVG attributes plain numbers.
A transform's scale multiplies the size drawn (the square root of its determinant) and its rotation, with
``writing-mode: vertical-*`` and SVG's glyph ``rotate``, turns the text from horizontal. A size that depends on
what the file does not say (``vw``, ``calc()``, ``var()``, a linked stylesheet) is not known, and says why.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import tinycss2
from cssselect import SelectorError, parse
from lxml import etree
from lxml.cssselect import CSSSelector

ROOT_SIZE = 16.0  # px: the browser's default font size
_ABSOLUTE = {"px": 1.0, "pt": 96 / 72, "pc": 16.0, "in": 96.0, "cm": 96 / 2.54, "mm": 96 / 25.4, "q": 96 / 101.6}
_KEYWORDS = {
    "xx-small": 9.0,
    "x-small": 10.0,
    "small": 13.0,
    "medium": 16.0,
    "large": 18.0,
    "x-large": 24.0,
    "xx-large": 32.0,
    "xxx-large": 48.0,
}
_LENGTH = re.compile(r"([+-]?(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?)([a-z%]*)", re.IGNORECASE)
_FUNCTION = re.compile(r"([a-z]+)\s*\(([^)]*)\)", re.IGNORECASE)
_PROPERTIES = ("font-size", "font", "transform", "rotate", "writing-mode", "display")
# SVG attributes that style an element, below any stylesheet (presentation attributes).
_PRESENTATION = ("font-size", "transform", "writing-mode", "display")

Matrix = tuple[float, float, float, float]  # a b c d: x' = a x + c y, y' = b x + d y (translation left out)
IDENTITY: Matrix = (1.0, 0.0, 0.0, 1.0)


@dataclass(frozen=True)
class Look:
    """How an element's text is drawn: its font ``size`` in px (None: not known, ``why`` says why), the
    ``angle`` it is turned by, in degrees, and whether it runs ``vertical``."""

    size: float | None
    angle: float = 0.0
    vertical: bool = False
    why: str = ""
    hidden: bool = False

    @property
    def horizontal(self) -> bool:
        """Whether the text runs left to right, unturned (within half a degree)."""
        turned = abs((self.angle + 180) % 360 - 180)
        return not self.vertical and turned < 0.5


def _declarations(text: str) -> Iterator[tuple[str, str, bool]]:
    """``(property, value, important)`` of a declaration list (a ``style`` attribute, a rule's body)."""
    for item in tinycss2.parse_declaration_list(text, skip_comments=True, skip_whitespace=True):
        if item.type == "declaration" and item.lower_name in _PROPERTIES:
            yield item.lower_name, tinycss2.serialize(item.value).strip(), item.important


def _rules(sheet: str) -> Iterator[tuple[str, str]]:
    """``(selectors, body)`` of every style rule of a sheet, those inside ``@media`` blocks too."""
    for rule in tinycss2.parse_stylesheet(sheet, skip_comments=True, skip_whitespace=True):
        if rule.type == "qualified-rule":
            yield tinycss2.serialize(rule.prelude).strip(), tinycss2.serialize(rule.content)
        elif rule.type == "at-rule" and rule.lower_at_keyword == "media" and rule.content is not None:
            yield from _rules(tinycss2.serialize(rule.content))


class Styles:
    """The looks of every element of ``root`` (an lxml tree, SVG with its namespaces taken off)."""

    def __init__(self, root: Any, svg: bool) -> None:
        self.svg = svg
        self.unknown = ""  # why every size is in doubt (a linked stylesheet)
        self._declared: dict[Any, dict[str, tuple[tuple[int, int, int, int, int], str]]] = {}
        order = 0
        sheets = [el.text or "" for el in root.iter("style")]
        if not svg and any((el.get("rel") or "").lower() == "stylesheet" for el in root.iter("link")):
            self.unknown = "the page links a stylesheet, which is not read"
        for sheet in sheets:
            for selectors, body in _rules(sheet):
                declarations = list(_declarations(body))
                if not declarations:
                    continue
                for selector in selectors.split(","):
                    try:
                        specificity = parse(selector)[0].specificity()
                        matched = CSSSelector(selector, translator="html" if not svg else "xml")(root)
                    except (SelectorError, etree.XPathError, ValueError, IndexError):
                        continue
                    for element in matched:
                        for name, value, important in declarations:
                            order += 1
                            self._declare(element, name, value, (int(important), 1, *specificity, order))
        for element in root.iter():
            if not isinstance(element.tag, str):
                continue
            if svg:
                for name in _PRESENTATION:
                    if element.get(name) is not None:
                        self._declare(element, name, element.get(name), (0, 0, 0, 0, 0, 0))
            for name, value, important in _declarations(element.get("style") or ""):
                order += 1
                self._declare(element, name, value, (int(important), 2, 0, 0, 0, order))
        self.looks: dict[Any, Look] = {}
        self._walk(root, ROOT_SIZE, IDENTITY, False, False)

    def _declare(self, element: Any, name: str, value: str, rank: tuple[int, ...]) -> None:
        if name == "font":  # the shorthand: its size is the length before the family
            size = _font_shorthand_size(value)
            if size is None:
                return
            name, value = "font-size", size
        declared = self._declared.setdefault(element, {})
        known = declared.get(name)
        if known is None or rank >= known[0]:
            declared[name] = (rank, value)  # type: ignore[assignment]

    def _walk(self, element: Any, parent_size: float | None, matrix: Matrix, vertical: bool, hidden: bool) -> None:
        declared = {name: value for name, (_, value) in self._declared.get(element, {}).items()}
        size, why = _font_size(declared.get("font-size"), parent_size, self.svg)
        own = _transform(declared.get("transform", ""))
        if "rotate" in declared and not self.svg:
            own = _multiply(own, _rotation(_angle(declared["rotate"])))
        matrix = _multiply(matrix, own)
        mode = declared.get("writing-mode", "").lower()
        if mode:
            vertical = mode.startswith("vertical") or mode.startswith("tb") or mode.startswith("sideways")
        hidden = hidden or declared.get("display", "").lower() == "none" or element.get("hidden") is not None
        scale = math.sqrt(abs(matrix[0] * matrix[3] - matrix[1] * matrix[2]))
        drawn = size * scale if size is not None else None
        if drawn is not None and not math.isfinite(drawn):
            drawn, why = None, why or "a size too large or too small to draw"
        glyphs = self.svg and element.tag in ("text", "tspan") and _turned_glyphs(element.get("rotate"))
        self.looks[element] = Look(
            drawn,
            math.degrees(math.atan2(matrix[1], matrix[0])),
            vertical or glyphs,
            why or self.unknown,
            hidden,
        )
        if self.unknown:
            self.looks[element] = Look(None, self.looks[element].angle, vertical or glyphs, self.unknown, hidden)
        for child in element:
            if isinstance(child.tag, str):
                self._walk(child, size, matrix, vertical, hidden)


def _font_shorthand_size(value: str) -> str | None:
    """The size of a ``font`` shorthand (``bold 24px/1.2 Arial``)."""
    for word in value.replace("/", " / ").split():
        if word == "/":
            return None
        if word.lower() in _KEYWORDS or _LENGTH.fullmatch(word) and not word.replace(".", "").isdigit():
            return word
    return None


def _font_size(value: str | None, parent: float | None, svg: bool) -> tuple[float | None, str]:
    """A declared font size in px, from its parent's (None and why, when not known)."""
    if value is None or value.lower() == "inherit":
        return parent, ""
    text = value.strip().lower()
    if text in ("initial", "unset", "revert"):
        return ROOT_SIZE, ""
    if text in _KEYWORDS:
        return _KEYWORDS[text], ""
    if text in ("larger", "smaller"):
        if parent is None:
            return None, ""
        return (parent * 1.2 if text == "larger" else parent / 1.2), ""
    match = _LENGTH.fullmatch(text)
    if match is None:
        return None, f"font-size: {value}"
    number, unit = float(match.group(1)), match.group(2)
    if unit in _ABSOLUTE or (unit == "" and svg):
        return number * _ABSOLUTE.get(unit, 1.0), ""
    if unit == "rem":
        return number * ROOT_SIZE, ""
    if unit in ("em", "ex", "ch", "%"):
        if parent is None:
            return None, ""
        factor = {"em": 1.0, "ex": 0.5, "ch": 0.5, "%": 0.01}[unit]
        return number * factor * parent, ""
    return None, f"font-size: {value}"


def _angle(text: str) -> float:
    """An angle in degrees (``90deg``, ``0.25turn``, ``1.57rad``, SVG's plain number)."""
    match = _LENGTH.fullmatch(text.strip().lower())
    if match is None:
        return 0.0
    number, unit = float(match.group(1)), match.group(2)
    return {"rad": math.degrees(number), "turn": number * 360, "grad": number * 0.9}.get(unit, number)


def _rotation(degrees: float) -> Matrix:
    r = math.radians(degrees)
    return (math.cos(r), math.sin(r), -math.sin(r), math.cos(r))


def _multiply(m: Matrix, n: Matrix) -> Matrix:
    a, b, c, d = m
    e, f, g, h = n
    return (a * e + c * f, b * e + d * f, a * g + c * h, b * g + d * h)


def _numbers(arguments: str) -> list[float]:
    return [float(x) for x in re.findall(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?", arguments, re.IGNORECASE)]


def _transform(text: str) -> Matrix:
    """The linear part of a transform list (SVG's attribute or CSS's property: angles in SVG's plain degrees or
    with CSS's units)."""
    matrix = IDENTITY
    for name, arguments in _FUNCTION.findall(text):
        name = name.lower()
        values = _numbers(arguments)
        if name in ("scale", "scale3d") and values:
            sx = values[0]
            sy = values[1] if len(values) > 1 else sx
            matrix = _multiply(matrix, (sx, 0.0, 0.0, sy))
        elif name == "scalex" and values:
            matrix = _multiply(matrix, (values[0], 0.0, 0.0, 1.0))
        elif name == "scaley" and values:
            matrix = _multiply(matrix, (1.0, 0.0, 0.0, values[0]))
        elif name in ("rotate", "rotatez"):
            matrix = _multiply(matrix, _rotation(_first_angle(arguments)))
        elif name == "matrix" and len(values) >= 4:
            matrix = _multiply(matrix, (values[0], values[1], values[2], values[3]))
        elif name in ("skewx", "skew") and values:
            matrix = _multiply(matrix, (1.0, 0.0, math.tan(math.radians(_first_angle(arguments))), 1.0))
        elif name == "skewy" and values:
            matrix = _multiply(matrix, (1.0, math.tan(math.radians(_first_angle(arguments))), 0.0, 1.0))
    return matrix


def _first_angle(arguments: str) -> float:
    """The first of a transform function's arguments, as an angle in degrees."""
    words = arguments.replace(",", " ").split()
    return _angle(words[0]) if words else 0.0


def _turned_glyphs(value: str | None) -> bool:
    """Whether SVG's ``rotate`` attribute turns any glyph."""
    return bool(value) and any(abs(x) % 360 > 0.5 for x in _numbers(value or ""))


def texts(root: Any, svg: bool) -> Iterable[tuple[str, Any]]:
    """The text a reader sees, in order, each piece with the element it is drawn with: an element's text, then
    its children's, then what follows each child (its tail, drawn with the element)."""
    skip = {"script", "style", "head", "title", "desc", "metadata", "defs", "template", "noscript"}

    def walk(element: Any, inside: bool) -> Iterator[tuple[str, Any]]:
        if not isinstance(element.tag, str) or element.tag in skip:
            return
        inside = inside or element.tag == "text"  # an SVG draws the text of its <text> elements only
        if element.text and inside:
            yield element.text, element
        for child in element:
            yield from walk(child, inside)
            if child.tail and inside:
                yield child.tail, element

    return walk(root, not svg)

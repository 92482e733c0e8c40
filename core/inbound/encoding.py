"""SMS text encoding: GSM 03.38 (7-bit) or UCS-2, how many parts a text needs, and which charset labels
a gateway may name for the bytes of a text it hands over.

Operators bill per segment, so the count must match what the SMSC will send,
not a simple ``ceil(len / capacity)``: an escaped GSM character and a UTF-16
surrogate pair are never split across two parts, which can cost an extra part.
"""

from __future__ import annotations

import codecs
import enum
import functools
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["Encoding", "TextInfo", "analyse", "is_gsm7", "text_codec"]

# Python's names (codecs.lookup(...).name) of the text encodings a gateway may use: the Unicode forms, and
# the ISO 8859 and Windows single-byte sets (Kannel names them as iconv does). codecs.lookup() alone is no
# test: it also finds 'idna', 'punycode', 'undefined', 'unicode_escape' and bytes-to-bytes codecs such as
# 'hex' and 'rot13', which either are not text or fail with other errors than UnicodeDecodeError.
TEXT_CODECS: frozenset[str] = frozenset(
    {"utf-8", "utf-16", "utf-16-be", "utf-16-le", "utf-32", "utf-32-be", "utf-32-le", "ascii"}
    | {f"iso8859-{n}" for n in (*range(1, 12), *range(13, 17))}
    | {f"cp{n}" for n in range(1250, 1259)}
)
# Labels Python does not know, or would read otherwise: UCS-2 is UTF-16 without surrogate pairs, and an SMS's
# UCS-2 or UTF-16 is big-endian, with no byte-order mark to say so.
_CHARSET_ALIASES = dict.fromkeys(("ucs-2", "ucs2", "ucs-2be", "utf-16", "utf16be"), "utf-16-be")


class Encoding(enum.StrEnum):
    """Character encoding an SMS is sent in."""

    GSM7 = "gsm7"
    UCS2 = "ucs2"


@dataclass(frozen=True)
class TextInfo:
    """Result of :func:`analyse` for one message text.

    ``units`` is septets for GSM7 (extension-table characters count 2) and
    UTF-16 code units for UCS2. ``per_segment`` is the capacity the count used:
    160/70 when the text fits in one SMS, otherwise 153/67.
    """

    encoding: Encoding
    units: int
    segments: int
    per_segment: int


# GSM 03.38 default alphabet in code-point order 0x00-0x7F. Position 0x1B is the
# escape to the extension table, not a character, so it is left out here.
_GSM7_BASIC: frozenset[str] = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅå"
    "Δ_ΦΓΛΩΠΨΣΘΞ"
    "ÆæßÉ"
    " !\"#¤%&'()*+,-./"
    "0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# Basic extension table: each is sent as ESC + code, hence two septets.
_GSM7_EXTENSION: frozenset[str] = frozenset("\f^{}\\[~]|€")

# Single-part capacity, then per-part capacity once a User Data Header
# (6 octets for concatenation) eats into every part.
_GSM7_SINGLE, _GSM7_MULTI = 160, 153
_UCS2_SINGLE, _UCS2_MULTI = 70, 67


def is_gsm7(text: str) -> bool:
    """Return True if every character of ``text`` is in the GSM 03.38 tables.

    The empty string is GSM7. Lowercase ``ç`` is not in the default alphabet
    (only ``Ç`` is), so text containing it must go as UCS-2.
    """
    return all(ch in _GSM7_BASIC or ch in _GSM7_EXTENSION for ch in text)


def _gsm7_costs(text: str) -> list[int]:
    return [2 if ch in _GSM7_EXTENSION else 1 for ch in text]


def _ucs2_costs(text: str) -> list[int]:
    # Python strings hold code points, so an astral character (emoji) is one
    # item here but a surrogate pair, two code units, on the wire. Text decoded
    # with "surrogatepass" may instead hold the pair as two items; join those
    # so the pair is still kept whole. A lone surrogate is one unit.
    costs: list[int] = []
    pending_high = False
    for ch in text:
        code = ord(ch)
        if pending_high and 0xDC00 <= code <= 0xDFFF:
            costs[-1] = 2
            pending_high = False
            continue
        pending_high = 0xD800 <= code <= 0xDBFF
        costs.append(2 if code > 0xFFFF else 1)
    return costs


def _count_segments(costs: Iterable[int], per_segment: int) -> int:
    """Pack indivisible costs greedily into parts of ``per_segment`` units."""
    segments, used = 1, 0
    for cost in costs:
        # An escape pair or surrogate pair cannot straddle two parts: if it
        # does not fit, the rest of this part goes unused.
        if used + cost > per_segment:
            segments += 1
            used = 0
        used += cost
    return segments


@functools.lru_cache(maxsize=4096)
def analyse(text: str) -> TextInfo:
    """Choose the encoding for ``text`` and count its units and SMS segments.

    Empty text is one segment of zero units (an empty SMS is still one SMS). Cached: a broadcast sends one
    text to every member, and replies repeat.
    """
    if is_gsm7(text):
        encoding, costs = Encoding.GSM7, _gsm7_costs(text)
        single, multi = _GSM7_SINGLE, _GSM7_MULTI
    else:
        encoding, costs = Encoding.UCS2, _ucs2_costs(text)
        single, multi = _UCS2_SINGLE, _UCS2_MULTI
    units = sum(costs)
    if units <= single:
        return TextInfo(encoding, units, 1, single)
    return TextInfo(encoding, units, _count_segments(costs, multi), multi)


def text_codec(label: str | None) -> str | None:
    """The Python codec of charset ``label`` if it names a text encoding of :data:`TEXT_CODECS`, else None.

    Decoding bytes with the codec returned raises nothing but ``UnicodeDecodeError``.
    """
    if not label:
        return None
    name = label.strip().strip('"').lower()
    name = _CHARSET_ALIASES.get(name, name)
    if not name.isascii() or not name.isprintable() or len(name) > 40:
        return None
    try:
        codec = codecs.lookup(name).name
    except (LookupError, ValueError):
        return None
    return codec if codec in TEXT_CODECS else None

"""Keyword matching: case- and accent-insensitive by default ("rösta" == "ROSTA")."""

from __future__ import annotations

import unicodedata

# Letters that Unicode does not decompose into base letter + accent.
_FOLD_EXTRA = str.maketrans({"ø": "o", "æ": "ae", "đ": "d", "ł": "l", "þ": "th", "ð": "d"})


def casefold(word: str) -> str:
    """Case-insensitive form that keeps accents (for accent-sensitive services)."""
    return unicodedata.normalize("NFC", word.strip()).casefold()


def fold(word: str) -> str:
    """Case- and accent-insensitive form: "RÖSTA", "rösta" and "Rosta" fold alike."""
    decomposed = unicodedata.normalize("NFKD", casefold(word))
    bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    # Compatibility forms (fullwidth, mathematical letters) may decompose to capitals.
    return unicodedata.normalize("NFC", bare.casefold()).translate(_FOLD_EXTRA).strip()


def split_first(text: str) -> tuple[str, str]:
    """Split a message into its first word and the rest, both stripped."""
    parts = text.strip().split(None, 1)
    if not parts:
        return "", ""
    return parts[0], parts[1].strip() if len(parts) > 1 else ""

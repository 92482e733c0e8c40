"""Answers that are files to save: the ``Content-Disposition`` header, built so any file name fits in it.

A name taken from data (a list id, an email address, a tenant) may hold quotes, backslashes, line breaks or
characters outside Latin-1, none of which may stand in a quoted header value as they are. Such a name goes as
an ASCII stand-in in ``filename`` and as itself in ``filename*`` (RFC 6266, with RFC 5987's encoding).
"""

from __future__ import annotations

import unicodedata
from urllib.parse import quote

# Printable ASCII but the quote, the backslash and the characters file systems refuse in names.
_PLAIN = frozenset(chr(c) for c in range(0x20, 0x7F)) - set('"\\%/:;*?<>|')


def attachment(filename: str) -> dict[str, str]:
    """The ``Content-Disposition`` header that offers the body as a file called ``filename``.

    Control and other non-characters, and path separators, become ``_`` in both forms of the name.
    """
    name = "".join("_" if ch in "/\\" or unicodedata.category(ch).startswith("C") else ch for ch in filename)
    fallback = "".join(ch if ch in _PLAIN else "_" for ch in name).strip() or "download"
    value = f'attachment; filename="{fallback}"'
    if fallback != name:
        value += f"; filename*=UTF-8''{quote(name, safe='')}"
    return {"Content-Disposition": value}

"""Numbers from the untrusted text of a request: query parameters, path segments and cursors.

``int()`` is no parser for them: it takes ``" 7 "``, ``"1_000"``, ``"-3"`` and other scripts' digits
(``"٣"``), ``str.isdigit()`` is true for ``"²"`` which ``int()`` refuses, and ``int()`` of more than 4300
digits raises. :func:`parse_whole` takes only ASCII digits, and only up to a maximum.
"""

from __future__ import annotations


def parse_whole(text: str, maximum: int) -> int | None:
    """``text`` as a whole number from 0 to ``maximum``, or None if it is anything else."""
    if not (text.isascii() and text.isdigit()) or len(text.lstrip("0")) > len(str(maximum)):
        return None
    value = int(text)
    return value if value <= maximum else None

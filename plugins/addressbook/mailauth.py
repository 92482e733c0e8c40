"""Whether a mail's From can be believed: a DKIM signature (dkimpy) that verifies and is aligned with it.

A signature is aligned when its domain (``d=``) is the From address's domain or a parent of it
(``mail.example.se`` is aligned with ``example.se``), as DMARC's relaxed alignment has it. The public keys come
from DNS (:data:`resolve`, dkimpy's own look-up through dnspython unless replaced: the tests give it answers of
their own, since there is no DNS here).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import dkim

log = logging.getLogger(__name__)

# (name, timeout) -> the TXT record's bytes, or None: dkimpy's DNS look-up when None.
resolve: Callable[..., bytes | None] | None = None


def dkim_domain(raw: bytes) -> str | None:
    """The domain of a valid DKIM signature of ``raw``, or None (no signature, or one that does not verify)."""
    try:
        checker = dkim.DKIM(raw)
        valid = checker.verify(dnsfunc=resolve) if resolve is not None else checker.verify()
    except (dkim.DKIMException, ValueError, IndexError, TypeError, UnicodeError) as exc:
        log.info("a DKIM signature could not be checked: %s", exc)
        return None
    if not valid or not checker.domain:
        return None
    return checker.domain.decode("ascii", "replace").lower()


def aligned(sender: str, raw: bytes) -> bool:
    """Whether ``raw`` carries a valid DKIM signature aligned with the From address ``sender``."""
    domain = dkim_domain(raw)
    if domain is None:
        return False
    from_domain = sender.rpartition("@")[2].lower()
    return from_domain == domain or from_domain.endswith("." + domain)

"""Whether a writer's mail to a list can be believed: a DKIM signature (dkimpy) that verifies, is aligned with
its From, and covers the list's address.

A signature is aligned when its domain (``d=``) is the From address's domain or a parent of it
(``mail.example.se`` is aligned with ``example.se``), as DMARC's relaxed alignment has it. It must sign the
``To`` or ``Cc`` header that names the list, so that a signed mail the writer sent to someone else cannot be
sent on to the list, and it may not limit the signed body (``l=``: text added after the signed part would pass).
The public keys come from DNS (:data:`resolve`, dkimpy's own look-up through dnspython unless replaced: the
tests give it answers of their own, since there is no DNS here). Anything in a signature that makes it fail to
be checked (a malformed domain, DNS out of reach) means it is not believed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from email.parser import BytesHeaderParser
from email.policy import compat32
from email.utils import getaddresses

import dkim

log = logging.getLogger(__name__)

# (name, timeout) -> the TXT record's bytes, or None: dkimpy's DNS look-up when None.
resolve: Callable[..., bytes | None] | None = None


def aligned(sender: str, raw: bytes, list_address: str) -> bool:
    """Whether ``raw`` carries a valid DKIM signature aligned with the From address ``sender`` that signs the
    header naming ``list_address``."""
    try:
        checker = dkim.DKIM(raw)
        valid = checker.verify(dnsfunc=resolve) if resolve is not None else checker.verify()
        fields = checker.signature_fields or {}
        domain = (checker.domain or b"").decode("ascii", "replace").lower()
    except Exception as exc:  # noqa: BLE001 - a signature that cannot be checked is not believed
        log.info("a DKIM signature could not be checked: %s", exc)
        return False
    if not valid or not domain or b"l" in fields:
        return False
    from_domain = sender.rpartition("@")[2].lower()
    if from_domain != domain and not from_domain.endswith("." + domain):
        return False
    signed = {name.strip().lower() for name in fields.get(b"h", b"").split(b":")}
    naming = [h for h in (b"to", b"cc") if h in signed]
    return any(list_address.lower() in _addresses(raw, h.decode()) for h in naming)


def _addresses(raw: bytes, header: str) -> set[str]:
    """The addresses in ``raw``'s headers named ``header``, lower case."""
    values = BytesHeaderParser(policy=compat32).parsebytes(raw).get_all(header) or []
    return {address.lower() for _, address in getaddresses([str(v) for v in values]) if address}

"""A list's email address, and the mail settings.

Every list has one address under the configured domain (``KODEORD_MAIL_DOMAIN``): ``<list>.<tenant>@<domain>``,
``medlemmar.forening@lists.example.se``. List and tenant ids are letters, digits, ``-`` and ``_``, so the one
dot tells them apart. A writer confirms a mail by replying to ``confirm+<code>.<list>.<tenant>@<domain>``; the
list's mail to a member goes out from ``bounce+<code>.<list>.<tenant>@<domain>`` (VERP), so that a bounce says
whose address failed.
Addresses are compared without case.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from kodeord.config.settings import Setting, Settings

_ID = r"[a-z0-9][a-z0-9_-]{0,63}"
_LIST = re.compile(rf"(?:(confirm|bounce)\+([a-z0-9]{{16,40}})\.)?({_ID})\.({_ID})")


def _domain(raw: str) -> str:
    domain = raw.strip().lower().rstrip(".")
    if domain and not re.fullmatch(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+", domain):
        raise ValueError(f"expected a domain such as lists.example.se, got {raw!r}")
    return domain


def _positive(raw: str) -> int:
    value = int(raw)
    if value <= 0:
        raise ValueError(f"expected a number above 0, got {raw!r}")
    return value


SETTINGS: tuple[Setting, ...] = (
    Setting("mail_domain", _domain, "", "The domain of the lists' email addresses (lists.example.se); unset: none"),
    Setting("mail_host", str, "127.0.0.1", "Address kodeord mail listens on"),
    Setting("mail_port", int, 2525, "Port kodeord mail listens on (25 behind a firewall's port forwarding)"),
    Setting("mail_max_bytes", _positive, 10 * 1024 * 1024, "The largest mail kodeord mail accepts, in bytes"),
    Setting("mail_max_recipients", _positive, 50, "Recipients one mail may name at kodeord mail"),
    Setting("mail_tls_cert", str, "", "Certificate file for STARTTLS at kodeord mail (with mail_tls_key)"),
    Setting("mail_tls_key", str, "", "Private key file for STARTTLS at kodeord mail"),
)


@dataclass(frozen=True)
class ListAddress:
    """The list ``tenant/list`` a mail address names."""

    tenant: str
    list_id: str
    code: str = ""  # a writer's confirmation (``confirm+<code>...``) or a member's bounces (``bounce+<code>...``)
    kind: str = ""  # "confirm", "bounce" or "" (the list's own address)

    @property
    def key(self) -> str:
        return f"{self.tenant}/{self.list_id}"


def address_of(settings: Settings, tenant: str, list_id: str) -> str | None:
    """The list's email address, or None when no mail domain is configured."""
    domain = settings.mail_domain
    return f"{list_id}.{tenant}@{domain}".lower() if domain else None


def list_named(settings: Settings, address: str) -> ListAddress | None:
    """The list an address names (not checked to exist), or None if it is no list address of the domain."""
    local, at, domain = address.strip().lower().rpartition("@")
    if not at or not settings.mail_domain or domain != settings.mail_domain:
        return None
    match = _LIST.fullmatch(local)
    if match is None:
        return None
    return ListAddress(match.group(4), match.group(3), match.group(2) or "", match.group(1) or "")


def bounce_address(domain: str, tenant: str, list_id: str, code: str) -> str:
    """The envelope sender of a list's mail to one member (VERP): bounces come back to it, and say whose."""
    return f"bounce+{code}.{list_id}.{tenant}@{domain}".lower()


def list_id_header(name: str, tenant: str, list_id: str, domain: str) -> str:
    """The ``List-Id`` of a list's mail (RFC 2919): ``Föreningen <medlemmar.forening.lists.example.se>``."""
    return f"{name} <{list_id}.{tenant}.{domain}>"


def confirm_address(settings: Settings, tenant: str, list_id: str, code: str) -> str:
    """The address a writer replies to, to confirm the mail held under ``code``."""
    return f"confirm+{code}.{list_id}.{tenant}@{settings.mail_domain}".lower()

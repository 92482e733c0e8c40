"""The inbound SMTP server of the lists (aiosmtpd): it takes mail for the lists' addresses and nothing else.

- ``RCPT TO`` a list's address (``<list>.<tenant>@<domain>``, :mod:`.mailaddress`) of a list that exists is
  accepted; any other recipient is refused there (``550 5.1.1``), and more than ``mail_max_recipients`` are
  refused (``452 4.5.3``).
- ``DATA`` larger than ``mail_max_bytes`` is refused by the server (``552``). The mail is read
  (:func:`kodeord.inbound.mailtext.read_mail`) before it is answered: one that cannot be read is refused with the
  reason's code. Automatic mail is accepted and dropped, with a log line (never broadcast, never answered).
- A bounce (to a list's ``bounce+...`` address) is kept as it is, to be read when it is handled.
- Every other mail is kept for each of its lists (:func:`.mailinbox.keep`) before ``250`` is answered; a mail
  that cannot be kept gets ``451 4.3.0`` (try later), so a sender's server keeps it meanwhile.
- ``STARTTLS`` is offered when a certificate and key are configured.

Work that touches Redis or reads a mail runs off the event loop, so one slow mail holds up no other.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from typing import TYPE_CHECKING, Any

from kodeord.inbound.mailtext import MailError, read_mail
from kodeord.support.redis_client import REDIS_ERRORS

from . import mailinbox
from .mailaddress import ListAddress, list_named
from .store import registry

if TYPE_CHECKING:
    from kodeord.platform import PluginHost

log = logging.getLogger(__name__)


class ListHandler:
    """aiosmtpd's handler: the lists of ``host`` as recipients."""

    def __init__(self, host: PluginHost) -> None:
        self.host = host
        self.settings = host.settings

    def _resolve(self, target: ListAddress) -> str | None:
        """The list ``tenant/list`` an address names, with the ids as the rule files or the API spell them
        (addresses are read without case), or None if there is no such list."""
        tenant = next((t for t in self.host.tenants() if t.lower() == target.tenant), None)
        if tenant is None:
            return None
        ids = {service.id for service, _ in self.host.services(tenant, "addressbook.inbox")}
        ids |= {raw.decode() for raw in self.host.redis.smembers(registry(tenant))}  # type: ignore[union-attr]
        found = next((i for i in ids if i.lower() == target.list_id), None)
        return f"{tenant}/{found}" if found is not None else None

    async def handle_RCPT(  # noqa: N802 (aiosmtpd's name)
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        if len(envelope.rcpt_tos) >= self.settings.mail_max_recipients:
            return f"452 4.5.3 Too many recipients (at most {self.settings.mail_max_recipients} a mail)"
        target = list_named(self.settings, address)
        loop = asyncio.get_running_loop()
        try:
            found = await loop.run_in_executor(None, self._resolve, target) if target is not None else None
        except REDIS_ERRORS:
            return "451 4.3.0 Lists cannot be looked up right now; try again later"
        if found is None:
            return "550 5.1.1 No such list here"
        envelope.rcpt_tos.append(address)
        lists: dict[str, str] = getattr(envelope, "lists", {})
        lists[address.lower()] = found  # the list, as its ids are spelt
        envelope.lists = lists
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        raw: bytes = envelope.original_content or envelope.content or b""
        loop = asyncio.get_running_loop()
        named = [(t, a.lower()) for a in envelope.rcpt_tos if (t := list_named(self.settings, a)) is not None]
        sender = str(envelope.mail_from or "")
        if not all(t.kind == "bounce" for t, _ in named):  # a bounce is automatic mail, read when it is handled
            try:
                mail = await loop.run_in_executor(None, read_mail, raw)
            except MailError as exc:
                log.info("mail from %s refused: %s", envelope.mail_from, exc)
                return f"{exc.code} {exc.message}"
            if mail.automatic is not None:
                log.info("automatic mail from %s dropped (%s)", mail.sender, mail.automatic)
                return "250 2.6.0 Automatic mail accepted and not passed on"
            sender = mail.sender
        spelt: dict[str, str] = getattr(envelope, "lists", {})
        targets = {(spelt.get(rcpt, t.key), rcpt) for t, rcpt in named}
        try:
            for list_key, rcpt in sorted(targets):
                await loop.run_in_executor(None, mailinbox.keep, self.host.redis, list_key, sender, raw, rcpt)
        except REDIS_ERRORS as exc:
            log.error("mail from %s could not be kept: %s", sender, exc)
            return "451 4.3.0 The mail cannot be kept right now; try again later"
        return "250 2.0.0 OK: kept for the list"


def tls_context(cert: str, key: str) -> ssl.SSLContext | None:
    """The server side of STARTTLS, when a certificate and its key are configured."""
    if not cert or not key:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context

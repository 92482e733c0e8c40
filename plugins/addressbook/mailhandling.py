"""What becomes of a mail kept for a list (:mod:`.mailinbox`): a broadcast, a question to the writer, a notice to
the functionaries, or nothing.

- A list's own mail coming back (its ``List-Id``) and automatic mail are never broadcast (the server drops
  automatic mail already; here they are dropped again, whatever came in).
- A mail from a writer (an email address among the list's writers) is believed as the list's ``mail_writers``
  option says, since a From can be forged: ``confirm`` holds it and asks the writer to confirm by replying
  (``mail_confirm``) to ``confirm+<code>.<list>.<tenant>@<domain>`` (the question goes to the real address; the
  reply from that same address sends the held mail, one that never comes sends nothing, and the mail is
  forgotten after ``HOLD_S``); ``dkim`` sends it at once if it carries a valid DKIM signature aligned with its
  From (:mod:`.mailauth`); ``both`` wants the signature and the reply. A writer's mail that fails its check is
  treated as a stranger's.
- A confirmed mail becomes a broadcast through the same fan-out an SMS writer's and the API's start: its text to
  SMS members, cut to the list's ``sms_segments`` with a mark where it was cut; the mail's text by email to email
  members; and a receipt by mail to the writer with the number of members reached, and the attachments that were
  not passed on. One mail starts one broadcast however often it is handled.
- A mail from anyone else goes only to the functionaries, marked "Meddelande ej skickat", as a non-writer's SMS
  does (AB-8).
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import re
import secrets
from email.utils import formataddr
from typing import TYPE_CHECKING

from kodeord.commit.effects import Effects, Write
from kodeord.decide import templating
from kodeord.inbound.encoding import analyse
from kodeord.inbound.mailtext import MailError, MailText, read_mail
from kodeord.inbound.messages import Channel, Kind, Outbound

from . import mailauth, store
from .admin import MAX_SUBJECT, ListAdmin, ListError
from .broadcast import functionary_notices
from .mailaddress import address_of, confirm_address, list_named
from .mailinbox import Entry
from .store import ListKeys

if TYPE_CHECKING:
    from kodeord.platform import PluginHost

log = logging.getLogger(__name__)
HOLD_S = 3 * 24 * 3600  # how long a writer's mail waits for its confirmation
BOUNCES = 3  # hard bounces after which a member's address is disabled
_STATUS = re.compile(rb"^Status:\s*([245])\.\d{1,3}\.\d{1,3}", re.MULTILINE | re.IGNORECASE)
_FAILED = re.compile(rb"^Action:\s*failed", re.MULTILINE | re.IGNORECASE)
CUT_MARK = " [...]"
_WORDS = {  # subjects of the mail to a writer
    "sv": ("Bekräfta", "Skickat", "Inte skickat"),
    "no": ("Bekreft", "Sendt", "Ikke sendt"),
    "en": ("Confirm", "Sent", "Not sent"),
}


def cut_to_segments(text: str, segments: int, after: str = "") -> str:
    """``text``, cut (at a word where it can) so that it and ``after`` (the list's footer, added later) fit
    ``segments`` SMS parts, with :data:`CUT_MARK` where it was cut."""
    if analyse(text + after).segments <= segments:
        return text
    low, high = 0, len(text)
    while low < high:  # the longest beginning that fits with the mark
        middle = (low + high + 1) // 2
        if analyse(text[:middle].rstrip() + CUT_MARK + after).segments <= segments:
            low = middle
        else:
            high = middle - 1
    head = text[:low]
    space = head.rfind(" ")
    if space > low * 0.8:
        head = head[:space]
    return head.rstrip() + CUT_MARK


def identity(mail: MailText, raw: bytes) -> str:
    """What makes a mail the same mail when it comes again (a sender's retry, a resent copy): its sender and
    Message-ID (its bytes, without one). One mail starts one broadcast."""
    mark = mail.message_id or hashlib.sha256(raw).hexdigest()
    return hashlib.sha256(f"{mail.sender}\n{mark}".encode()).hexdigest()[:32]


def handle(host: PluginHost, entry: Entry) -> str:
    """Do what the mail asks; what was done (``broadcast``, ``confirm``, ``not-sent``, ``dropped: ...``)."""
    target = list_named(host.settings, entry.rcpt) if entry.rcpt else None
    tenant, _, list_id = entry.list_key.partition("/")
    if target is not None and target.kind == "bounce":
        return bounced(host, entry, list_id, target.code)
    try:
        mail = read_mail(entry.raw)
    except MailError as exc:
        return f"dropped: {exc}"
    if mail.automatic is not None:
        return f"dropped: automatic mail ({mail.automatic})"
    if mail.from_list(f"<{list_id}.{tenant}.{host.settings.mail_domain}>", ""):
        return "dropped: the list's own mail came back"
    admin = ListAdmin(host, tenant, by=f"mail:{mail.sender}")
    lk = ListKeys(entry.list_key)
    standing, _ = store.standing(host.redis, lk, mail.sender)
    if target is not None and target.code:
        return _confirmed(host, admin, lk, list_id, mail, target.code)
    method = admin.options(list_id).mail_writers
    own = address_of(host.settings, tenant, list_id) or ""
    signed = method in ("dkim", "both") and mailauth.aligned(mail.sender, entry.raw, own)
    if not standing.writer or (method in ("dkim", "both") and not signed):
        _not_sent(host, admin, lk, list_id, mail)
        return "not-sent"
    if method == "dkim":
        return _broadcast(host, admin, lk, list_id, mail, entry.id, identity(mail, entry.raw))
    return _ask(host, admin, lk, list_id, mail, entry)


def _ask(host: PluginHost, admin: ListAdmin, lk: ListKeys, list_id: str, mail: MailText, entry: Entry) -> str:
    """Hold the writer's mail and ask them to confirm it by replying."""
    code = secrets.token_hex(12)
    held = lk.keys.key_for("held", code)
    options = admin.options(list_id)
    tenant = lk.key.partition("/")[0]
    variables = {
        "list": options.name,
        "number": "",
        "sender": mail.sender,
        "subject": mail.subject,
        "text": mail.text[:500],
    }
    question = Outbound(
        to=mail.sender,
        sender=address_of(host.settings, tenant, list_id) or "",
        text=templating.render(options.reply("mail_confirm"), variables),
        channel=Channel.EMAIL,
        kind=Kind.NOTICE,
        service=lk.key,
        meta={
            "subject": f"{_WORDS[options.language][0]}: {' '.join(mail.subject.split())}"[:200],
            "reply_to": confirm_address(host.settings, tenant, list_id, code),
            "from": formataddr((options.name, address_of(host.settings, tenant, list_id) or "")),
            "auto_submitted": "auto-generated",  # an autoresponder's answer to it is automatic mail, never a reply
        },
    )
    kept = base64.b64encode(entry.raw).decode("ascii")  # a commit's writes carry text
    writes = [
        Write("HSET", held, ("raw", kept, "writer", mail.sender, "id", entry.id)),
        Write("EXPIRE", held, (HOLD_S,)),
    ]
    host.apply(lk.scope, Effects(writes=writes, replies=[question]), f"mail-confirm:{entry.id}", f"mail {mail.sender}")
    return "confirm"


def _confirmed(host: PluginHost, admin: ListAdmin, lk: ListKeys, list_id: str, reply: MailText, code: str) -> str:
    """The writer's reply: the mail held under ``code`` is broadcast, if it was theirs."""
    held = lk.keys.key_for("held", code)
    found = host.redis.hgetall(held)
    if not found or found.get(b"writer", b"").decode() != reply.sender:  # type: ignore[union-attr]
        return "dropped: no mail of this writer waits under that code"
    mail = read_mail(base64.b64decode(found[b"raw"]))  # type: ignore[index]
    standing, _ = store.standing(host.redis, lk, mail.sender)
    if not standing.writer:
        return "dropped: no longer a writer"
    raw = base64.b64decode(found[b"raw"])  # type: ignore[index]
    done = _broadcast(host, admin, lk, list_id, mail, found[b"id"].decode(), identity(mail, raw))  # type: ignore[index]
    host.redis.delete(held)
    return done


def _broadcast(
    host: PluginHost, admin: ListAdmin, lk: ListKeys, list_id: str, mail: MailText, entry_id: str, once: str
) -> str:
    """The writer's mail as a broadcast, with its receipt to the writer; once per ``once``."""
    options = admin.options(list_id)
    tenant = lk.key.partition("/")[0]
    subject = " ".join(mail.subject.split())[:MAX_SUBJECT]
    text = mail.text.strip() or subject  # in full by email; SMS members get it cut, below
    if not text:
        return "dropped: an empty mail (no text, no subject)"
    variables = {
        "list": options.name,
        "number": "",
        "sender": mail.sender,
        "subject": subject,
        "attachments": ", ".join(mail.attachments),
    }
    receipt = Outbound(  # a template rendered when the last member is queued; the mail's words are variables
        to=mail.sender,
        sender=address_of(host.settings, tenant, list_id) or "",
        text=options.reply("mail_receipt"),
        channel=Channel.EMAIL,
        kind=Kind.NOTICE,
        service=lk.key,
        meta={
            "subject": f"{_WORDS[options.language][1]}: {subject}"[:MAX_SUBJECT],
            "from": formataddr((options.name, address_of(host.settings, tenant, list_id) or "")),
        },
    )
    footer = admin.body(list_id, "x")[1:]  # what broadcast() adds under the text ("\n<footer>" or "")
    body = cut_to_segments(text, options.sms_segments, footer)
    try:
        admin.broadcast(
            list_id,
            body,
            subject,
            fanout_id=f"mail:{entry_id}",
            receipt=receipt,
            once=once,
            receipt_vars=variables,
            email_text=text if body != text else "",
        )
    except ListError as exc:  # sent already (the same mail again), or the list cannot broadcast: nothing to retry
        if "already" in str(exc):
            return "dropped: sent already"
        failed = Outbound(  # the writer is told why, rather than left waiting for a receipt
            to=mail.sender,
            sender=address_of(host.settings, tenant, list_id) or "",
            text=templating.render(options.reply("mail_failed"), variables | {"reason": str(exc)}),
            channel=Channel.EMAIL,
            kind=Kind.NOTICE,
            service=lk.key,
            meta={"subject": f"{_WORDS[options.language][2]}: {subject}"[:MAX_SUBJECT], "from": receipt.meta["from"]},
        )
        host.apply(lk.scope, Effects(replies=[failed]), f"mail-failed:{once}", f"mail {mail.sender}")
        return f"dropped: {exc}"
    return "broadcast"


def _not_sent(host: PluginHost, admin: ListAdmin, lk: ListKeys, list_id: str, mail: MailText) -> None:
    """A mail from someone who may not broadcast: to the functionaries only, marked as not sent."""
    options = admin.options(list_id)
    variables = {"list": options.name, "number": "", "sender": mail.sender, "text": mail.text[:1000]}
    notice = templating.render(options.reply("not_sent"), variables)
    tenant = lk.key.partition("/")[0]
    service = host.service(lk.key)
    own = formataddr((options.name, address_of(host.settings, tenant, list_id) or ""))
    replies = functionary_notices(host.redis, lk, notice, service.number if service else None, own)
    if replies:
        host.apply(lk.scope, Effects(replies=replies), f"mail-not-sent:{secrets.token_hex(8)}", f"mail {mail.sender}")


def bounced(host: PluginHost, entry: Entry, list_id: str, code: str) -> str:
    """A bounce of the list's mail to one member (VERP): a hard one (``Status: 5.x.x``, or ``Action: failed``) is
    counted, and after :data:`BOUNCES` the member's address is disabled, with a consent record of why."""
    lk = ListKeys(entry.list_key)
    raw_member = host.redis.hget(lk.keys.key_for("bounce-ids"), code)
    if raw_member is None:
        return "dropped: a bounce for no member of the list"
    member = raw_member.decode() if isinstance(raw_member, bytes) else str(raw_member)
    statuses = _STATUS.findall(entry.raw)
    if not (b"5" in statuses or (not statuses and _FAILED.search(entry.raw))):
        return "bounce: not a hard one, not counted"
    count = int(host.redis.hincrby(lk.keys.key_for("bounces"), member, 1))
    if count < BOUNCES:
        return f"bounce: hard, {count} for {member}"
    admin = ListAdmin(host, lk.key.partition("/")[0], by="bounces")
    why = f"email address disabled after {count} hard bounces"
    contact = store.contacts(host.redis, lk, [member])[0]
    if "@" in member:  # known by the address alone: off the list (not an unsubscription: they may join again)
        try:
            admin._change(list_id, "remove", member, why)
        except ListError:
            pass  # off the list already
    elif contact.get("email"):  # a number with an address: the address goes, the number stays
        kept = json.dumps({k: v for k, v in contact.items() if k != "email"}, ensure_ascii=False)
        latest = host.redis.lindex(lk.consent(member), -1)
        marketing = store.agreed_to_marketing(latest)  # type: ignore[arg-type]
        record = store.consent_record("bounced", "email", why, "bounces", marketing=marketing)
        writes = [Write("HSET", lk.contacts, (member, kept)), *store.consent_writes(lk, member, record)]
        admin.commit(lk, Effects(writes=writes), "bounced")
    host.redis.hdel(lk.keys.key_for("bounces"), member)
    return f"bounce: hard, {count} for {member}: address disabled"

"""Broadcasts to a list: its members page by page, and the check at send time that each still is one.

A broadcast is a core fan-out (:mod:`kodeord.outbound.fanout`) whose source is this plugin. Members are paged in
lexical order of their ids, so the cursor is simply the last id sent; someone who joins during a broadcast
gets it if their id sorts after the cursor. A member who leaves during a broadcast is removed from
``members`` at once, and every message is checked against ``members`` again just before it is sent.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from kodeord.commit.effects import Write
from kodeord.decide.actions import Veto
from kodeord.inbound.messages import Channel, Kind, Outbound
from kodeord.outbound.fanout import Fanout, FanoutPage, Recipient
from kodeord.web.links import Links

from . import store
from .mailaddress import bounce_address
from .store import ListKeys

if TYPE_CHECKING:
    import redis

LEAVE_PATH = "/addressbook/leave"


def leave_link(links: Links | None, list_key: str, member: str) -> str:
    """The signed one-click link that unsubscribes ``member`` (email footers and List-Unsubscribe)."""
    return links.url(LEAVE_PATH, "addressbook-leave", [list_key, member]) if links is not None else ""


def page(fanout: Fanout, after: str, limit: int, client: redis.Redis, links: Links | None) -> FanoutPage:
    """The next ``limit`` members after ``after``, each as SMS and/or email recipient."""
    lk = ListKeys(fanout.params["list"])
    ids = store.page(client, lk, "members", after, limit)
    details = store.contacts(client, lk, ids)
    exclude = fanout.params.get("exclude", "")
    domain = fanout.message.meta.get("bounce_domain", "")
    tenant, _, list_id = lk.key.partition("/")
    recipients = []
    writes: list[Write] = []
    for member, contact in zip(ids, details, strict=True):
        phone = member if member.startswith("+") else contact.get("phone", "")
        email = contact.get("email", "") if "@" not in member else member
        meta = {"member": member}
        if phone and phone != exclude:
            recipients.append(Recipient(phone, Channel.SMS, meta))
        if email and email != exclude and member != exclude:
            link = leave_link(links, lk.key, member)
            footer = fanout.message.meta.get("email_footer", "").replace("{link}", link)
            extra = {"list_unsubscribe": link, "footer": footer}
            if domain and links is not None:  # VERP: a bounce comes back to an address that says whose
                code = links.digest("bounce", f"{lk.key}|{member}")
                address = bounce_address(domain, tenant, list_id, code)
                if len(address.partition("@")[0]) <= 64:  # an address's local part; a longer one relays refuse
                    extra["return_path"] = address
                    writes.append(Write("HSET", lk.keys.key_for("bounce-ids"), (code, member)))
            recipients.append(
                Recipient(
                    email,
                    Channel.EMAIL,
                    {**meta, **extra},
                    text=fanout.message.meta.get("email_text") or None,  # a mail's whole text, where an SMS is cut
                )
            )
    return FanoutPage(recipients, ids[-1] if len(ids) == limit else None, writes)


def _by_list(
    messages: Sequence[Outbound], kinds: tuple[Kind, ...] = (Kind.BROADCAST, Kind.MARKETING)
) -> dict[str, list[int]]:
    """The indexes of a list's messages of ``kinds`` to its members, by list."""
    by_list: dict[str, list[int]] = defaultdict(list)
    for index, message in enumerate(messages):
        if message.kind in kinds and "list" in message.meta and "member" in message.meta:
            by_list[message.meta["list"]].append(index)
    return by_list


def vet(messages: Sequence[Outbound], client: redis.Redis) -> Mapping[int, Veto] | None:
    """Veto broadcast messages to anyone no longer a member of the list (one pipelined round trip)."""
    by_list = _by_list(messages)
    if not by_list:
        return None
    pipe = client.pipeline(transaction=False)
    for list_key, indexes in by_list.items():
        pipe.zmscore(ListKeys(list_key).members, [messages[i].meta["member"] for i in indexes])
    vetoes = {}
    for indexes, scores in zip(by_list.values(), pipe.execute(), strict=True):
        for index, score in zip(indexes, scores, strict=True):
            if score is None:
                vetoes[index] = Veto("no longer a member of the list", store.PLUGIN)
    return vetoes


def consent(messages: Sequence[Outbound], client: redis.Redis) -> Mapping[int, bool] | None:
    """For a list's marketing messages: whether the member agreed to them, that is, is a member whose latest
    consent record (how they came onto the list: a join by SMS, a join link, an approval, an add or an import
    with its note) was made while the list was one for marketing (``marketing: true``): someone who joined
    before the option was turned on did not agree to marketing. One pipelined round trip."""
    by_list = _by_list(messages, (Kind.MARKETING,))
    if not by_list:
        return None
    pipe = client.pipeline(transaction=False)
    for list_key, indexes in by_list.items():
        lk = ListKeys(list_key)
        members = [messages[i].meta["member"] for i in indexes]
        pipe.zmscore(lk.members, members)
        for member in members:
            pipe.lindex(lk.consent(member), -1)
    replies = iter(pipe.execute())
    agreed: dict[int, bool] = {}
    for indexes in by_list.values():
        scores = next(replies)
        for index, score in zip(indexes, scores, strict=True):
            latest = next(replies)
            agreed[index] = score is not None and store.agreed_to_marketing(latest)
    return agreed


def functionary_notices(
    client: redis.Redis, lk: ListKeys, text: str, number: str | None, mail_from: str = ""
) -> list[Outbound]:
    """``text`` (a "Meddelande ej skickat" notice) to each of the list's functionaries: by SMS from the list's
    ``number`` (none where the list has no number), by email with the notice on one line as its subject and
    ``mail_from``, if given, as its From."""
    subject = " ".join(text.split())[:78]  # a header: one line, whatever the notice quotes
    notices = []
    for raw in sorted(client.smembers(lk.functionaries)):  # type: ignore[union-attr]
        address = raw.decode() if isinstance(raw, bytes) else str(raw)
        if "@" in address:
            meta = {"subject": subject, **({"from": mail_from} if mail_from else {})}
            notices.append(Outbound(address, number or "", text, Channel.EMAIL, Kind.NOTICE, lk.key, meta))
        elif number:
            notices.append(Outbound(address, number, text, Channel.SMS, Kind.NOTICE, lk.key))
    return notices

"""``addressbook.inbox``: everything texted to a list's number (AB-1 to AB-8).

- the list's join word (START) joins, or asks to join where an administrator approves joiners;
- its leave word (STOPP, STOP) unsubscribes: the person gets nothing more from the list;
- any other text from someone who may broadcast (a writer, or any member where members may) goes to every
  member, and the writer gets a receipt with the count;
- any other text from anyone else goes only to the functionaries, marked "Message not sent".

State changes are returned as effects and committed with the replies in one transaction.
"""

from __future__ import annotations

from typing import Any

from kodeord.commit.effects import Effects, Write
from kodeord.decide import templating
from kodeord.decide.actions import ActionCall
from kodeord.inbound.messages import Kind, Outbound
from kodeord.outbound.fanout import Fanout
from kodeord.support.errors import TemplateError

from . import options as opts
from . import store
from .broadcast import functionary_notices
from .store import CONSENT_KEEP, ListKeys, Standing

JOIN_PATH = "/addressbook/join"


def list_options(call: ActionCall, overrides: dict[str, Any]) -> opts.ListOptions:
    """The effective options of the call's list."""
    return opts.effective(call.service.id, opts.default_language(call.service.number), dict(call.params), overrides)


def rejoin_link(call: ActionCall, member: str) -> str:
    """The signed link that lets this person (and only them) join the list again."""
    if call.links is None:
        return ""
    return call.links.url(JOIN_PATH, "addressbook-join", [call.service.key, member])


class Inbox:
    """Decides what one inbound message to a list does."""

    def __init__(self, call: ActionCall) -> None:
        self.call = call
        self.sender = call.inbound.sender
        self.lk = ListKeys(call.service.key)
        self.standing, overrides = store.standing(call.redis, self.lk, self.sender)
        self.options = list_options(call, overrides)
        self.effects = Effects(silent=True)

    def run(self) -> Effects:
        """The effects of the message."""
        word = self.options.word(self.call.inbound.text)
        if word == "join":
            self.join()
        elif word == "leave":
            self.leave()
        elif self.may_broadcast(self.standing):
            self.broadcast()
        else:
            self.forward()
        return self.effects

    # -- joining and leaving ---------------------------------------------------------------------------------

    def join(self) -> None:
        state = self.standing.state
        if state == "members":
            self.reply("already_member")
            return
        if state == "pending":
            self.reply("pending")
            return
        now_ms = int(self.call.now.timestamp() * 1000)
        self.write("ZREM", self.lk.unsubscribed, self.sender)
        if self.options.approval == "manual":
            self.write("ZADD", self.lk.pending, now_ms, self.sender)
            self.consent("request")
            self.reply("pending")
        else:
            self.write("ZADD", self.lk.members, 0, self.sender)
            self.consent("join")
            self.reply("joined")

    def leave(self) -> None:
        # Anyone who says STOPP is recorded as unsubscribed, member or not: nobody may add them back.
        now_ms = int(self.call.now.timestamp() * 1000)
        self.write("ZREM", self.lk.members, self.sender)
        self.write("ZREM", self.lk.pending, self.sender)
        self.write("ZADD", self.lk.unsubscribed, now_ms, self.sender)
        self.consent("leave")
        # Answered only once no broadcast message vetted before the leave can still be handed over to them.
        self.effects.settle.extend(store.addresses(self.call.redis, self.lk, self.sender))
        self.reply("left", link=rejoin_link(self.call, self.sender))

    # -- broadcasting and forwarding -------------------------------------------------------------------------

    def may_broadcast(self, standing: Standing) -> bool:
        """Writers may; members too where the list lets every member broadcast."""
        return standing.writer or (self.options.senders == "members" and standing.state == "members")

    def broadcast(self) -> None:
        text = self.call.inbound.text.strip()
        if not text:
            self.reply("empty")
            return
        if self.options.footer:
            text = f"{text}\n{self.options.footer}"
        inbound, service = self.call.inbound, self.call.service
        subject = self.render("email_subject")
        message = Outbound(
            to="",
            sender=inbound.recipient,
            text=text,
            kind=Kind.BROADCAST,
            service=service.key,
            meta={
                "list": service.key,
                "subject": subject or service.id,
                "email_footer": self.render("email_footer", link="{link}"),
            },
        )
        receipt = Outbound(
            to=self.sender,
            sender=inbound.recipient,
            text=self.options.reply("receipt"),
            kind=Kind.REPLY,
            service=service.key,
        )
        self.effects.fanouts.append(
            Fanout(
                id=f"{inbound.gateway}:{inbound.message_id}",
                source=store.PLUGIN,
                params={"list": service.key, "exclude": self.sender},
                message=message,
                receipt=receipt,
                receipt_vars=self.variables(),
            )
        )

    def forward(self) -> None:
        """Not a writer: the text goes only to the functionaries, marked "Message not sent"."""
        notice = self.render("not_sent", text=self.call.inbound.text)
        number = self.call.inbound.recipient
        self.effects.replies.extend(functionary_notices(self.call.redis, self.lk, notice, number))
        # Only someone who is not on the list (nor waiting to be) is told how to join.
        self.reply("forwarded_member" if self.standing.state in ("members", "pending") else "forwarded")

    # -- helpers ---------------------------------------------------------------------------------------------

    def variables(self) -> dict[str, str]:
        return {"list": self.options.name, "number": self.call.inbound.recipient, "sender": self.sender}

    def render(self, name: str, **extra: str) -> str:
        try:
            return templating.render(self.options.reply(name), self.variables() | extra)
        except TemplateError:
            return templating.render(opts.DEFAULT_REPLIES[self.options.language][name], self.variables() | extra)

    def reply(self, name: str, **extra: str) -> None:
        text = self.render(name, **extra)
        if text:
            inbound = self.call.inbound
            self.effects.replies.append(
                Outbound(to=self.sender, sender=inbound.recipient, text=text, service=self.call.service.key)
            )

    def write(self, command: str, key: str, *args: str | int) -> None:
        self.effects.writes.append(Write(command, key, args))

    def consent(self, event: str) -> None:
        inbound = self.call.inbound
        record = store.consent_record(
            event,
            inbound.channel.value,
            inbound.text,
            self.sender,
            f"{inbound.gateway}:{inbound.message_id}",
            self.call.now,
            marketing=self.options.marketing,
        )
        key = self.lk.consent(self.sender)
        self.write("RPUSH", key, record)
        self.write("LTRIM", key, -CONSENT_KEEP, -1)

"""What administrators do to lists, shared by the JSON API and the CLI.

Every change that depends on a person's standing is committed as effects with guards ("not unsubscribed",
"still pending"), in one step, so it cannot race a STOPP arriving by SMS: no administrator action can put an
unsubscribed person back on a list. Each change is recorded in the person's consent records, and notices to
the person (approved, rejected) are queued, vetted, in the same step.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from email.utils import formataddr
from typing import TYPE_CHECKING, Any

from kodeord.commit.effects import Effects, Guard, Write
from kodeord.decide import templating
from kodeord.inbound import phone
from kodeord.inbound.messages import Kind, Outbound, check_email
from kodeord.outbound.fanout import Fanout
from kodeord.support.errors import InvalidMessage, InvalidNumber, RequestError

from . import options as opts
from . import store
from .mailaddress import address_of, list_id_header
from .store import ListKeys

if TYPE_CHECKING:
    from kodeord.config.model import Service
    from kodeord.decide.router import Outcome
    from kodeord.platform import PluginHost

log = logging.getLogger(__name__)
ACTION = "addressbook.inbox"


class ListError(RequestError):
    """A list operation that cannot be done; ``http_status`` says why."""


class MemberError(ListError):
    """A member's details that are not valid; ``problem`` says which: ``phone`` (not a number), ``not_mobile``
    (a number, but no mobile), ``email``, ``name`` (too long) or ``missing`` (neither number nor address)."""

    def __init__(self, message: str, problem: str) -> None:
        super().__init__(message)
        self.problem = problem


IMPORT_BATCH = 1000
MAX_TEXT = 1600  # characters of a broadcast's text
MAX_SUBJECT = 200  # characters of a broadcast email's subject
ONCE_S = 14 * 24 * 3600  # how long what started a broadcast (a mail) is remembered, so that it starts one


def parse_address(raw: str, regions: tuple[str, ...]) -> str:
    """A phone number as E.164 or an email address in lower case; ListError saying what is wrong."""
    try:
        return check_email(raw) if "@" in raw else phone.parse(raw, regions)
    except (InvalidNumber, InvalidMessage) as exc:
        raise ListError(str(exc)) from None


def _checked(raw: str, regions: tuple[str, ...], field: str) -> str:
    """:func:`parse_address`, its error a MemberError about ``field``."""
    try:
        return parse_address(raw, regions)
    except ListError as exc:
        raise MemberError(str(exc), field) from None


@dataclass
class ListAdmin:
    """The lists of one tenant, as its administrators see them."""

    platform: PluginHost
    tenant: str
    by: str  # who acts, for the consent records: "api:<key name>", "cli"
    channel: str = "api"

    @property
    def redis(self) -> Any:
        return self.platform.redis

    # -- lists -----------------------------------------------------------------------------------------------

    def _services(self) -> dict[str, Service]:
        """The tenant's rule-file services that are lists, by id."""
        return {service.id: service for service, _ in self.platform.services(self.tenant, ACTION)}

    def ids(self) -> list[str]:
        """Every list of the tenant: from the rule files and created through the API or CLI."""
        created = {m.decode() for m in self.redis.smembers(store.registry(self.tenant))}
        return sorted(created | set(self._services()))

    def keys(self, list_id: str) -> ListKeys:
        """The keys of an existing list; 404 if the tenant has no such list."""
        if list_id not in self.ids():
            raise ListError(f"no list {list_id!r} for tenant {self.tenant!r}", 404)
        return ListKeys(f"{self.tenant}/{list_id}")

    def options(self, list_id: str) -> opts.ListOptions:
        """The effective options of a list."""
        lk = self.keys(list_id)
        service = self._services().get(list_id)
        params: dict[str, Any] = {}
        language = "sv"
        if service is not None:
            rule = next(r for r in service.rules if r.action == ACTION)
            params = dict(rule.params)
            language = opts.default_language(service.number)
        return opts.effective(list_id, language, params, store.overrides(self.redis, lk))

    def show(self, list_id: str) -> dict[str, Any]:
        """A list: its number (if a rule file gives it one), options, counts, writers and functionaries."""
        lk = self.keys(list_id)
        service = self._services().get(list_id)
        return {
            "id": list_id,
            "number": service.number if service else None,
            "address": address_of(self.platform.settings, self.tenant, list_id),
            "options": self.options(list_id).to_dict(),
            "counts": store.counts(self.redis, lk),
            "writers": sorted(m.decode() for m in self.redis.smembers(lk.writers)),
            "functionaries": sorted(m.decode() for m in self.redis.smembers(lk.functionaries)),
        }

    def create(self, list_id: str, options: dict[str, Any]) -> dict[str, Any]:
        """A new list (without a number until a rule file gives it one); 409 if the id is taken."""
        if not store.LIST_ID.fullmatch(list_id):
            raise ListError(f"list id {list_id!r} must be letters, digits, '-' and '_' (at most 64)")
        if list_id in self.ids():
            raise ListError(f"list {list_id!r} already exists", 409)
        self._check(options)
        lk = ListKeys(f"{self.tenant}/{list_id}")
        if options:  # first, so that a listed list has its options (the two keys are in two slots of a cluster)
            self.redis.hset(lk.options, mapping={k: json.dumps(v, ensure_ascii=False) for k, v in options.items()})
        self.redis.sadd(store.registry(self.tenant), list_id)
        return self.show(list_id)

    def set_options(self, list_id: str, options: dict[str, Any]) -> dict[str, Any]:
        """Override options (``null`` removes an override, so the rule file's value or the default applies)."""
        lk = self.keys(list_id)
        self._check({k: v for k, v in options.items() if v is not None})
        pipe = self.redis.pipeline(transaction=True)
        for name, value in options.items():
            if value is None:
                pipe.hdel(lk.options, name)
            else:
                pipe.hset(lk.options, name, json.dumps(value, ensure_ascii=False))
        pipe.execute()
        return self.show(list_id)

    def _check(self, options: dict[str, Any]) -> None:
        problems = opts.problems(options)
        if problems:
            raise ListError("; ".join(problems), 422)

    # -- writers and functionaries ---------------------------------------------------------------------------

    def set_role(self, list_id: str, role: str, address: str, present: bool) -> list[str]:
        """Add or remove a writer or functionary; return the role's addresses."""
        if role not in ("writers", "functionaries"):
            raise ListError(f"unknown role {role!r}; use writers or functionaries", 404)
        lk = self.keys(list_id)
        key = lk.of_role(role)
        parsed = parse_address(address, tuple(self.platform.settings.regions))
        if present:
            self.redis.sadd(key, parsed)
        elif not self.redis.srem(key, parsed):
            raise ListError(f"{parsed} is not one of the list's {role}", 404)
        return sorted(m.decode() for m in self.redis.smembers(key))

    # -- members ---------------------------------------------------------------------------------------------

    def add_member(
        self, list_id: str, phone_raw: str = "", email_raw: str = "", name: str = "", note: str = ""
    ) -> dict[str, Any]:
        """Add a member by hand (AB-6); 409 if the person unsubscribed (only they can come back)."""
        member, extra = self.member_row(phone_raw, email_raw, name)
        self._change(list_id, "add", member, note or "added by an administrator", extra)
        contact = json.loads(extra) if extra else {("email" if "@" in member else "phone"): member}
        return {"id": member, **contact}

    def import_members(
        self, list_id: str, rows: list[tuple[str, str]], note: str, progress: Callable[[int], None] | None = None
    ) -> list[str]:
        """Add checked (member id, contact JSON or "") rows in batches; return the ids skipped as unsubscribed.

        Those who unsubscribed are left out, and each batch is one commit guarded by "none of these
        unsubscribed": if a STOPP lands on one of them in between, they are left out and the rest committed
        again. ``progress``, if given, is
        told how many rows each batch added (a progress bar's ``update``).
        """
        lk = self.keys(list_id)
        record = store.consent_record("added", self.channel, note, self.by, marketing=self.options(list_id).marketing)
        skipped: list[str] = []
        for start in range(0, len(rows), IMPORT_BATCH):
            chunk = rows[start : start + IMPORT_BATCH]
            while chunk:  # those who unsubscribed are left out first; the guard catches a STOPP since
                ids = [member for member, _ in chunk]
                gone = set(store.unsubscribed_of(self.redis, lk, ids))
                if gone:
                    skipped += [member for member in ids if member in gone]
                    chunk = [row for row in chunk if row[0] not in gone]
                    continue
                guard = Guard.outside("unsubscribed", lk.unsubscribed, *ids)
                effects = Effects(writes=store.added(lk, chunk, record), guards=[guard])
                if self.commit(lk, effects, f"import:{start}").guard is None:
                    break
            if progress is not None:
                progress(min(IMPORT_BATCH, len(rows) - start))
        return skipped

    def member_row(self, phone_raw: str, email_raw: str, name: str) -> tuple[str, str]:
        """A checked (member id, contact JSON or "") for :meth:`import_members`; ListError if invalid."""
        regions = tuple(self.platform.settings.regions)
        number = _checked(phone_raw, regions, "phone") if phone_raw else ""
        if number:
            problem = "not a phone number" if "@" in number else phone.mobile_problem(number)
            if problem is not None:
                kind = "not_mobile" if problem == "not a mobile number" else "phone"
                raise MemberError(f"phone {phone_raw!r}: {problem}", kind)
        email = _checked(email_raw, regions, "email") if email_raw else ""
        if email_raw and "@" not in email:
            raise MemberError(f"email {email_raw!r} is not an email address", "email")
        if len(name) > 100:
            raise MemberError("name must be at most 100 characters", "name")
        try:
            member = store.member_id(number, email)
        except ValueError as exc:
            raise MemberError(str(exc), "missing") from None
        contact = {k: v for k, v in (("phone", number), ("email", email), ("name", name)) if v}
        return member, json.dumps(contact, ensure_ascii=False) if (email and number) or name else ""

    def remove_member(self, list_id: str, member: str) -> None:
        """Take a member (or a pending joiner) off the list; not an unsubscription: they may join again.
        Returns once no broadcast vetted before can still hand them a message."""
        reached = store.addresses(self.redis, self.keys(list_id), member)  # before the contact is dropped
        self._change(list_id, "remove", member, "removed by an administrator", settle=reached)

    def decide(self, list_id: str, member: str, approve: bool) -> None:
        """Approve or reject a pending joiner (AB-4); the person is told."""
        op, reply = ("approve", "approved") if approve else ("reject", "rejected")
        self._change(list_id, op, member, f"{op}d by an administrator", notify=reply)

    def _change(
        self,
        list_id: str,
        op: str,
        member: str,
        text: str,
        contact: str = "",
        notify: str = "",
        settle: Sequence[str] = (),
    ) -> None:
        """One member's change (add, approve, reject, remove) with its consent record and, if ``notify`` names
        a reply, a notice to the person; guarded so that nobody who unsubscribed is put back."""
        lk = self.keys(list_id)
        record = store.consent_record(
            op if op != "add" else "added", self.channel, text, self.by, marketing=self.options(list_id).marketing
        )
        notice = self._notice(list_id, lk, member, notify) if notify and member.startswith("+") else None
        writes = store.changed(lk, op, member, contact, record)
        for _ in range(3):  # a removal again if an approval moved the person from pending to members meanwhile
            guards = self._guards(lk, op, member)
            effects = Effects(writes=writes, replies=[notice] if notice else [], guards=guards, settle=list(settle))
            outcome = self.commit(lk, effects, f"admin:{op}:{member}")
            failed = outcome.guard
            if failed != "not-member" or self._where(lk, member) is None:
                break
        for vetoed in outcome.vetoed:
            log.warning("list %s: the notice to %s was not sent: %s", lk.key, vetoed["to"], vetoed["reason"])
        if failed == "unsubscribed":
            raise ListError(
                f"{member} unsubscribed from {list_id}; only they can join again (START or their link)", 409
            )
        if failed == "not-pending":
            raise ListError(f"{member} is not waiting for approval on {list_id}", 404)
        if failed == "not-member":
            raise ListError(f"{member} is not on {list_id}", 404)

    def _guards(self, lk: ListKeys, op: str, member: str) -> list[Guard]:
        """What must hold for ``op`` on ``member`` when it is committed."""
        if op == "remove":  # a member or a pending joiner, wherever they are now
            return [Guard.within("not-member", self._where(lk, member) or lk.members, member)]
        guards = [Guard.outside("unsubscribed", lk.unsubscribed, member)]
        if op in ("approve", "reject"):
            guards.append(Guard.within("not-pending", lk.pending, member))
        return guards

    def _where(self, lk: ListKeys, member: str) -> str | None:
        """The set ``member`` is on: the members, the pending joiners, or neither (None)."""
        pipe = self.redis.pipeline(transaction=False)
        pipe.zscore(lk.members, member)
        pipe.zscore(lk.pending, member)
        on_members, on_pending = pipe.execute()
        return lk.members if on_members is not None else lk.pending if on_pending is not None else None

    def commit(self, lk: ListKeys, effects: Effects, what: str) -> Outcome:
        """Commit an administrator's change to list ``lk`` (``what`` it is, unique with the time)."""
        return self.platform.apply(lk.scope, effects, f"{what}:{time.time_ns()}", f"list admin {self.by}")

    def _notice(self, list_id: str, lk: ListKeys, member: str, reply: str) -> Outbound | None:
        service = self._services().get(list_id)
        if service is None:  # a list without a number cannot text anyone
            return None
        options = self.options(list_id)
        text = templating.render(
            options.reply(reply), {"list": options.name, "number": service.number, "sender": member}
        )
        return Outbound(to=member, sender=service.number, text=text, kind=Kind.REPLY, service=lk.key)

    def members(self, list_id: str, state: str = "members", after: str = "", limit: int = 100) -> dict[str, Any]:
        """A page of Members, Pending or Unsubscribed, with the cursor of the next page."""
        if state not in store.STATES:
            raise ListError(f"unknown state {state!r}; use one of {', '.join(store.STATES)}")
        if not 1 <= limit <= 1000:
            raise ListError("limit must be 1-1000")
        lk = self.keys(list_id)
        try:
            ids = store.page(self.redis, lk, state, after, limit)
        except ValueError as exc:
            raise ListError(str(exc)) from None
        details = store.contacts(self.redis, lk, ids)
        rows = [
            {"id": i, **({"phone": i} if i.startswith("+") else {"email": i}), **d}
            for i, d in zip(ids, details, strict=True)
        ]
        following = store.next_cursor(state, after, ids) if len(ids) == limit else None
        return {"state": state, "items": rows, "next": following}

    def consent(self, list_id: str, member: str) -> list[dict[str, str]]:
        """A member's consent records, oldest first (404 if there are none)."""
        records = store.consent(self.redis, self.keys(list_id), member)
        if not records:
            raise ListError(f"no consent records for {member} on {list_id}", 404)
        return records

    # -- broadcasts ------------------------------------------------------------------------------------------

    def broadcast(
        self,
        list_id: str,
        text: str,
        subject: str = "",
        fanout_id: str = "",
        marketing: bool = False,
        receipt: Outbound | None = None,
        once: str = "",
        receipt_vars: dict[str, str] | None = None,
        email_text: str = "",
    ) -> dict[str, Any]:
        """Start a broadcast to every member (the list needs a number to send SMS from); ``subject``, if given,
        is the emails' subject instead of the list's ``email_subject``; ``fanout_id`` names the broadcast
        (default: the channel and the time). It is kept in the list's log of recent broadcasts. ``marketing``:
        it promotes something, and each message is vetted as marketing (the erb plugin: consent, the sender's
        name, how to stop, and the price of a premium service it names). ``receipt`` goes to whoever started it
        when the last member is queued: its text a template of ``{{ count }}`` (how many), the list's variables and
        ``receipt_vars``. ``email_text``, if given, is what email members get instead of ``text`` (a mail's
        whole text, where SMS members get it cut). ``once`` names what started it (a mail): the
        same ``once`` starts one broadcast however often it is asked (409 after the first)."""
        lk = self.keys(list_id)
        service = self._services().get(list_id)
        if service is None:
            raise ListError(f"list {list_id!r} has no number: give it one in a rule file first", 409)
        if not text.strip() or len(text) > MAX_TEXT:
            raise ListError(f"text must be 1-{MAX_TEXT} characters")
        if len(subject) > MAX_SUBJECT:
            raise ListError(f"subject must be at most {MAX_SUBJECT} characters")
        options = self.options(list_id)
        if marketing and not options.marketing:
            raise ListError(
                f"the members of {list_id!r} did not join to get marketing: a marketing broadcast needs a list whose "
                "option marketing is true (say so where people join)",
                409,
            )
        variables = {"list": options.name, "number": service.number, "sender": self.by}
        body = self.body(list_id, text)
        fanout_id = fanout_id or f"{self.channel}:{time.time_ns()}"
        message = Outbound(
            to="",
            sender=service.number,
            text=body,
            kind=Kind.MARKETING if marketing else Kind.BROADCAST,
            service=lk.key,
            meta={
                "list": lk.key,
                "subject": subject.strip() or templating.render(options.reply("email_subject"), variables),
                "email_footer": templating.render(options.reply("email_footer"), variables | {"link": "{link}"}),
                **({"email_text": email_text} if email_text else {}),
                **self._mail_meta(list_id, options.name),
            },
        )
        started = store.broadcast_entry(fanout_id, self.by, text.strip())
        effects = Effects(
            writes=store.logged_broadcast(lk, started),
            fanouts=[
                Fanout(fanout_id, store.PLUGIN, {"list": lk.key}, message, receipt, variables | (receipt_vars or {}))
            ],
        )
        if once:
            done = lk.keys.key_for("started", once)
            effects.writes.append(Write("SET", done, (fanout_id, "EX", ONCE_S)))
            effects.guards.append(Guard.unset("once", done, Effects()))
        outcome = self.commit(lk, effects, "broadcast")
        if outcome.guard == "once":
            raise ListError(f"{once} has started a broadcast already", 409)
        return {"id": fanout_id, "list": list_id, "marketing": marketing}

    def _mail_meta(self, list_id: str, name: str) -> dict[str, str]:
        """With a mail domain: the list's address as the From of its mail (a reply reaches the list), its
        ``List-Id``, and the domain its bounces come back to."""
        domain = self.platform.settings.mail_domain
        if not domain:
            return {}
        return {
            "from": formataddr((name, address_of(self.platform.settings, self.tenant, list_id) or "")),
            "list_id": list_id_header(name, self.tenant, list_id, domain),
            "bounce_domain": domain,
        }

    def body(self, list_id: str, text: str) -> str:
        """The SMS a broadcast of ``text`` sends: the text and the list's footer."""
        footer = self.options(list_id).footer
        return f"{text.strip()}\n{footer}" if footer else text.strip()

    def broadcasts(self, list_id: str) -> list[dict[str, str]]:
        """The list's recent broadcasts started through the API, the CLI or the console, newest first."""
        return store.broadcast_log(self.redis, self.keys(list_id))

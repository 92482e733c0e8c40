"""A list's options: defaults per language, the rule file's ``with:``, and overrides set by the API or CLI
(``admins``, the console accounts that administer the list, is one of them).

The effective options are the language's defaults, then what the rule file says, then what an administrator
set later. Every value is checked the same way wherever it comes from: words are single words, replies are
templates that compile and use only the variables their reply may use.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from kodeord.config.keywords import fold
from kodeord.decide import templating
from kodeord.inbound.messages import check_email
from kodeord.support.errors import InvalidMessage, TemplateError

APPROVAL = ("auto", "manual")
SENDERS = ("writers", "members")
LANGUAGES = ("sv", "no", "en")
JOIN_WORDS = ("START",)
LEAVE_WORDS = ("STOPP", "STOP")
MAX_ADMINS = 100

# Variables each reply may use (besides these, none: a typo is refused when the options are set).
COMMON = frozenset({"list", "number", "sender"})
REPLY_VARIABLES: dict[str, frozenset[str]] = {
    "joined": COMMON,
    "already_member": COMMON,
    "pending": COMMON,
    "approved": COMMON,
    "rejected": COMMON,
    "left": COMMON | {"link"},
    "forwarded": COMMON,
    "forwarded_member": COMMON,
    "receipt": COMMON | {"count"},
    "not_sent": COMMON | {"text"},
    "empty": COMMON,
    "email_subject": COMMON,
    "email_footer": COMMON | {"link"},
    "mail_confirm": COMMON | {"subject", "text"},
    "mail_receipt": COMMON | {"count", "subject", "attachments"},
    "mail_failed": COMMON | {"subject", "reason"},
}

DEFAULT_REPLIES: dict[str, dict[str, str]] = {
    "sv": {
        "joined": "Välkommen till {{ list }}! Du får nu våra utskick. Svara STOPP för att avsluta.",
        "already_member": "Du är redan anmäld till {{ list }}. Svara STOPP för att avsluta.",
        "pending": "Tack! Din anmälan till {{ list }} väntar på att en administratör godkänner den.",
        "approved": "Din anmälan till {{ list }} är godkänd. Välkommen! Svara STOPP för att avsluta.",
        "rejected": "Din anmälan till {{ list }} godkändes inte.",
        "left": "Du är avanmäld från {{ list }} och får inga fler utskick. Ångrar du dig? Svara START "
        "eller öppna {{ link }}",
        "forwarded": "Ditt meddelande har skickats till funktionärerna i {{ list }}. Skicka START för att gå med.",
        "forwarded_member": "Ditt meddelande har skickats till funktionärerna i {{ list }}.",
        "receipt": "Ditt utskick skickas till {{ count }} mottagare i {{ list }}.",
        "not_sent": "Meddelande ej skickat. Från {{ sender }} till {{ list }}: {{ text }}",
        "empty": "Tomt meddelande, inget utskick till {{ list }}.",
        "email_subject": "{{ list }}",
        "email_footer": "Du får detta som medlem i {{ list }}. Avanmäl dig: {{ link }}",
        "mail_confirm": 'Du har skickat ett utskick till {{ list }}: "{{ subject }}". Svara på det här brevet '
        "(ett tomt svar räcker) för att skicka det. Har du inte skickat något? Gör ingenting, så skickas inget."
        "\n\n{{ text }}",
        "mail_receipt": 'Ditt utskick "{{ subject }}" till {{ list }} gick till {{ count }} mottagare.'
        "{% if attachments %} Bilagor skickas inte vidare: {{ attachments }}.{% endif %}",
        "mail_failed": 'Ditt utskick "{{ subject }}" till {{ list }} kunde inte skickas: {{ reason }}',
    },
    "no": {
        "joined": "Velkommen til {{ list }}! Du får nå våre utsendelser. Svar STOPP for å avslutte.",
        "already_member": "Du er allerede påmeldt {{ list }}. Svar STOPP for å avslutte.",
        "pending": "Takk! Påmeldingen din til {{ list }} venter på godkjenning fra en administrator.",
        "approved": "Påmeldingen din til {{ list }} er godkjent. Velkommen! Svar STOPP for å avslutte.",
        "rejected": "Påmeldingen din til {{ list }} ble ikke godkjent.",
        "left": "Du er avmeldt fra {{ list }} og får ingen flere utsendelser. Angrer du? Svar START "
        "eller åpne {{ link }}",
        "forwarded": "Meldingen din er sendt til funksjonærene i {{ list }}. Send START for å bli med.",
        "forwarded_member": "Meldingen din er sendt til funksjonærene i {{ list }}.",
        "receipt": "Utsendelsen din sendes til {{ count }} mottakere i {{ list }}.",
        "not_sent": "Melding ikke sendt. Fra {{ sender }} til {{ list }}: {{ text }}",
        "empty": "Tom melding, ingen utsendelse til {{ list }}.",
        "email_subject": "{{ list }}",
        "email_footer": "Du får dette som medlem av {{ list }}. Meld deg av: {{ link }}",
        "mail_confirm": 'Du har sendt en utsendelse til {{ list }}: "{{ subject }}". Svar på denne e-posten '
        "(et tomt svar holder) for å sende den. Har du ikke sendt noe? Gjør ingenting, så sendes ingenting."
        "\n\n{{ text }}",
        "mail_receipt": 'Utsendelsen din "{{ subject }}" til {{ list }} gikk til {{ count }} mottakere.'
        "{% if attachments %} Vedlegg sendes ikke videre: {{ attachments }}.{% endif %}",
        "mail_failed": 'Utsendelsen din "{{ subject }}" til {{ list }} kunne ikke sendes: {{ reason }}',
    },
    "en": {
        "joined": "Welcome to {{ list }}! You will now get our messages. Reply STOP to leave.",
        "already_member": "You are already signed up to {{ list }}. Reply STOP to leave.",
        "pending": "Thank you! Your request to join {{ list }} is waiting for an administrator's approval.",
        "approved": "Your request to join {{ list }} was approved. Welcome! Reply STOP to leave.",
        "rejected": "Your request to join {{ list }} was not approved.",
        "left": "You have left {{ list }} and will get no more messages. Changed your mind? Reply START "
        "or open {{ link }}",
        "forwarded": "Your message was passed on to the officials of {{ list }}. Send START to join.",
        "forwarded_member": "Your message was passed on to the officials of {{ list }}.",
        "receipt": "Your message is going to {{ count }} recipients in {{ list }}.",
        "not_sent": "Message not sent. From {{ sender }} to {{ list }}: {{ text }}",
        "empty": "Empty message, nothing sent to {{ list }}.",
        "email_subject": "{{ list }}",
        "email_footer": "You get this as a member of {{ list }}. Leave: {{ link }}",
        "mail_confirm": 'You sent a message to {{ list }}: "{{ subject }}". Reply to this mail (an empty reply '
        "will do) to send it. Did you not send anything? Do nothing, and nothing is sent.\n\n{{ text }}",
        "mail_receipt": 'Your message "{{ subject }}" to {{ list }} went to {{ count }} recipients.'
        "{% if attachments %} Attachments are not passed on: {{ attachments }}.{% endif %}",
        "mail_failed": 'Your message "{{ subject }}" to {{ list }} could not be sent: {{ reason }}',
    },
}


@dataclass(frozen=True)
class ListOptions:
    """The effective options of one list."""

    name: str
    approval: str = "auto"  # auto: joiners are members at once; manual: an administrator approves them
    senders: str = "writers"  # writers: only named writers broadcast; members: every member may
    language: str = "sv"
    join_words: tuple[str, ...] = JOIN_WORDS
    leave_words: tuple[str, ...] = LEAVE_WORDS
    footer: str = ""  # added to every broadcast SMS
    replies: dict[str, str] = field(default_factory=dict)
    admins: tuple[str, ...] = ()  # console accounts (email addresses) that administer the list
    marketing: bool = False  # members join to get marketing: their consent records are their consent to it
    mail_writers: str = "confirm"  # how a writer's mail is known to be theirs: confirm, dkim or both
    sms_segments: int = 3  # a mailed broadcast's text is cut to this many SMS parts for SMS members

    def reply(self, name: str) -> str:
        """The reply template ``name`` (the language's default unless set)."""
        return self.replies.get(name) or DEFAULT_REPLIES[self.language][name]

    def word(self, text: str) -> str | None:
        """``join`` or ``leave`` when the whole text is one of those words (any case, accents folded), else None."""
        folded = fold(text.strip())
        if folded in {fold(w) for w in self.join_words}:
            return "join"
        if folded in {fold(w) for w in self.leave_words}:
            return "leave"
        return None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, every reply filled in."""
        return {
            "name": self.name,
            "approval": self.approval,
            "senders": self.senders,
            "language": self.language,
            "join_words": list(self.join_words),
            "leave_words": list(self.leave_words),
            "footer": self.footer,
            "replies": {name: self.reply(name) for name in REPLY_VARIABLES},
            "admins": list(self.admins),
            "marketing": self.marketing,
            "mail_writers": self.mail_writers,
            "sms_segments": self.sms_segments,
        }


def _choice(allowed: tuple[str, ...]) -> Any:
    def check(value: Any) -> str | None:
        return None if value in allowed else f"must be one of {', '.join(allowed)}, not {value!r}"

    return check


def _words(value: Any) -> str | None:
    if not isinstance(value, list) or not value:
        return "must be a list of at least one word"
    for word in value:
        if not isinstance(word, str) or not word.strip() or len(word.split()) != 1 or len(word) > 40:
            return f"{word!r} is not a single word"
    return None


def _replies(value: Any) -> str | None:
    if not isinstance(value, dict):
        return "must be a mapping of reply names to texts"
    for name, text in value.items():
        if name not in REPLY_VARIABLES:
            return f"unknown reply {name!r}; known are: {', '.join(REPLY_VARIABLES)}"
        if not isinstance(text, str) or len(text) > 2000:
            return f"reply {name!r} must be a text of at most 2000 characters"
        try:
            templating.check(text, REPLY_VARIABLES[name])
        except TemplateError as exc:
            return f"reply {name!r}: {exc}"
    return None


def _footer(value: Any) -> str | None:
    return None if isinstance(value, str) and len(value) <= 200 else "must be a text of at most 200 characters"


def _name(value: Any) -> str | None:
    return None if isinstance(value, str) and 0 < len(value.strip()) <= 100 else "must be a text of 1-100 characters"


def _segments(value: Any) -> str | None:
    ok = isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 10
    return None if ok else f"must be a whole number from 1 to 10, not {value!r}"


def _flag(value: Any) -> str | None:
    return None if isinstance(value, bool) else f"must be true or false, not {value!r}"


def _admins(value: Any) -> str | None:
    if not isinstance(value, list) or len(value) > MAX_ADMINS:
        return f"must be a list of at most {MAX_ADMINS} email addresses (the console accounts of administrators)"
    for address in value:
        if not isinstance(address, str):
            return f"{address!r} is not an email address"
        try:
            check_email(address)
        except InvalidMessage as exc:
            return str(exc)
    return None


def address(raw: str) -> str:
    """An email address as console accounts are kept (normalised, lower case); ``raw`` lower-cased if it is not
    one (a value checked when it was set never is)."""
    try:
        return check_email(raw)
    except InvalidMessage:
        return raw.strip().lower()


# Option name -> check of its value: the rule file's parameters and the API use the same checks.
CHECKS = {
    "name": _name,
    "approval": _choice(APPROVAL),
    "senders": _choice(SENDERS),
    "language": _choice(LANGUAGES),
    "join_words": _words,
    "leave_words": _words,
    "footer": _footer,
    "replies": _replies,
    "admins": _admins,
    "marketing": _flag,
    "mail_writers": _choice(("confirm", "dkim", "both")),
    "sms_segments": _segments,
}


def problems(given: Mapping[str, Any]) -> list[str]:
    """What is wrong with a mapping of options (unknown names, bad values)."""
    found = []
    for name, value in given.items():
        check = CHECKS.get(name)
        if check is None:
            found.append(f"unknown option {name!r}; known are: {', '.join(CHECKS)}")
        elif (problem := check(value)) is not None:
            found.append(f"option {name!r}: {problem}")
    return found


def default_language(number: str) -> str:
    """The default replies' language for a list on ``number``: Norwegian on a +47 number, else Swedish."""
    return "no" if number.startswith("+47") else "sv"


def effective(name: str, language: str, *layers: Mapping[str, Any]) -> ListOptions:
    """The options from the defaults and each layer in turn (later layers win; replies merge by name)."""
    merged: dict[str, Any] = {"name": name, "language": language}
    replies: dict[str, str] = {}
    for layer in layers:
        for key, value in layer.items():
            if value is None:
                continue
            if key == "replies":
                replies.update(value)
            else:
                merged[key] = value
    for key in ("join_words", "leave_words"):
        if key in merged:
            merged[key] = tuple(merged[key])
    if "admins" in merged:
        merged["admins"] = tuple(dict.fromkeys(address(a) for a in merged["admins"]))
    return ListOptions(**merged, replies=replies)

"""An inbound email read for what a list needs of it: who sent it, its subject and its text, the attachments it
carried, and whether it is automatic mail that must never be broadcast.

Mail comes from anyone, so it is read as hostile input: any charset and transfer encoding mail clients use
(UTF-8, ISO-8859-1 and Windows-1252, quoted-printable, base64, RFC 2047 words in headers) arrives as the right
letters; a part in a charset Python does not know is read as Windows-1252 rather than refused. The text is the
first ``text/plain`` part, or the text of the first ``text/html`` part (block elements as lines, links as
``text (address)``, scripts and styles left out). A mail nested deeper than :data:`MAX_DEPTH` parts, with more
than :data:`MAX_PARTS` parts, without a From that is one address, or that is not a mail at all is refused with
a :class:`MailError` whose SMTP code and text say why.

Automatic mail (RFC 3834 ``Auto-Submitted``, ``Precedence: bulk/list/junk``, a mailer-daemon or postmaster
sender, a delivery report, an out-of-office reply such as "Autosvar", "Frånvaro", "Out of office") is marked
with why in :attr:`MailText.automatic`; a list's own mail coming back (its ``List-Id`` or ``List-Post``) is
recognised with :meth:`MailText.from_list`.
"""

from __future__ import annotations

import email
import email.policy
import re
from dataclasses import dataclass, field
from email.errors import MessageError
from email.headerregistry import Address
from email.message import EmailMessage, Message
from email.utils import getaddresses

from lxml import etree, html

from kodeord.inbound.messages import check_email
from kodeord.support.errors import InvalidMessage, KodeordError

MAX_DEPTH = 10  # parts inside parts
MAX_PARTS = 200
MAX_TEXT = 100_000  # characters of text kept
_AUTO_SENDERS = re.compile(r"^(mailer-daemon|postmaster|no-?reply|bounces?|auto-?reply)([+-.].*)?@", re.IGNORECASE)
_AUTO_SUBJECTS = re.compile(
    r"^\s*(autosvar|auto(matic)? ?reply|automatiskt svar|frånvaro|frånvarande|out of (the )?office|"
    r"fraværende|fravær|abwesend|undeliverable|delivery status notification|returned mail|"
    r"mail delivery (failed|failure)|olevererbart|kunde inte levereras)\b",
    re.IGNORECASE,
)
_BLOCKS = frozenset(
    "p div br li tr h1 h2 h3 h4 h5 h6 blockquote pre table ul ol section article header footer dd dt".split()
)


# What the email package raises on mail it cannot make sense of (its policies parse headers as they are read).
_UNREADABLE = (MessageError, ValueError, IndexError, TypeError, AttributeError, LookupError, AssertionError)


class MailError(KodeordError):
    """A mail that is refused: ``code`` is the SMTP reply code (``5xx``: do not send it again), ``message``
    the reply's text."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"{code} {message}")
        self.code = code
        self.message = message


@dataclass(frozen=True)
class MailText:
    """What a list reads of one mail."""

    sender: str  # the From address, normalised, lower case
    sender_name: str
    subject: str
    text: str
    message_id: str
    attachments: tuple[str, ...] = ()  # file names (or types) of the parts that were not the text
    automatic: str | None = None  # why it is automatic mail, never to be broadcast
    headers: dict[str, str] = field(default_factory=dict)  # List-Id, List-Post, DKIM-Signature present...

    def from_list(self, list_id_header: str, list_post: str) -> bool:
        """Whether the mail carries a list's own ``List-Id`` (``<...>`` compared without case) or ``List-Post``:
        the list's mail coming back, never to be broadcast again."""
        own_id = list_id_header.strip().strip("<>").lower()
        found_id = self.headers.get("list-id", "")
        if own_id and own_id in found_id.lower():
            return True
        post = self.headers.get("list-post", "").lower()
        return bool(list_post) and list_post.lower() in post


def read_mail(raw: bytes) -> MailText:
    """``raw`` (a whole mail as received) read; :class:`MailError` if it cannot be."""
    try:
        message = email.message_from_bytes(raw, policy=email.policy.default)
    except (RecursionError, MemoryError):
        raise MailError(552, "5.3.4 message too complex") from None
    except _UNREADABLE as exc:  # the parser itself rarely raises; if it does, the mail is unreadable
        raise MailError(550, f"5.6.0 message cannot be read ({type(exc).__name__})") from None
    if not isinstance(message, EmailMessage):
        raise MailError(550, "5.6.0 message cannot be read")
    _check_structure(message)
    sender, name = _sender(message)
    subject = _header(message, "subject")
    text, attachments = _body(message)
    headers = {
        key: _header(message, key)
        for key in ("list-id", "list-post", "auto-submitted", "precedence", "dkim-signature", "x-autoreply")
        if message.get(key) is not None
    }
    return MailText(
        sender=sender,
        sender_name=name,
        subject=subject,
        text=text[:MAX_TEXT],
        message_id=_header(message, "message-id"),
        attachments=attachments,
        automatic=_automatic(message, sender, subject),
        headers=headers,
    )


def _check_structure(message: Message) -> None:
    """Refuse a mail nested too deep or made of too many parts."""
    count = 0
    stack: list[tuple[Message, int]] = [(message, 1)]
    while stack:
        part, depth = stack.pop()
        count += 1
        if depth > MAX_DEPTH:
            raise MailError(552, f"5.3.4 message nested more than {MAX_DEPTH} parts deep")
        if count > MAX_PARTS:
            raise MailError(552, f"5.3.4 message of more than {MAX_PARTS} parts")
        payload = part.get_payload() if part.is_multipart() else None
        if isinstance(payload, list):
            stack.extend((child, depth + 1) for child in payload if isinstance(child, Message))


def _header(message: Message, name: str) -> str:
    """A header's value as text (RFC 2047 words decoded; a broken one as it stands), on one line."""
    try:
        value = message.get(name)
    except _UNREADABLE:  # a header the policy cannot parse is read raw
        value = None
        for key, raw in message.raw_items():  # type: ignore[attr-defined]
            if key.lower() == name:
                value = raw
                break
    return " ".join(str(value).split()) if value is not None else ""


def _sender(message: Message) -> tuple[str, str]:
    """The one From address, normalised; MailError if there is none, or more than one."""
    raw = _header(message, "from")
    if not raw:
        raise MailError(550, "5.1.7 the mail has no From address")
    try:
        header = message.get("from")
        addresses: list[Address] = list(getattr(header, "addresses", ()))
    except _UNREADABLE:
        addresses = []
    if not addresses:
        found = [(name, address) for name, address in getaddresses([raw]) if address]
        if len(found) != 1:
            raise MailError(550, "5.1.7 the From address cannot be read")
        name, address = found[0]
    elif len(addresses) != 1:
        raise MailError(550, "5.1.7 a mail to a list comes from one address")
    else:
        name, address = addresses[0].display_name, addresses[0].addr_spec
    try:
        return check_email(address), name
    except InvalidMessage:
        raise MailError(550, "5.1.7 the From address is not an email address") from None


def _body(message: EmailMessage) -> tuple[str, tuple[str, ...]]:
    """The mail's text (the plain part, else the HTML part as text) and the names of the other parts."""
    plain: str | None = None
    markup: str | None = None
    attachments: list[str] = []
    for part in message.walk():
        if part.is_multipart():
            continue
        kind = part.get_content_type()
        disposition = (part.get_content_disposition() or "").lower()
        filename = part.get_filename()
        if disposition == "attachment" or filename or not kind.startswith("text/"):
            attachments.append(filename or kind)
            continue
        content = _content(part)
        if kind == "text/plain" and plain is None:
            plain = content
        elif kind == "text/html" and markup is None:
            markup = content
        elif kind not in ("text/plain", "text/html"):
            attachments.append(kind)
    if plain is not None and plain.strip():
        text = plain
    elif markup is not None:
        text = html_text(markup)
    else:
        text = plain or ""
    return _tidy(text), tuple(attachments)


def _content(part: Message) -> str:
    """A text part's content in its charset (an unknown one read as Windows-1252)."""
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return str(part.get_payload())
    charset = part.get_content_charset() or "utf-8"
    try:
        return payload.decode(charset, "replace")
    except LookupError:
        return payload.decode("cp1252", "replace")


def html_text(markup: str) -> str:
    """The text of an HTML mail as a reader sees it: each block element a line (no empty lines: the text goes on
    by SMS too), ``<br>`` a line break, links as ``text (address)``, scripts, styles and the head left out."""
    if not markup.strip():
        return ""
    try:
        root = html.document_fromstring(markup)
    except (etree.ParserError, ValueError):
        return markup
    for element in root.iter("script", "style", "head", "title"):
        element.drop_tree()
    for link in root.iter("a"):
        target = link.get("href", "")
        if target.startswith(("http://", "https://", "mailto:")) and target not in (link.text_content() or ""):
            link.tail = f" ({target.removeprefix('mailto:')})" + (link.tail or "")
    pieces: list[str] = []

    def walk(element: etree._Element) -> None:
        tag = element.tag if isinstance(element.tag, str) else ""
        if tag in _BLOCKS:
            pieces.append("\n")
        if element.text and tag not in ("script", "style"):
            pieces.append(element.text)
        for child in element:
            walk(child)
            if child.tail:
                pieces.append(child.tail)
        if tag in _BLOCKS:
            pieces.append("\n")

    walk(root)
    lines = (" ".join(line.split()) for line in "".join(pieces).split("\n"))
    return "\n".join(line for line in lines if line)  # each block a line of its own


def _tidy(text: str) -> str:
    """Line endings as ``\\n``, no more than one empty line in a row, no spaces at line ends."""
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    tidy: list[str] = []
    for line in lines:
        if line or (tidy and tidy[-1]):
            tidy.append(line)
    return "\n".join(tidy).strip()


def _automatic(message: Message, sender: str, subject: str) -> str | None:
    """Why the mail is automatic (never to be broadcast), or None."""
    auto = _header(message, "auto-submitted").lower()
    if auto and auto != "no":
        return f"Auto-Submitted: {auto}"
    precedence = _header(message, "precedence").lower()
    if precedence in ("bulk", "list", "junk"):
        return f"Precedence: {precedence}"
    if message.get("x-autoreply") is not None or message.get("x-autorespond") is not None:
        return "an auto-reply header"
    if _AUTO_SENDERS.match(sender):
        return f"sent by {sender.split('@')[0]}"
    if message.get_content_type() == "multipart/report":
        return "a delivery report"
    if _AUTO_SUBJECTS.match(subject):
        return f"an automatic subject ({subject[:40]})"
    return None

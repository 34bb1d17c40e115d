"""A mail the bot received, read into what it may act on: who sent it, what it answers,
and the command lines it holds; or why it must run nothing.

Everything here is outside text, so every step is bounded and linear: a mail over
``MAIL_MAX`` is not parsed, headers are read raw (``compat32``: no structured header
parser) and cut before any pattern sees them, at most ``PARTS_MAX`` parts are looked at,
an HTML body is cut before it is parsed, and at most ``COMMANDS_MAX`` lines are taken.

What runs: the lines of the reply's first paragraph, before anything quoted (``>``, an
"On ... wrote:" line, a signature, a forwarded header block). What never does: mail that
is an auto-reply, a bounce or a mailing list's, and, when the deployment asks for it, mail
whose top ``Authentication-Results`` does not say DKIM passed for the sender's domain.
"""

from __future__ import annotations

import datetime as dt
import email
import email.header
import email.policy
import hashlib
import re
from dataclasses import dataclass
from email.message import Message
from html.parser import HTMLParser

from bot.email.address import parse_address
from bot.email.message import MSG_ID
from handlers.core.messages import TOPIC

MAIL_MAX = 1024 * 1024  # bytes of a mail the bot reads at all
HEADER_MAX = 2000  # characters of one header looked at
PARTS_MAX = 50
BODY_MAX = 64 * 1024  # characters of the body searched for commands
COMMANDS_MAX = 10
LINE_MAX = 2000

_ANGLED = re.compile(r"<([^<>\s]{1,320})>")
# "On Mon, 7 Dec 2026 at 09:00, Taskbot <bot@x> wrote:" and its usual translations
_ATTRIBUTION = re.compile(
    r"^(?:on|le|am|el|il|em|op|w dniu)\b.{0,300}\b(?:wrote|a écrit|schrieb|escribió|"
    r"ha scritto|escreveu|schreef|napisał)\b", re.IGNORECASE)
_SEPARATORS = ("-- ", "--", "__", "-----original message-----", "________________________________")
_HEADER_BLOCK = re.compile(r"^(?:from|von|de|da|van|od|sent|gesendet|envoyé):\s", re.IGNORECASE)
_AUTO_PRECEDENCE = frozenset({"bulk", "junk", "list", "auto_reply"})
_BOUNCERS = frozenset({"mailer-daemon", "postmaster"})


@dataclass(frozen=True)
class CalendarAnswer:
    """A calendar's answer to an invitation (iTIP ``METHOD:REPLY``)."""

    uid: str
    answer: str  # yes | no | maybe
    attendee: str  # the address it answers for, validated
    day: dt.date | None = None  # RECURRENCE-ID's date: one meeting; None: the whole series


_PARTSTAT = {"ACCEPTED": "yes", "DECLINED": "no", "TENTATIVE": "maybe"}
CALENDAR_MAX = 64 * 1024


def calendar_answer(text: str) -> CalendarAnswer | None:
    """The answer an iTIP REPLY holds: its first event's UID, RECURRENCE-ID and the
    ATTENDEE's PARTSTAT; None for anything else (a request, a counter-proposal, no
    answer, more than one attendee answering)."""
    unfolded = re.sub(r"\r?\n[ \t]", "", text[:CALENDAR_MAX])
    lines = unfolded.replace("\r\n", "\n").split("\n")[:2000]
    method, uid, day = "", "", None
    attendees: list[tuple[str, str]] = []
    in_event = False
    for line in lines:
        name, _, value = line.partition(":")
        key, *params = name.split(";")
        key = key.strip().upper()
        if key == "METHOD" and not in_event:
            method = value.strip().upper()
        elif key == "BEGIN" and value.strip().upper() == "VEVENT":
            if in_event or uid:
                break  # the first event only
            in_event = True
        elif key == "END" and value.strip().upper() == "VEVENT":
            in_event = False
        elif in_event and key == "UID":
            uid = value.strip()[:200]
        elif in_event and key == "RECURRENCE-ID":
            digits = value.strip()[:8]
            try:
                day = dt.date(int(digits[:4]), int(digits[4:6]), int(digits[6:8]))
            except ValueError:
                return None
        elif in_event and key == "ATTENDEE":
            stat = next((p_.partition("=")[2].strip('"').upper() for p_ in params
                         if p_.upper().startswith("PARTSTAT=")), "")
            attendees.append((stat, value.strip()))
    if method != "REPLY" or not uid or len(attendees) != 1:
        return None
    stat, address = attendees[0]
    answer = _PARTSTAT.get(stat)
    who = parse_address(address[7:] if address.lower().startswith("mailto:") else address)
    if answer is None or who is None:
        return None
    return CalendarAnswer(uid, answer, who, day)


@dataclass(frozen=True)
class Received:
    """One mail as the inbox acts on it."""

    digest: str  # the mail's own key: a hash of its sender and Message-ID, or of its bytes
    sender: str | None  # the From address, validated and lower case
    message_id: str  # its Message-ID when well formed ("" otherwise)
    subject: str
    topic: str  # what our message it answers is about ("decision:12"), or ""
    lines: tuple[str, ...]  # the command lines, as typed
    ignored: str = ""  # why nothing runs ("" when the lines may run)
    calendar: CalendarAnswer | None = None  # a calendar's answer (then no lines are read)


def _header(msg: Message, name: str) -> str:
    """One header as text, cut to ``HEADER_MAX`` (encoded words decoded, never raising)."""
    raw = msg.get(name)
    if raw is None:
        return ""
    value = str(raw)[:HEADER_MAX]
    try:
        parts = email.header.decode_header(value)
    except (ValueError, LookupError, TypeError, UnicodeError):
        return " ".join(value.split())
    out = []
    for chunk, charset in parts:
        if isinstance(chunk, bytes):
            try:
                out.append(chunk.decode(charset or "ascii", "replace"))
            except LookupError:
                out.append(chunk.decode("utf-8", "replace"))
        else:
            out.append(chunk)
    return " ".join("".join(out).split())


def sender_of(msg: Message) -> str | None:
    """The one address in ``From``: its ``<...>``, else the whole value (a bare address);
    None for a list of authors or anything that is not one valid address."""
    value = str(msg.get("From", ""))[:HEADER_MAX]
    angled = _ANGLED.findall(value)
    if len(angled) > 1:
        return None  # more than one author (or a name that reads as one): act for none
    return parse_address(angled[0] if angled else value.strip())


def topic_of(msg: Message, domain: str) -> str:
    """What the message this mail answers was about, read from the ids it names that are
    ours: ``<digest.decision.12@domain>`` or the root ``<decision.12@domain>``."""
    suffix = "@" + domain.lower()
    names = []
    for header in ("In-Reply-To", "References"):
        names.extend(_ANGLED.findall(str(msg.get(header, ""))[:HEADER_MAX * 2]))
    for name in names:
        local, at, host = name.rpartition("@")
        if not at or "@" + host.lower() != suffix:
            continue
        parts = local.split(".")
        if parts and re.fullmatch(r"[0-9a-f]{40}", parts[0]):
            parts = parts[1:]
        candidate = ":".join(parts)
        if TOPIC.fullmatch(candidate):
            return candidate
    return ""


def why_not(msg: Message, sender: str | None, require: str | None) -> str:
    """Why this mail must run nothing, or "" when it may."""
    auto = _header(msg, "Auto-Submitted").lower()
    if auto and auto.split(";")[0].strip() != "no":
        return "an automatic mail (Auto-Submitted)"
    if _header(msg, "Precedence").lower() in _AUTO_PRECEDENCE:
        return "an automatic mail (Precedence)"
    if any(msg.get(h) is not None for h in ("X-Autoreply", "X-Autorespond", "List-Id")):
        return "an automatic or mailing-list mail"
    if msg.get_content_type() == "multipart/report" or \
            _header(msg, "Return-Path").strip() == "<>":
        return "a delivery report (bounce)"
    if sender is None:
        return "no single valid sender address"
    if sender.partition("@")[0] in _BOUNCERS:
        return "a delivery report (bounce)"
    if require == "dkim" and not dkim_passed(msg, sender):
        return "not authenticated (no DKIM pass for the sender's domain)"
    return ""


def dkim_passed(msg: Message, sender: str) -> bool:
    """Whether the topmost ``Authentication-Results`` (the one the receiving server added;
    a sender can write any below it) says DKIM passed for the sender's domain or a parent
    of it."""
    results = msg.get_all("Authentication-Results") or []
    if not results:
        return False
    top = str(results[0])[:HEADER_MAX].lower()
    domain = sender.partition("@")[2]
    for clause in top.split(";"):
        words = clause.split()
        if not words or words[0] != "dkim=pass":
            continue
        for word in words[1:]:
            key, _, value = word.partition("=")
            value = value.strip().lstrip("@").rpartition("@")[2]
            if key in ("header.d", "header.i") and value and (
                    domain == value or domain.endswith("." + value)):
                return True
    return False


class _Visible(HTMLParser):
    """The text a reader sees of an HTML body, without what it quotes."""

    SKIP = frozenset({"blockquote", "style", "script", "head", "title"})
    BREAK = frozenset({"br", "p", "div", "li", "tr", "h1", "h2", "h3", "h4", "table"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.SKIP:
            self.depth += 1
        elif tag in self.BREAK:
            self.out.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIP:
            self.depth = max(0, self.depth - 1)
        elif tag in self.BREAK:
            self.out.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.depth:
            self.out.append(data)


def _decoded(part: Message) -> str:
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return ""
    charset = part.get_content_charset() or "utf-8"
    try:
        return payload[: BODY_MAX * 4].decode(charset, "replace")
    except LookupError:
        return payload[: BODY_MAX * 4].decode("utf-8", "replace")


def calendar_text(msg: Message) -> str:
    """The first ``text/calendar`` part, or ""."""
    for n, part in enumerate(msg.walk()):
        if n >= PARTS_MAX:
            break
        if part.get_content_type() == "text/calendar":
            return _decoded(part)[:CALENDAR_MAX]
    return ""


def body_text(msg: Message) -> str:
    """The reply's text: its first plain part that is not an attachment, else its first
    HTML part as a reader sees it."""
    plain = html = None
    for n, part in enumerate(msg.walk()):
        if n >= PARTS_MAX:
            break
        if part.is_multipart() or part.get_content_disposition() == "attachment":
            continue
        kind = part.get_content_type()
        if kind == "text/plain" and plain is None:
            plain = part
        elif kind == "text/html" and html is None:
            html = part
    if plain is not None:
        return _decoded(plain)[:BODY_MAX]
    if html is not None:
        reader = _Visible()
        reader.feed(_decoded(html)[:BODY_MAX])
        reader.close()
        return "".join(reader.out)
    return ""


def command_lines(text: str) -> tuple[str, ...]:
    """The lines of the first paragraph, before anything quoted: each one command."""
    out: list[str] = []
    for raw in text[:BODY_MAX].replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        line = raw.strip().replace("\u00a0", " ")
        if not line:
            if out:
                break
            continue
        low = line.lower()
        if (line.startswith(">") or low in _SEPARATORS or low.startswith("-----original")
                or _HEADER_BLOCK.match(line[:40]) or _ATTRIBUTION.match(line[:400])):
            break
        out.append(line[:LINE_MAX])
        if len(out) >= COMMANDS_MAX:
            break
    return tuple(out)


def subject_command(subject: str) -> tuple[str, ...]:
    """A mail with no command in its body runs its subject when that is a ``me`` command:
    what a mail client's unsubscribe button sends (``List-Unsubscribe``'s subject)."""
    words = subject.split()
    while words and words[0].lower().rstrip(":") in ("re", "fw", "fwd", "aw", "tr", "sv"):
        words = words[1:]
    line = " ".join(words)[:LINE_MAX]
    return (line,) if words and words[0].lower() == "me" else ()


def read_mail(raw: bytes, *, domain: str, require: str | None = None) -> Received:
    """``raw`` read into a :class:`Received`; never raises on what a mail holds."""
    if len(raw) > MAIL_MAX:
        digest = hashlib.sha256(raw).hexdigest()
        return Received(digest, None, "", "", "", (), f"too large ({len(raw)} bytes)")
    msg = email.message_from_bytes(raw, policy=email.policy.compat32)
    sender = sender_of(msg)
    mid = str(msg.get("Message-ID", "")).strip()[:HEADER_MAX]
    mid = mid if MSG_ID.fullmatch(mid) else ""
    # the mail's key: its sender's Message-ID (the bytes change on the way: each server
    # adds headers, IMAP writes CRLF), else its bytes with line ends made one
    digest = hashlib.sha256(
        f"{sender}\0{mid}".encode() if mid and sender else raw.replace(b"\r\n", b"\n")
    ).hexdigest()
    subject = _header(msg, "Subject")
    why = why_not(msg, sender, require)
    answer = None if why else calendar_answer(calendar_text(msg))
    # a calendar's answer: its text ("Ana has accepted") is the client's, not commands
    lines = () if why or answer else command_lines(body_text(msg))
    if not why and not answer and not lines:
        lines = subject_command(subject)
    if not why and not lines and answer is None:
        why = "no command in it"
    return Received(digest, sender, mid, subject, topic_of(msg, domain), lines, why, answer)

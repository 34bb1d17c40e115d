"""One outbox row as one mail message, to one recipient.

The ``Message-ID`` is derived from the outbox row's key, so a resend after a lost answer
is the same message (mail clients and many servers collapse it). Headers are set through
the ``email`` package's header registry (which encodes non-ASCII text and refuses line
breaks) once per post, and every value from users passes :func:`~bot.email.render.one_line`
first; what differs per recipient is ASCII the bot made or validated.
"""

from __future__ import annotations

import base64
import datetime as dt
import email.policy
import hashlib
import re
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import format_datetime
from urllib.parse import quote

from bot.email.address import parse_address
from bot.email.render import Mail, one_line
from handlers.core.messages import Invite

BOT_NAME = "Taskbot"
# CRLF; every non-ASCII body quoted-printable or base64 (no server needs 8BITMIME); a
# header folded only past SMTP's own limit (a subject is one line, cut at 120 characters)
POLICY = email.policy.SMTP.clone(cte_type="7bit", max_line_length=998)


def message_id(key: str, domain: str, topic: str = "") -> str:
    """``<digest[.topic]@domain>``: the same for every try of one outbox row; the topic
    (``decision.12``) lets a reply that names only this message in ``In-Reply-To`` be read
    as being about it."""
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:40]
    about = f".{topic.replace(':', '.')}" if topic else ""
    return f"<{digest}{about}@{domain}>"


def thread_id(topic: str, domain: str) -> str:
    """The root every message about ``topic`` refers to (``References``), so a decision,
    its reminders and the answers to its acknowledgements thread together in any client,
    though the root itself is never sent."""
    return f"<{topic.replace(':', '.')}@{domain}>"


# a Message-ID as a reply's In-Reply-To may be copied into ours: bounded, no space, no
# angle bracket or line break inside
MSG_ID = re.compile(r"<[!-;=?-~]{1,200}@[!-;=?-~]{1,200}>", re.ASCII)


def domain_of(address: str) -> str:
    return address.rpartition("@")[2] or "taskbot.invalid"


@dataclass(frozen=True)
class Prepared:
    """What every recipient of one post gets alike, as bytes: the subject, the MIME
    headers and the body. The email package's header machinery is costly (about 2 ms a
    message), and a decision to a thousand members is one mail a thousand times, so it
    runs once per post; each recipient adds only headers built from validated ASCII."""

    head: bytes  # Subject, MIME-Version, Content-Type (and its boundary), CRLF-separated
    body: bytes
    topic: str = ""  # Topic.name (checked by its pattern: ASCII)
    reply_to: str = ""  # a message id that passed MSG_ID
    # a calendar invitation, spliced in per recipient as the alternative's last part
    # (its ATTENDEE is the recipient), before the closing ``--boundary--``
    invite: Invite | None = None
    boundary: bytes = b""
    stop: str = ""  # the command that stops mail like this (Topic.stop: printable ASCII)


def prepare(mail: Mail) -> Prepared:
    """What every recipient gets alike. A mail with an invitation and no files is
    ``multipart/alternative`` (text, HTML, then the calendar, which calendar clients show
    with accept and decline buttons); its calendar part is added per recipient."""
    msg = EmailMessage(policy=POLICY)
    msg["Subject"] = one_line(mail.subject)
    msg.set_content(mail.text, subtype="plain", charset="utf-8")
    msg.add_alternative(mail.html, subtype="html", charset="utf-8")
    for f in mail.files:
        maintype, _, subtype = (f.mime or "application/octet-stream").partition("/")
        msg.add_attachment(f.content, maintype=maintype or "application",
                           subtype=subtype or "octet-stream", filename=one_line(f.name, 200))
    head, _, body = msg.as_bytes(policy=POLICY).partition(b"\r\n\r\n")
    topic = mail.topic.name if mail.topic is not None else ""
    reply_to = mail.topic.reply_to if mail.topic is not None else ""
    reply_to = reply_to if MSG_ID.fullmatch(reply_to) else ""
    stop = mail.topic.stop if mail.topic is not None else ""
    invite, boundary = mail.invite, (msg.get_boundary() or "").encode("ascii")
    if invite is not None and invite.method in METHODS and not mail.files and boundary:
        closing = body.rfind(b"\r\n--" + boundary + b"--")
        if closing >= 0:
            return Prepared(head, body[:closing], topic, reply_to, invite, boundary, stop)
    return Prepared(head, body, topic, reply_to, stop=stop)


METHODS = ("REQUEST", "CANCEL")


def invitation_part(invite: Invite, *, to: str, sender: str) -> bytes:
    """The calendar part for one recipient: the core's iTIP object with its ORGANIZER (the
    bot, where the answer goes) and its ATTENDEE (the recipient) in every event."""
    who = [_folded(f"ORGANIZER;CN={BOT_NAME}:mailto:{sender}")]
    rsvp = ";RSVP=TRUE" if invite.method == "REQUEST" else ""
    who.append(_folded(f"ATTENDEE;CUTYPE=INDIVIDUAL;ROLE=REQ-PARTICIPANT;"
                       f"PARTSTAT=NEEDS-ACTION{rsvp}:mailto:{to}"))
    calendar = invite.calendar.replace("BEGIN:VEVENT\r\n",
                                       "BEGIN:VEVENT\r\n" + "".join(who))
    encoded = base64.encodebytes(calendar.encode("utf-8")).replace(b"\n", b"\r\n")
    return (f'Content-Type: text/calendar; charset="utf-8"; method={invite.method}\r\n'
            "Content-Transfer-Encoding: base64\r\n\r\n").encode("ascii") + encoded


def _folded(line: str) -> str:
    """An ASCII content line folded at 75 octets (RFC 5545 3.1), with its CRLF."""
    parts = [line[:75]] + [" " + line[i:i + 74] for i in range(75, len(line), 74)]
    return "\r\n".join(parts) + "\r\n"


def message_bytes(prepared: Prepared, *, to: str, sender: str, key: str,
                  now: dt.datetime) -> bytes:
    """The whole message for one recipient. ``to`` and ``sender`` are addresses that
    passed :func:`~bot.email.address.parse_address` (ASCII, no space, no line break); the
    rest is made here."""
    if parse_address(to) != to.lower() or parse_address(sender) is None:
        raise ValueError("not a valid address")  # never reached: the sender checked both
    domain = domain_of(sender)
    lines = [
        f"From: {BOT_NAME} <{sender}>",
        f"To: {to}",
        f"Date: {format_datetime(now.astimezone(dt.UTC))}",
        f"Message-ID: {message_id(key, domain, prepared.topic)}",
        *threading(prepared, domain),
        # a mail client's unsubscribe button sends the bot the command that stops it
        *([f"List-Unsubscribe: <mailto:{sender}?subject={quote(prepared.stop)}>"]
          if prepared.stop else []),
        # no vacation responder should answer a bot, and none should loop with it
        "Auto-Submitted: auto-generated",
        "X-Auto-Response-Suppress: All",
    ]
    body = prepared.body
    if prepared.invite is not None:
        body += (b"\r\n--" + prepared.boundary + b"\r\n"
                 + invitation_part(prepared.invite, to=to, sender=sender)
                 + b"\r\n--" + prepared.boundary + b"--\r\n")
    return ("\r\n".join(lines) + "\r\n").encode("ascii") + prepared.head + b"\r\n\r\n" + \
        body


def threading(prepared: Prepared, domain: str) -> list[str]:
    """``In-Reply-To`` and ``References``: an answer names the mail it answers; a message
    about a topic names the topic's root, so all of them thread together."""
    refs = [r for r in (prepared.reply_to,
                        thread_id(prepared.topic, domain) if prepared.topic else "") if r]
    if not refs:
        return []
    return [f"In-Reply-To: {refs[0]}", f"References: {' '.join(refs)}"]

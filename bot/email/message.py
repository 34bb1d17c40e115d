"""One outbox row as one mail message, to one recipient.

The ``Message-ID`` is derived from the outbox row's key, so a resend after a lost answer
is the same message (mail clients and many servers collapse it). Headers are set through
the ``email`` package's header registry (which encodes non-ASCII text and refuses line
breaks) once per post, and every value from users passes :func:`~bot.email.render.one_line`
first; what differs per recipient is ASCII the bot made or validated.
"""

from __future__ import annotations

import datetime as dt
import email.policy
import hashlib
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import format_datetime

from bot.email.address import parse_address
from bot.email.render import Mail, one_line

BOT_NAME = "Taskbot"
# CRLF; every non-ASCII body quoted-printable or base64 (no server needs 8BITMIME); a
# header folded only past SMTP's own limit (a subject is one line, cut at 120 characters)
POLICY = email.policy.SMTP.clone(cte_type="7bit", max_line_length=998)


def message_id(key: str, domain: str) -> str:
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:40]
    return f"<{digest}@{domain}>"


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


def prepare(mail: Mail) -> Prepared:
    msg = EmailMessage(policy=POLICY)
    msg["Subject"] = one_line(mail.subject)
    msg.set_content(mail.text, subtype="plain", charset="utf-8")
    msg.add_alternative(mail.html, subtype="html", charset="utf-8")
    for f in mail.files:
        maintype, _, subtype = (f.mime or "application/octet-stream").partition("/")
        msg.add_attachment(f.content, maintype=maintype or "application",
                           subtype=subtype or "octet-stream", filename=one_line(f.name, 200))
    head, _, body = msg.as_bytes(policy=POLICY).partition(b"\r\n\r\n")
    return Prepared(head, body)


def message_bytes(prepared: Prepared, *, to: str, sender: str, key: str,
                  now: dt.datetime) -> bytes:
    """The whole message for one recipient. ``to`` and ``sender`` are addresses that
    passed :func:`~bot.email.address.parse_address` (ASCII, no space, no line break); the
    rest is made here."""
    if parse_address(to) != to.lower() or parse_address(sender) is None:
        raise ValueError("not a valid address")  # never reached: the sender checked both
    lines = [
        f"From: {BOT_NAME} <{sender}>",
        f"To: {to}",
        f"Date: {format_datetime(now.astimezone(dt.UTC))}",
        f"Message-ID: {message_id(key, domain_of(sender))}",
        # no vacation responder should answer a bot, and none should loop with it
        "Auto-Submitted: auto-generated",
        "X-Auto-Response-Suppress: All",
    ]
    return ("\r\n".join(lines) + "\r\n").encode("ascii") + prepared.head + b"\r\n\r\n" + \
        prepared.body

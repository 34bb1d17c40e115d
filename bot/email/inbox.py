"""Replies come back in: the mail adapter's side of the conversation.

Each mail waiting in the bot's mailbox is read (``inbound``); one from a known address
that is no auto-reply, bounce or list mail (and passed DKIM, where that is required) has
its command lines run as that person, through the same conversation as a chat line. A
short reply (``ack``, ``done``) to a message about a decision or an action is that
decision's or action's command. The person gets one mail back answering every line, in
the same thread.

Once each: every line carries the mail's own key (a hash of its sender and Message-ID)
as its ``once``,
so a mail read again after a crash runs nothing twice; the answer is queued under the
same key; the mail is flagged last.
"""

from __future__ import annotations

import imaplib
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy.exc import SQLAlchemyError

from bot.conversation import Conversation
from bot.email.address import PLATFORM
from bot.email.imap import Mailbox, MailboxError
from bot.email.inbound import CalendarAnswer, Received, read_mail
from bot.email.message import domain_of
from bot.seen import SeenEvents
from handlers.core import lookups
from handlers.core.lookups import series_group
from handlers.core.messages import Block, ChannelRef, Post, Reply, Text, Topic, plain_spans
from handlers.core.router import Incoming
from handlers.meetings import series_of_uid

log = logging.getLogger(__name__)

SEEN = "email:seen:"
IDLE_FOR = 300.0  # seconds in one IDLE before it is renewed
POLL_EVERY = 60.0  # where the server has no IDLE
BACKOFF_MAX = 300.0


@dataclass(frozen=True)
class Handled:
    """What became of one mail, for the log and the tests."""

    digest: str
    sender: str | None
    ran: tuple[str, ...] = ()  # the command lines run
    ignored: str = ""


def masked(address: str | None) -> str:
    """An address as the log shows it: enough to find it, not the whole of it."""
    if not address:
        return "(none)"
    local, _, domain = address.partition("@")
    return f"{local[:2]}…@{domain}"


def answer_blocks(got: Received, replies: Sequence[tuple[str, Reply]]) -> list[Block]:
    """One answer to a whole mail: each line as it was typed, then what the bot said."""
    about = got.subject or "your mail"
    blocks: list[Block] = [Text((about if about.lower().startswith("re:") else f"Re: {about}",),
                                "heading")]
    for line, reply in replies:
        blocks.append(Text((line,), "quote"))
        blocks.extend(reply.blocks)
    blocks.append(Topic(got.topic, got.message_id))
    return blocks


class Inbox:
    def __init__(self, conversation: Conversation, mailbox: Callable[[], Mailbox], *,
                 mail_from: str, require: str | None = None,
                 seen: SeenEvents | None = None) -> None:
        self.conversation = conversation
        self.router = conversation.router
        self.mailbox = mailbox
        self.mail_from = mail_from.lower()
        self.domain = domain_of(mail_from)
        self.require = require
        self.seen = seen or conversation.seen
        if self.seen is None:
            raise ValueError("the inbox needs a seen store: a mail read twice runs once")

    # --- one mail -----------------------------------------------------------------------

    def handle(self, raw: bytes) -> Handled:
        got = read_mail(raw, domain=self.domain, require=self.require)
        why = got.ignored
        if not why and got.sender == self.mail_from:
            why = "the bot's own mail"
        if not why and (got.sender is None or not lookups.known_identity(
                self.router.sessions, PLATFORM, got.sender)):
            why = "an unknown sender"
        if why:
            log.info("mail %s from %s: %s; nothing was run", got.digest[:12],
                     masked(got.sender), why)
            return Handled(got.digest, got.sender, ignored=why)
        assert got.sender is not None and self.seen is not None
        if got.calendar is not None:
            return self._calendar(got, got.sender, got.calendar)
        replies: list[tuple[str, Reply]] = []
        for n, line in enumerate(got.lines):
            command = self.router.registry.expand(got.topic, line) if got.topic else line
            msg = Incoming(PLATFORM, got.sender, command,
                           once=self.seen.key(got.digest, str(n)))
            reply = self.conversation.run(msg)
            answer = self.conversation.delivered(reply)
            replies.append((line, answer.whole))
        post = Post("", "", (ChannelRef.direct(PLATFORM, got.sender),),
                    answer_blocks(got, replies))
        sent = self.conversation.answer([post], base=f"mail:{got.digest}")
        for problem in sent.problems:
            log.warning("mail %s: the answer: %s", got.digest[:12], problem)
        log.info("mail %s from %s: %d line(s) run", got.digest[:12], masked(got.sender),
                 len(replies))
        return Handled(got.digest, got.sender, tuple(got.lines))

    def _calendar(self, got: Received, sender: str, answer: CalendarAnswer) -> Handled:
        """A calendar's answer to an invitation: ``meeting rsvp`` as the person, for the
        one meeting it names or the whole series. It is not answered by mail (the client
        sent it on its own; its outcome is logged)."""
        series = series_of_uid(answer.uid)
        slug = series_group(self.router.sessions, series) if series is not None else None
        why = ("a calendar answer for someone else" if answer.attendee != sender
               else "a calendar answer about no meeting of ours" if slug is None else "")
        if why:
            log.info("mail %s from %s: %s; nothing was run", got.digest[:12],
                     masked(sender), why)
            return Handled(got.digest, sender, ignored=why)
        when = answer.day.isoformat() if answer.day is not None else "all"
        line = f"meeting rsvp {slug} {answer.answer} {when}"
        assert self.seen is not None
        reply = self.conversation.run(Incoming(PLATFORM, sender, line,
                                               once=self.seen.key(got.digest, "rsvp")))
        said = " ".join(plain_spans(b.spans) for b in reply.blocks if isinstance(b, Text))
        log.info("mail %s from %s: calendar answer, %s: %s", got.digest[:12], masked(sender),
                 line, said[:300])
        return Handled(got.digest, sender, (line,),
                       ignored="refused" if reply.error else "")

    # --- the mailbox --------------------------------------------------------------------

    def pass_once(self, box: Mailbox) -> list[Handled]:
        """Every mail waiting: handled, then flagged."""
        out: list[Handled] = []
        for uid in box.waiting():
            raw = box.fetch(uid)
            if raw is None:
                log.info("mail uid %s: larger than the inbox reads (or gone); flagged, "
                         "nothing was run", uid)
                out.append(Handled("", None, ignored="too large"))
            else:
                try:
                    out.append(self.handle(raw))
                except SQLAlchemyError:
                    raise  # the store is down: the mail stays unflagged for the next pass
                except Exception:
                    # a fault of ours with this one mail: logged, flagged, and the rest go on
                    log.exception("mail uid %s could not be handled; flagged",
                                  uid)
                    out.append(Handled("", None, ignored="failed"))
            box.done(uid)
        return out

    def check(self) -> list[Handled]:
        """One pass on a connection of its own (``taskbot tick``)."""
        with self.mailbox() as box:
            return self.pass_once(box)

    def serve(self, stop: threading.Event, *, idle_for: float = IDLE_FOR,
              poll_every: float = POLL_EVERY) -> None:
        """Until ``stop``: a pass, then IDLE (or a pause) until there is news. A lost
        connection is opened again after a pause that doubles up to five minutes; a
        mailbox that cannot be used as configured is logged each time, never raised."""
        backoff = 1.0
        while not stop.is_set():
            try:
                with self.mailbox() as box:
                    backoff = 1.0
                    while not stop.is_set():
                        self.pass_once(box)
                        if box.can_idle:
                            box.idle(idle_for, stop)
                        else:
                            stop.wait(poll_every)
            except MailboxError as err:
                log.error("mail inbox: %s", err)
            except (OSError, imaplib.IMAP4.error, imaplib.IMAP4.abort) as err:
                log.warning("mail inbox: %s: %s; trying again in %.0f s",
                            type(err).__name__, " ".join(str(err).split())[:200], backoff)
            except Exception:
                log.exception("mail inbox: a pass failed; trying again in %.0f s", backoff)
            stop.wait(backoff)
            backoff = min(backoff * 2, BACKOFF_MAX)

"""Mail in ``taskbot run``, ``taskbot tick`` and the shell: the sender, registered with the
process's dispatcher, so ticks and a command's posts reach people by mail; and, where
``TASKBOT_IMAP_URL`` is set, the inbox that runs the commands of the replies."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import threading
from collections.abc import Coroutine
from typing import Any

from bot.config import Settings
from bot.container import Container
from bot.conversation import Conversation
from bot.email.address import PLATFORM
from bot.email.imap import Mailbox
from bot.email.inbox import SEEN, Inbox
from bot.email.settings import ImapUrl, SmtpUrl
from bot.email.smtp import SmtpSender
from bot.seen import SeenEvents

log = logging.getLogger(__name__)
SEEN_KEEP = dt.timedelta(days=90)  # a mail is flagged once handled; the marks are the net


def mail_sender(settings: Settings) -> SmtpSender | None:
    if not (settings.smtp_url and settings.mail_from):
        return None
    return SmtpSender(SmtpUrl.parse(settings.smtp_url), settings.mail_from,
                      replies=settings.imap_url is not None)


def register(box: Container) -> SmtpSender | None:
    """The sender, registered when mail is configured; None when it is not."""
    sender = mail_sender(box.settings)
    if sender is not None:
        box.dispatcher.register(PLATFORM, sender)
    return sender


def inbox(box: Container) -> Inbox | None:
    """The inbox, when a mailbox is configured (the sender must be registered: every mail
    read is answered)."""
    settings = box.settings
    if not (settings.imap_url and settings.mail_from):
        return None
    url = ImapUrl.parse(settings.imap_url)
    seen = SeenEvents(box.sessions, SEEN, SEEN_KEEP)
    return Inbox(Conversation(box.router, box.dispatcher, seen), lambda: Mailbox(url),
                 mail_from=settings.mail_from, require=settings.mail_require_auth)


async def run(box: Container) -> Coroutine[Any, Any, None]:
    """``taskbot run``'s runner: the sender is registered before the scheduler starts;
    serving is reading the mailbox (when one is configured) until the process stops, then
    closing the sender's connection."""
    sender = register(box)
    reader = inbox(box)

    async def serve() -> None:
        stop = threading.Event()
        task = asyncio.create_task(asyncio.to_thread(reader.serve, stop)) \
            if reader is not None else None
        try:
            await asyncio.Event().wait()
        finally:
            stop.set()
            if task is not None:
                await asyncio.shield(task)
            if sender is not None:
                await asyncio.to_thread(sender.close)

    return serve()

"""Mail in ``taskbot run``, ``taskbot tick`` and the shell: the sender, registered with the
process's dispatcher, so ticks and a command's posts reach people by mail."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

from bot.config import Settings
from bot.container import Container
from bot.email.address import PLATFORM
from bot.email.settings import SmtpUrl
from bot.email.smtp import SmtpSender


def mail_sender(settings: Settings) -> SmtpSender | None:
    if not (settings.smtp_url and settings.mail_from):
        return None
    return SmtpSender(SmtpUrl.parse(settings.smtp_url), settings.mail_from)


def register(box: Container) -> SmtpSender | None:
    """The sender, registered when mail is configured; None when it is not."""
    sender = mail_sender(box.settings)
    if sender is not None:
        box.dispatcher.register(PLATFORM, sender)
    return sender


async def run(box: Container) -> Coroutine[Any, Any, None]:
    """``taskbot run``'s runner: the sender is registered before the scheduler starts;
    serving is only keeping it until the process stops (then its connection is closed)."""
    sender = register(box)

    async def serve() -> None:
        try:
            await asyncio.Event().wait()
        finally:
            if sender is not None:
                await asyncio.to_thread(sender.close)

    return serve()

"""The Matrix side of the Sender port, for the delivery engine and the Dispatcher.

Both call ``send`` from worker threads; the nio client lives on the event loop, so the send
hops to the loop and waits. The transaction id comes from ``key`` (the outbox row's key), so
a retried or restarted delivery of the same row cannot post twice. A send is bounded by the
``timeout`` the delivery engine hands in (what is left of the row's lease) as well as by
its own bound: past it the post on the loop is cancelled and the row stays for a later tick.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from handlers.core.messages import Block, ChannelRef
from handlers.delivery import SendFailed

if TYPE_CHECKING:
    from bot.matrix.client import MatrixBot

SEND_TIMEOUT = 180.0  # above the bot's own bound on rate-limit waits


class MatrixSender:
    def __init__(self, bot: MatrixBot, timeout: float = SEND_TIMEOUT) -> None:
        self.bot = bot
        self.timeout = timeout

    async def send_async(self, channel: ChannelRef, blocks: list[Block], key: str) -> str:
        """The same send for code already on the loop."""
        return await self.bot.post(channel, blocks, key)

    def send(self, channel: ChannelRef, blocks: list[Block], key: str,
             timeout: float | None = None) -> str:
        if channel.platform != "matrix":
            raise SendFailed(f"not a Matrix channel: {channel.platform}", permanent=True)
        bound = self.timeout if timeout is None else min(self.timeout, timeout)
        if bound <= 0:
            raise SendFailed("no time left to send", retry_after=30.0)
        try:
            # wait_for cancels the post on the loop itself at the bound, so it cannot go on
            # after the lease; the outer bound only covers a loop too busy to run it
            return self.bot.call_soon(
                lambda: asyncio.wait_for(self.bot.post(channel, blocks, key), bound), bound + 5)
        except TimeoutError:
            raise SendFailed("the homeserver did not answer in time", retry_after=30.0) from None

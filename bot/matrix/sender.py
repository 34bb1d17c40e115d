"""The Matrix side of the Sender port, for the delivery engine and the Dispatcher.

Both call ``send`` from worker threads; the nio client lives on the event loop, so the send
hops to the loop and waits. The transaction id comes from ``key`` (the outbox row's key), so
a retried or restarted delivery of the same row cannot post twice.
"""

from __future__ import annotations

import concurrent.futures
from typing import TYPE_CHECKING

from handlers.delivery import SendFailed
from handlers.messages import Block, ChannelRef

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

    def send(self, channel: ChannelRef, blocks: list[Block], key: str) -> str:
        if channel.platform != "matrix":
            raise SendFailed(f"not a Matrix channel: {channel.platform}", permanent=True)
        try:
            return self.bot.call_soon(lambda: self.bot.post(channel, blocks, key), self.timeout)
        except concurrent.futures.TimeoutError:
            raise SendFailed("the homeserver did not answer in time", retry_after=30.0) from None

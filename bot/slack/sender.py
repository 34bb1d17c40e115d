"""Posting to Slack: the Sender port for posts and scheduled messages, with 429 handling.

Slack answers a burst with HTTP 429 and a ``Retry-After`` in seconds. A call waits that long
and tries again, a bounded number of times within a bounded wait; past the bound it raises
``SendFailed(retry_after=...)`` so the delivery engine keeps the row pending for a later tick
instead of blocking a worker thread for minutes. The delivery engine also hands each send
the time left of its row's lease: no wait and no call runs past it, so a row is never still
being posted here once another ticker may take it over.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any, TypeVar

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.bridge import wait_on
from bot.slack.render import PLATFORM, Rendered, render_blocks
from handlers.core.messages import Block, ChannelRef, File
from handlers.delivery import RETRY_AFTER_MAX, SendFailed

log = logging.getLogger(__name__)

T = TypeVar("T")

# errors that will not go away by trying again
PERMANENT = frozenset({
    "channel_not_found", "not_in_channel", "is_archived", "invalid_auth", "account_inactive",
    "token_revoked", "no_permission", "missing_scope", "msg_too_long", "invalid_blocks",
    "restricted_action", "user_not_found", "cannot_dm_bot",
})


def retry_after_of(err: SlackApiError) -> float:
    """Slack's ``Retry-After``: whole seconds (RFC 9110's delay-seconds, ASCII digits only;
    ``float`` would take ``nan``, ``inf`` and ``1e9``), bounded; 1 s when absent or unreadable."""
    headers: Any = err.response.headers or {}
    for key, value in dict(headers).items():
        if str(key).lower() == "retry-after":
            text = str(value).strip()
            if text.isascii() and text.isdigit() and len(text) <= 6:
                return min(float(text), RETRY_AFTER_MAX)
            break
    return 1.0


class SlackSender:
    """Posts rendered blocks with an AsyncWebClient; usable from the loop and from threads."""

    def __init__(
        self,
        client: AsyncWebClient,
        *,
        max_retries: int = 3,
        max_wait: float = 30.0,
        thread_timeout: float = 120.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.client = client
        self.max_retries = max_retries
        self.max_wait = max_wait
        self.thread_timeout = thread_timeout
        self.sleep = sleep
        self.loop: asyncio.AbstractEventLoop | None = None
        self._dms: dict[str, str] = {}  # user id -> direct message channel id

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """The loop the client lives on; ``send`` from other threads hops to it."""
        self.loop = loop

    async def call(self, method: str, make: Callable[[], Awaitable[T]],
                   deadline: float | None = None) -> T:
        """Run one Web API call, waiting out 429s within the bounds and, when given, before
        ``deadline`` (``time.monotonic()`` seconds)."""
        attempts, waited = 0, 0.0
        while True:
            try:
                return await make()
            except SlackApiError as err:
                status = getattr(err.response, "status_code", 0)
                if status == 429:
                    delay = retry_after_of(err)
                    in_time = deadline is None or time.monotonic() + delay < deadline
                    if (attempts < self.max_retries and waited + delay <= self.max_wait
                            and in_time):
                        log.info("slack %s: rate limited, retrying in %.0fs", method, delay)
                        await self.sleep(delay)
                        attempts += 1
                        waited += delay
                        continue
                    raise SendFailed(f"Slack {method}: rate limited", retry_after=delay) from err
                error = str(err.response.get("error") or f"HTTP {status}")
                raise SendFailed(f"Slack {method}: {error}", permanent=error in PERMANENT) from err

    async def post_rendered(self, channel_id: str, rendered: Rendered,
                            deadline: float | None = None, **extra: Any) -> str:
        """Every message of a rendering, then its files; returns the first message's ts."""
        first = ""
        for message in rendered.messages:
            resp = await self.call("chat.postMessage", partial(
                self.client.chat_postMessage, channel=channel_id, blocks=message.blocks,
                text=message.text or " ", unfurl_links=False, unfurl_media=False, **extra,
            ), deadline)
            first = first or str(resp.get("ts") or "")
        for file in rendered.files:
            file_id = await self.upload(channel_id, file, deadline=deadline)
            first = first or file_id
        return first

    async def post(self, channel_id: str, blocks: list[Block],
                   deadline: float | None = None) -> str:
        """``channel_id`` may be a channel or ``dm:<user>`` (a direct message)."""
        target = await self.resolve(channel_id, deadline)
        return await self.post_rendered(target, render_blocks(blocks), deadline)

    async def resolve(self, channel_id: str, deadline: float | None = None) -> str:
        """The conversation id for a channel ref: ``dm:U…`` opens the direct message."""
        user = ChannelRef(PLATFORM, channel_id).direct_user
        if user is None:
            return channel_id
        if user not in self._dms:
            resp = await self.call("conversations.open",
                                   partial(self.client.conversations_open, users=user),
                                   deadline)
            self._dms[user] = str((resp.get("channel") or {}).get("id") or user)
        return self._dms[user]

    async def upload(self, channel_id: str, file: File, comment: str | None = None,
                     deadline: float | None = None) -> str:
        """A file into a channel (files.getUploadURLExternal, upload, completeUploadExternal)."""
        kwargs: dict[str, Any] = {
            "channel": channel_id, "content": file.content, "filename": file.name,
            "title": file.title or file.name,
        }
        if comment:
            kwargs["initial_comment"] = comment
        resp = await self.call("files.upload", partial(self.client.files_upload_v2, **kwargs),
                               deadline)
        files = resp.get("files") or []
        return str(files[0].get("id", "")) if files else ""

    def send(self, channel: ChannelRef, blocks: list[Block], key: str,
             timeout: float | None = None) -> str:
        """The Sender port: called from a worker thread (dispatcher, delivery engine).
        ``timeout`` bounds the whole send, 429 waits included (past it: SendFailed)."""
        if self.loop is None:
            raise SendFailed("Slack is not connected yet", retry_after=5.0)
        bound = self.thread_timeout if timeout is None else min(self.thread_timeout, timeout)
        if bound <= 0:
            raise SendFailed(f"Slack post to {channel.channel_id}: no time left to send")
        deadline = time.monotonic() + bound
        try:
            return wait_on(self.loop, lambda: self.post(channel.channel_id, blocks, deadline),
                           bound)
        except TimeoutError as err:
            raise SendFailed(f"Slack post to {channel.channel_id} timed out") from err

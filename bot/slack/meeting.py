"""Meeting mode on Slack: channel messages (``message`` events) go to the meeting open in
that channel, if any; quiet captures are acknowledged with a reaction.

Wiring: ``SlackAdapter._register`` calls :func:`register`; the ``channels:history``,
``groups:history`` and ``reactions:write`` scopes and the ``message.channels`` /
``message.groups`` bot events are in ``bot.slack.manifest``.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from bot.slack.render import unescape
from handlers.core.router import Incoming

if TYPE_CHECKING:
    from bot.slack.app import SlackAdapter

log = logging.getLogger(__name__)

PLATFORM = "slack"
ACK_REACTION = "white_check_mark"  # the emoji that acknowledges a meeting capture


def register(adapter: SlackAdapter) -> None:
    """Listen to channel messages for meeting mode.

    Each event is handled in a task of its own (``SlackAdapter.acking``), so without a lock
    per channel an ``#undo`` could overtake the line it undoes; the tasks start in the order
    the events arrived and the lock (first come, first served) keeps that order.
    """
    locks: dict[str, asyncio.Lock] = {}

    async def on_message(event: dict[str, Any], context: Any = None) -> None:
        channel = event.get("channel")
        if not isinstance(channel, str):
            return
        async with locks.setdefault(channel, asyncio.Lock()):
            await handle_message(adapter, event, (context or {}).get("taskbot_request_key"))

    adapter.app.event("message")(adapter.acking(on_message))


async def handle_message(adapter: SlackAdapter, event: dict[str, Any],
                         key: str | None = None) -> None:
    """One channel message: ignored unless a meeting is open in the channel. A capture
    writes the event's mark (``key``) in its transaction, so a retry captures nothing."""
    from bot.slack.app import Origin

    if event.get("subtype") or event.get("bot_id"):
        return  # edits, joins, the bot's own posts
    channel, user, ts = event.get("channel"), event.get("user"), event.get("ts")
    raw = event.get("text")
    if not (isinstance(channel, str) and isinstance(user, str) and isinstance(ts, str)
            and isinstance(raw, str)) or channel.startswith("D"):
        return
    line = unescape(raw).strip()
    if not line or line.startswith("/"):
        return
    try:
        name = await adapter.names.name_of(user)
        # the event's mark (its ``once``) is written with the capture, in its transaction
        incoming = Incoming(PLATFORM, user, line, channel, name, "/", once=key)
        answer = await adapter.conversation.listen(incoming)
        if answer is None:
            return
        reply = answer.reply
        if reply.private and not reply.error:
            try:
                await adapter.client.reactions_add(channel=channel, name=ACK_REACTION,
                                                   timestamp=ts)
                reply = reply.but(blocks=())  # the reaction is the acknowledgement
            except Exception as err:  # no reactions:write: the ephemeral text instead
                log.info("slack: no reaction for a capture (%s); answering in text", err)
        reply = reply.add(*answer.notes)
        if not reply.blocks:
            return
        await adapter.answer(reply, Origin(user, channel))
    except Exception:
        log.exception("slack: meeting capture of %r failed", line[:80])

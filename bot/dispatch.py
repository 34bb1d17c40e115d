"""Fan-out of a reply's posts to every platform this process is connected to.

A decision typed in Slack must reach the target group's Matrix room too, so posts are not
the receiving adapter's business: each adapter registers its Sender here, and whoever
handled the command hands the reply's posts over.
"""

from __future__ import annotations

import logging
import uuid

from handlers.delivery import Sender
from handlers.messages import Post

log = logging.getLogger(__name__)


class Dispatcher:
    def __init__(self) -> None:
        self.senders: dict[str, Sender] = {}

    def register(self, platform: str, sender: Sender) -> None:
        self.senders[platform] = sender

    def deliver(self, posts: list[Post]) -> list[str]:
        """Send each post to each of its channels on a connected platform.

        Returns one line per channel that could not be reached, for the caller to show;
        channels on platforms this process is not connected to are skipped (and logged).
        Called from a worker thread, never from the event loop: senders block.
        """
        problems: list[str] = []
        for post in posts:
            for channel in post.channels:
                sender = self.senders.get(channel.platform)
                if sender is None:
                    log.info("post for %s:%s skipped: platform not connected",
                             channel.platform, channel.channel_id)
                    continue
                try:
                    sender.send(channel, post.blocks, f"post-{uuid.uuid4().hex}")
                except Exception as err:  # one unreachable channel must not stop the rest
                    log.exception("post to %s:%s failed", channel.platform, channel.channel_id)
                    problems.append(f"Could not post to {channel.platform}:{channel.channel_id}"
                                    f" ({type(err).__name__}).")
        return problems

"""A command's posts, sent by the process that ran it, on every platform it is connected to.

A decision typed in Slack must reach the target group's Matrix room too, so posts are not
the receiving adapter's business: each adapter registers its Sender here. The posts are
outbox rows already, written in the command's transaction (``handlers.posts``); this sends
them at once through the delivery engine, so a send that fails is retried and one this
process cannot make (a platform it is not connected to) waits for the process that can.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from handlers.core.context import CoreSettings
from handlers.core.i18n import _, _n
from handlers.core.messages import DM_PREFIX
from handlers.core.scheduling import ScheduleKinds
from handlers.delivery import LEASE, DeliveryEngine, Sender
from storage import outbox
from storage.models import Outbox

log = logging.getLogger(__name__)


class Dispatcher:
    def __init__(self, sessions: sessionmaker[Session], settings: CoreSettings,
                 kinds: ScheduleKinds, lease: dt.timedelta = LEASE) -> None:
        self.senders: dict[str, Sender] = {}
        self.sessions = sessions
        self.settings = settings
        self.kinds = kinds  # the features' schedule kinds (Registry.kinds)
        self.lease = lease

    def register(self, platform: str, sender: Sender) -> None:
        self.senders[platform] = sender

    def engine(self) -> DeliveryEngine:
        """The delivery engine on this process's senders (adapters that register later are
        seen too) and its lease: the one way both ticks and a command's posts claim rows,
        so a post claimed at once and orphaned by a crash is taken over as soon as a
        scheduled one would be."""
        return DeliveryEngine(self.sessions, self.settings, self.senders, kinds=self.kinds,
                              sleep=time.sleep, lease=self.lease)

    def deliver(self, keys: Sequence[str]) -> list[str]:
        """Send the outbox rows ``keys`` now.

        Returns one line per channel that could not be reached, for the caller to show,
        and one per platform this process is not connected to, naming who delivers them.
        Called from a worker thread, never from the event loop: senders block.
        """
        if not keys:
            return []
        engine = self.engine()
        try:
            result = engine.deliver(keys)
        except Exception:  # the rows stay in the outbox: the next tick sends them
            log.exception("posts %s: sending at once failed; the next tick retries", keys[:3])
        else:
            if {d.key for d in result.delivered} >= set(keys):
                return []  # the usual case: every post went out, nothing to read back
        with self.sessions() as session:
            rows = session.execute(select(
                Outbox.platform, Outbox.channel_id, Outbox.status, Outbox.last_error,
            ).where(Outbox.key.in_(keys)).order_by(Outbox.id)).all()
        problems: list[str] = []
        waiting: dict[str, int] = {}
        for platform, channel_id, status, error in rows:
            if status in (outbox.SENT, outbox.SKIPPED):
                continue
            if platform not in self.senders:
                waiting[platform] = waiting.get(platform, 0) + 1
                continue
            # a direct recipient is not named: the reply may be read in a shared channel,
            # and a person's address or id is not for everyone there
            # TRANSLATORS: where a post could not go: "a person by email"
            where = (_("a person by {platform}", platform=platform)
                     if channel_id.startswith(DM_PREFIX) else f"{platform}:{channel_id}")
            if status == outbox.FAILED:
                problems.append(_("Could not post to {where} ({error}).", where=where,
                                  error=str(error)))
            elif status == outbox.PENDING:
                problems.append(_("Could not post to {where} yet ({error}); it is retried "
                                  "(secretariat deliveries shows it).", where=where,
                                  error=str(error)))
        for platform, n in sorted(waiting.items()):
            log.info("%d post(s) for %s wait for a process connected to it", n, platform)
            problems.append(_n("{n} post for {platform} waits for the bot connected to it "
                               "(taskbot run with it configured delivers them).",
                               "{n} posts for {platform} wait for the bot connected to it "
                               "(taskbot run with it configured delivers them).",
                               n, platform=platform))
        return problems

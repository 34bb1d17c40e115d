"""Slack adapter state: seen event ids (in the store) and display names (in memory).

Slack redelivers an event when it did not see a 200 in time (``X-Slack-Retry-Num``), and a
restart must not replay one either, so handled event ids are kept in ``kv_state`` for a day.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from storage.models import KvState

log = logging.getLogger(__name__)

EVENT_PREFIX = "slack:event:"
KEEP_EVENTS = dt.timedelta(days=1)
PRUNE_EVERY = 500


def _utc_naive() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


class EventDedup:
    """``first_time(event_id)`` is True once per event id, across retries and restarts."""

    def __init__(self, sessions: sessionmaker[Session],
                 clock: Callable[[], dt.datetime] = _utc_naive) -> None:
        self.sessions = sessions
        self.clock = clock
        self._seen_here: set[str] = set()
        self._count = 0

    def first_time(self, event_id: str) -> bool:
        """Blocking (a short insert): call it from a worker thread."""
        if event_id in self._seen_here:
            return False
        now = self.clock()
        key = (EVENT_PREFIX + event_id)[:255]
        try:
            with self.sessions.begin() as session:
                session.add(KvState(key=key, value="", updated_at=now))
                session.flush()
        except IntegrityError:
            self._seen_here.add(event_id)
            return False
        self._seen_here.add(event_id)
        self._count += 1
        if self._count % PRUNE_EVERY == 1:
            self.prune(now)
        return True

    def prune(self, now: dt.datetime) -> None:
        """Forget ids older than a day (Slack retries within minutes)."""
        cutoff = now - KEEP_EVENTS
        with self.sessions.begin() as session:
            session.execute(delete(KvState).where(
                KvState.key.like(EVENT_PREFIX.replace("_", "\\_") + "%", escape="\\"),
                KvState.updated_at < cutoff,
            ))
        if len(self._seen_here) > 10_000:
            self._seen_here.clear()


class NameCache:
    """Slack display names by user id (users.info), kept for an hour."""

    def __init__(self, client: AsyncWebClient, ttl: float = 3600.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.client = client
        self.ttl = ttl
        self.clock = clock
        self._names: dict[str, tuple[str | None, float]] = {}

    async def name_of(self, user_id: str) -> str | None:
        hit = self._names.get(user_id)
        if hit is not None and hit[1] > self.clock():
            return hit[0]
        name: str | None = None
        try:
            resp = await self.client.users_info(user=user_id)
            user = resp.get("user") or {}
            profile = user.get("profile") or {}
            name = (profile.get("display_name") or profile.get("real_name")
                    or user.get("real_name") or user.get("name") or None)
        except Exception as err:  # a name is a nicety: never fail a command over it
            why = err.response.get("error") if isinstance(err, SlackApiError) else repr(err)
            log.warning("users.info %s: %s", user_id, why)
            # remember the miss briefly, so a rate limit is not hammered
            self._names[user_id] = (None, self.clock() + 60)
            return None
        self._names[user_id] = (name, self.clock() + self.ttl)
        return name

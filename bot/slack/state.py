"""Slack adapter state: which requests were handled (in the store) and display names.

Slack redelivers an event when it did not see a 200 in time (``X-Slack-Retry-Num``), and a
signed request replayed within the signature's five minutes verifies as well as the first
time. So each request is acted on once: its key (Slack's ``event_id`` for an event, its
``trigger_id`` for a slash command or an interaction, else the signature and timestamp) is
its mark in the seen-event store every adapter shares (``bot.seen``), kept a day; the mark
of a command's request is written in the command's own transaction.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.orm import Session, sessionmaker

from bot.seen import SeenEvents, key_part

log = logging.getLogger(__name__)

NS = "slack:"
EVENT_PREFIX = NS + "event:"
REQUEST_PREFIX = NS + "request:"
KEEP_EVENTS = dt.timedelta(days=1)


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def seen_events(sessions: sessionmaker[Session],
                clock: Callable[[], dt.datetime] = _utc_now) -> SeenEvents:
    """The marks of Slack's requests and events (both namespaces, pruned together)."""
    return SeenEvents(sessions, NS, KEEP_EVENTS, clock)


class NameCache:
    """Slack display names and profile time zones by user id (users.info), kept for an
    hour: a person's zone on Slack is their default zone (``me zone`` overrides it)."""

    def __init__(self, client: AsyncWebClient, ttl: float = 3600.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.client = client
        self.ttl = ttl
        self.clock = clock
        self._seen: dict[str, tuple[str | None, str | None, float]] = {}

    async def name_of(self, user_id: str) -> str | None:
        return (await self.profile_of(user_id))[0]

    async def profile_of(self, user_id: str) -> tuple[str | None, str | None]:
        """The person's display name and their profile's zone (``tz``), None when unknown."""
        hit = self._seen.get(user_id)
        if hit is not None and hit[2] > self.clock():
            return hit[0], hit[1]
        name: str | None = None
        zone: str | None = None
        try:
            resp = await self.client.users_info(user=user_id)
            user = resp.get("user") or {}
            profile = user.get("profile") or {}
            name = (profile.get("display_name") or profile.get("real_name")
                    or user.get("real_name") or user.get("name") or None)
            tz = user.get("tz")
            zone = tz if isinstance(tz, str) and 0 < len(tz) <= 64 else None
        except Exception as err:  # a name is a nicety: never fail a command over it
            why = err.response.get("error") if isinstance(err, SlackApiError) else repr(err)
            log.warning("users.info %s: %s", user_id, why)
            # remember the miss briefly, so a rate limit is not hammered
            self._seen[user_id] = (None, None, self.clock() + 60)
            return None, None
        self._seen[user_id] = (name, zone, self.clock() + self.ttl)
        return name, zone


def request_key(body: Mapping[str, Any], headers: Mapping[str, Any]) -> str | None:
    """What makes a request the same request again: Slack's own id where it has one (an
    event's ``event_id`` across its retries, a command's or interaction's ``trigger_id``),
    else the signature with its timestamp. None: nothing to dedupe (a URL check)."""
    kind = body.get("type")
    if kind == "event_callback":
        event_id = body.get("event_id")
        return EVENT_PREFIX + key_part(str(event_id)) if event_id else None
    if kind == "url_verification":
        return None
    trigger = body.get("trigger_id")
    if isinstance(trigger, str) and trigger:
        return REQUEST_PREFIX + "t:" + key_part(trigger)

    def header(name: str) -> str | None:
        value = headers.get(name)
        if isinstance(value, (list, tuple)):
            value = value[0] if value else None
        return str(value) if value else None

    sig, ts = header("x-slack-signature"), header("x-slack-request-timestamp")
    return REQUEST_PREFIX + "s:" + key_part(f"{ts}:{sig}") if sig and ts else None

"""Who is asking, where, and when: the context every handler receives."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, cast
from zoneinfo import ZoneInfo

from sqlalchemy import Table, bindparam, insert, select
from sqlalchemy.orm import Session

from handlers.core.mentions import MentionRules
from handlers.core.platforms import Platforms
from storage.models import AuditLog, Channel, Group, Person

Clock = Callable[[], dt.datetime]


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class CoreSettings:
    timezone: str = "Europe/Brussels"
    # platform user ids (bare, or "platform:id") who are admins
    admins: frozenset[str] = frozenset()
    clock: Clock = utc_now
    export_dir: str = "."
    # where ``taskbot run`` serves its web pages (calendar feeds, dashboard), for links
    public_url: str = ""
    # what each platform's adapter registered about it (how people and commands are
    # written there): the core's only knowledge of platforms
    platforms: Platforms = field(default_factory=Platforms)
    # what the bot writes in where a person or a group chose nothing (TASKBOT_LANGUAGE)
    language: str = "en"
    # TASKBOT_RETENTION_DAYS: closed actions' notes and finished outbox rows older than
    # this are purged by the delivery tick (None: kept for good)
    retention_days: int | None = None

    @property
    def mentions(self) -> MentionRules:
        return self.platforms.mentions

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


# Built once: building a statement and its cache key on every command cost more than
# running it.
_CHANNEL_GROUP = (
    select(Group).join(Channel)
    .where(Channel.platform == bindparam("platform"),
           Channel.channel_id == bindparam("channel_id"))
)
_AUDIT_INSERT = insert(cast(Table, AuditLog.__table__))


@dataclass
class Ctx:
    session: Session
    actor: Person
    platform: str
    channel_id: str | None
    settings: CoreSettings
    now: dt.datetime  # aware UTC, fixed for the whole command

    @property
    def today(self) -> dt.date:
        """Today in the bot's zone (the zone due dates are counted in)."""
        return self.now.astimezone(self.settings.zone).date()

    @cached_property
    def channel_group(self) -> Group | None:
        if self.channel_id is None:
            return None
        return self.session.scalar(
            _CHANNEL_GROUP, {"platform": self.platform, "channel_id": self.channel_id})

    def audit(self, verb: str, entity: str, entity_id: int | None, **detail: Any) -> None:
        """One audit row, written at once in the command's transaction (a plain insert:
        nothing reads it back as an object, and the unit of work cost more than the
        insert)."""
        self.session.execute(_AUDIT_INSERT, {
            "actor_id": self.actor.id, "verb": verb, "entity": entity,
            "entity_id": entity_id, "detail": detail, "at": self.now})

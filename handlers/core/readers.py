"""Who reads a message, for :func:`handlers.core.i18n.localize`: a person in their own
language and zone, a shared channel in its group's language and each time's own zone.

A person's choice (``me language``, ``me zone``) comes first; then, for the zone, what
their platform told of them (a chat profile's zone, kept as ``profile_zone``); then the
group's (each time keeps the zone it was given: the group's); the language falls back to
the group's setting for a channel and to ``TASKBOT_LANGUAGE`` for everyone.
"""

from __future__ import annotations

import functools
import zoneinfo
from collections.abc import Iterable
from typing import Any

from sqlalchemy import select, tuple_
from sqlalchemy.orm import Session

from handlers.core.context import CoreSettings
from handlers.core.i18n import LANGUAGES, Reader, available
from handlers.core.messages import ChannelRef
from storage.models import Channel, Group, Identity, Person

LANGUAGE, ZONE, PROFILE_ZONE = "language", "zone", "profile_zone"


def _text(settings: dict[str, Any] | None, key: str) -> str:
    found = (settings or {}).get(key)
    return found if isinstance(found, str) else ""


def _language(chosen: str, settings: CoreSettings) -> str:
    return chosen if chosen in LANGUAGES or chosen in available() else settings.language


@functools.cache
def zone_names() -> dict[str, str]:
    """Every IANA zone a person may choose, by its lower case (``europe/lisbon``): the
    Area/City names, and UTC."""
    return {z.lower(): z for z in zoneinfo.available_timezones() if "/" in z or z == "UTC"}


@functools.cache
def known_zones() -> frozenset[str]:
    return frozenset(zone_names().values())


def person_zone(person: Person | None) -> str | None:
    """The zone a person reads times in, when they have one of their own (one that is no
    zone, a profile's odd value, is no choice)."""
    if person is None:
        return None
    for key in (ZONE, PROFILE_ZONE):
        found = _text(person.settings, key)
        if found in known_zones():
            return found
    return None


def person_reader(person: Person | None, settings: CoreSettings) -> Reader:
    if person is None:
        return Reader(settings.language)
    return Reader(_language(_text(person.settings, LANGUAGE), settings), person_zone(person))


def group_language(group: Group | None, settings: CoreSettings) -> str:
    return _language(_text(group.settings if group else None, LANGUAGE), settings)


def group_reader(group: Group | None, settings: CoreSettings) -> Reader:
    """A shared channel: the group's language; times keep their own (the group's) zone."""
    return Reader(group_language(group, settings))


def remember_profile_zone(person: Person, zone: str) -> None:
    """Keep the zone a platform's profile gives for the person (written only when it
    changes, so a command that only reads still writes nothing)."""
    if zone in known_zones() and _text(person.settings, PROFILE_ZONE) != zone:
        person.settings = {**(person.settings or {}), PROFILE_ZONE: zone}


READERS_CHUNK = 400  # channels per query (SQLite takes so many parameters)


def channel_readers(session: Session, channels: Iterable[ChannelRef],
                    settings: CoreSettings) -> dict[ChannelRef, Reader]:
    """Who reads what is sent to each channel: the person of a direct message (a chat's
    or an address's), else the group the channel is bound to. Two queries a chunk: a
    decision's fan-out to a thousand addresses reads its readers at once, not one by one."""
    wanted = list(dict.fromkeys(channels))
    found: dict[ChannelRef, Reader] = {}
    direct = [c for c in wanted if c.direct_user is not None]
    rooms = [c for c in wanted if c.direct_user is None]
    for at in range(0, len(direct), READERS_CHUNK):
        part = direct[at:at + READERS_CHUNK]
        keys = [(c.platform, c.direct_user or "") for c in part]
        people = {(platform, ext): person for platform, ext, person in session.execute(
            select(Identity.platform, Identity.external_id, Person)
            .join(Person, Person.id == Identity.person_id)
            .where(tuple_(Identity.platform, Identity.external_id).in_(keys)))}
        for c in part:
            found[c] = person_reader(people.get((c.platform, c.direct_user or "")), settings)
    for at in range(0, len(rooms), READERS_CHUNK):
        part = rooms[at:at + READERS_CHUNK]
        keys2 = [(c.platform, c.channel_id) for c in part]
        groups = {(platform, cid): group for platform, cid, group in session.execute(
            select(Channel.platform, Channel.channel_id, Group)
            .join(Group, Group.id == Channel.group_id)
            .where(tuple_(Channel.platform, Channel.channel_id).in_(keys2)))}
        for c in part:
            found[c] = group_reader(groups.get((c.platform, c.channel_id)), settings)
    return found

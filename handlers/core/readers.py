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
from typing import Any

from sqlalchemy import select
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


def channel_reader(session: Session, channel: ChannelRef, settings: CoreSettings) -> Reader:
    """Who reads what is sent to ``channel``: the person of a direct message (a chat's or
    an address's), else the group the channel is bound to."""
    user = channel.direct_user
    if user is not None:
        person = session.scalar(
            select(Person).join(Identity).where(Identity.platform == channel.platform,
                                                Identity.external_id == user))
        return person_reader(person, settings)
    group = session.scalar(
        select(Group).join(Channel).where(Channel.platform == channel.platform,
                                          Channel.channel_id == channel.channel_id))
    return group_reader(group, settings)


def remember_profile_zone(person: Person, zone: str) -> None:
    """Keep the zone a platform's profile gives for the person (written only when it
    changes, so a command that only reads still writes nothing)."""
    if zone in known_zones() and _text(person.settings, PROFILE_ZONE) != zone:
        person.settings = {**(person.settings or {}), PROFILE_ZONE: zone}

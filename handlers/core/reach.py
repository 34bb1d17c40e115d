"""Where a post to a group goes: its channels, and each member no channel reaches.

A group's channels (a Slack channel, a Matrix room, a shell channel) reach the members who
read there. A member known only on a platform without rooms (mail) reads none of them, so
every post to the group (a reminder, a decision, minutes, a digest, the BoC's report) goes
to them as well, one direct message each: one outbox row per recipient, so a recipient
whose server refuses is retried or failed alone, and no one sees who else received it.

Every feature that posts to a group asks here, so a new kind of post reaches the same
people, and the choice of who reads where is made once.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import selectinload
from sqlalchemy.orm.interfaces import LoaderOption

from handlers.core.messages import ChannelRef
from handlers.core.platforms import Platforms
from storage.models import Group, Identity, Membership, Person


def reached_directly(person: Person, platforms: Platforms) -> Identity | None:
    """The identity a group's posts reach ``person`` at one by one, or None when the
    group's channels are theirs: a person who has an identity on a platform with rooms
    reads there; one known only on platforms without rooms is written to at the first
    of those (in the platforms' order)."""
    roomless = platforms.roomless
    if not roomless:
        return None
    ids = list(person.identities)
    if any(i.platform not in roomless for i in ids):
        return None
    rank = platforms.mentions.dm_rank
    ids.sort(key=lambda i: (rank(i.platform), i.id))
    return ids[0] if ids else None


def group_reach(group: Group, platforms: Platforms,
                channels: bool = True) -> list[ChannelRef]:
    """Every destination of a post to ``group``: its channels (unless ``channels`` is
    False: a command typed in one of them showed its reply there already), then a direct
    message to each member reached one by one, in the order they joined."""
    out = [ChannelRef(c.platform, c.channel_id) for c in group.channels] if channels else []
    if not platforms.roomless:
        return out
    seen: set[ChannelRef] = set(out)
    for membership in sorted(group.memberships, key=lambda m: m.id):
        ident = reached_directly(membership.person, platforms)
        if ident is None:
            continue
        ref = ChannelRef.direct(ident.platform, ident.external_id)
        if ref not in seen:
            seen.add(ref)
            out.append(ref)
    return out


def reach_loads(via: Any = None) -> list[LoaderOption]:
    """The loader options :func:`group_reach` reads through, for a planner's select of
    groups (``via``: the relationship that leads to the group, such as
    ``MeetingSeries.group``), so a tick reads every group's reach in a few selects."""
    def start(attr: Any) -> Any:
        return selectinload(attr) if via is None else selectinload(via).selectinload(attr)

    return [
        start(Group.channels),
        start(Group.memberships).selectinload(Membership.person)
        .selectinload(Person.identities),
    ]


__all__ = ["group_reach", "reach_loads", "reached_directly"]

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

import datetime as dt
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload
from sqlalchemy.orm.interfaces import LoaderOption

from handlers.core.context import CoreSettings
from handlers.core.messages import ChannelRef
from handlers.core.platforms import Platforms
from storage.models import Group, Identity, Membership, Person

CHAT, BOTH = "chat", "both"  # ``me notify``: besides these, a platform without rooms


def notify_choice(settings: dict[str, object] | None) -> str:
    """What a person chose with ``me notify`` ("" when they chose nothing)."""
    found = (settings or {}).get("notify")
    return found if isinstance(found, str) else ""


def away_until(settings: dict[str, object] | None, day: dt.date) -> dt.date | None:
    """The last day of the absence ``day`` falls in (``me away``), or None."""
    away = (settings or {}).get("away")
    if not isinstance(away, dict):
        return None
    try:
        first = dt.date.fromisoformat(str(away.get("from")))
        last = dt.date.fromisoformat(str(away.get("to")))
    except ValueError:
        return None
    return last if first <= day <= last else None


def personal_reach(ids: list[tuple[str, str]], notify: str,
                   platforms: Platforms) -> list[tuple[str, str]]:
    """Where a personal message (a nudge, a direct answer) to someone with these
    identities goes, as (platform, id) pairs: their first chat in the platforms' order by
    default (their first address when they have no chat); a platform without rooms they
    chose with ``me notify`` instead; ``both``: the chat and that address. A choice they can
    no longer be reached by (the identity is gone) falls back to the default."""
    if not ids:
        return []
    rank = platforms.mentions.dm_rank
    ordered = sorted(ids, key=lambda i: rank(i[0]))
    roomless = platforms.roomless
    chats = [i for i in ordered if i[0] not in roomless]
    mail = [i for i in ordered if i[0] in roomless]
    chosen = [i for i in mail if i[0] == notify]
    if notify == BOTH and chats and mail:
        return [chats[0], mail[0]]
    if chosen:
        return [chosen[0]]
    return [chats[0]] if chats else [ordered[0]]


def reached_directly(person: Person, platforms: Platforms) -> Identity | None:
    """The identity a group's posts reach ``person`` at one by one, or None when the
    group's channels are theirs: a person who has an identity on a platform with rooms
    reads there (unless they asked for their mail too, with ``me notify``); one known only
    on platforms without rooms is written to at the first of those (in the platforms'
    order)."""
    roomless = platforms.roomless
    if not roomless:
        return None
    pairs = [(i.platform, i.external_id) for i in person.identities]
    wanted = [p for p in personal_reach(pairs, notify_choice(person.settings), platforms)
              if p[0] in roomless]
    if not wanted:
        return None
    return next(i for i in person.identities if (i.platform, i.external_id) == wanted[0])


def group_reach(group: Group, platforms: Platforms, channels: bool = True,
                skip: Callable[[Person], bool] | None = None) -> list[ChannelRef]:
    """Every destination of a post to ``group``: its channels (unless ``channels`` is
    False: a command typed in one of them showed its reply there already), then a direct
    message to each member reached one by one, in the order they joined (but those
    ``skip`` says no to: who stopped that kind of post)."""
    out = [ChannelRef(c.platform, c.channel_id) for c in group.channels] if channels else []
    if not platforms.roomless:
        return out
    seen: set[ChannelRef] = set(out)
    for membership in sorted(group.memberships, key=lambda m: m.id):
        if skip is not None and skip(membership.person):
            continue
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


__all__ = ["BOTH", "CHAT", "away_until", "group_reach", "notify_choice", "personal_reach",
           "reach_loads", "reached_directly"]


def identities_of(session: Session, people: Sequence[Person]) -> dict[int, list[tuple[str, str]]]:
    """Each person's (platform, id) pairs, in one query for them all."""
    found: dict[int, list[tuple[str, str]]] = {person.id: [] for person in people}
    for pid, platform, ext in session.execute(
            select(Identity.person_id, Identity.platform, Identity.external_id)
            .where(Identity.person_id.in_(list(found))).order_by(Identity.id)):
        found[pid].append((platform, ext))
    return found


def personal_targets(session: Session, people: Sequence[Person], settings: CoreSettings
                     ) -> list[tuple[Person, list[tuple[str, str]]]]:
    """Where a personal message to each goes (``me notify``), each person's identities
    read at once."""
    ids = identities_of(session, people)
    return [(person, personal_reach(ids[person.id], notify_choice(person.settings),
                                    settings.platforms)) for person in people]

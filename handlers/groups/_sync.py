"""A group that follows its channel: joining or leaving a bound channel joins or leaves it.

A chair turns this on with ``tg settings <group> follow_channel on`` (off by default: most
channels have guests, observers and the secretariat in them, who are not members). The
feature watches presence (``Router.presence``): an adapter reports a join or a leave there,
and the router runs :func:`channel_membership_changed` in its transaction.

The rules, decided once here:

- a join adds the person as a *member* (never a chair), creating the person on first sight;
  a restricted group follows too, since a chair chose to let the channel decide;
- a leave removes a member, but never a chair: losing a chair because someone left a
  channel by mistake (or a channel was archived) is worse than a stale chair, and chairs are
  changed on purpose with ``tg add ... as member`` or ``tg remove``;
- a channel bound to no group, or a group not following, changes nothing;
- a group whose membership is a role (``boc``, ``secretariat``) never follows, whatever its
  stored setting says: a public channel would otherwise hand the role to anyone who joins,
  and a leave would take it away by accident;
- every change writes an audit row whose actor is the person who joined or left (``via``:
  the channel), as ``tg join`` / ``tg leave`` would.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from handlers.core.directory import ensure_person, membership, person_by_identity
from handlers.core.roles import grants_role
from handlers.core.router import Incoming, Presence, Registry
from handlers.core.scheduling import setting
from storage.models import AuditLog, Channel, Group, Membership

FOLLOW = "follow_channel"


def _audit(session: Session, verb: str, group: Group, person_id: int, channel: str,
           now: dt.datetime) -> None:
    session.add(AuditLog(
        actor_id=person_id, verb=verb, entity="group", entity_id=group.id,
        detail={"person": person_id, "via": channel}, at=now,
    ))



def channel_membership_changed(
    session: Session,
    platform: str,
    channel_id: str,
    user_id: str,
    joined: bool,
    now: dt.datetime,
    display_name: str | None = None,
) -> str | None:
    """Apply a join (``joined``) or a leave of ``channel_id`` by ``user_id`` to the group
    bound to that channel, if it follows its channel; returns what changed (for the log),
    or None when nothing did. The caller owns the transaction (commit after).
    """
    group = session.scalar(
        select(Group).join(Channel, Channel.group_id == Group.id)
        .where(Channel.platform == platform, Channel.channel_id == channel_id)
    )
    if group is None or grants_role(group) or setting(group, FOLLOW) != "on":
        return None
    where = f"{platform}:{channel_id}"
    if joined:
        person = ensure_person(session, platform, user_id, display_name)
        if membership(session, group, person) is not None:
            return None
        session.add(Membership(group=group, person=person, role="member",
                               created_at=now))
        session.flush()
        _audit(session, "join", group, person.id, where, now)
        return f"{person.display_name} joined {group.slug} (joined {where})"
    found = person_by_identity(session, platform, user_id)
    if found is None:
        return None
    m = membership(session, group, found)
    if m is None:
        return None
    if m.role == "chair":
        return f"{found.display_name} left {where} but stays chair of {group.slug}"
    session.delete(m)
    session.flush()
    _audit(session, "leave", group, found.id, where, now)
    return f"{found.display_name} left {group.slug} (left {where})"


def _changed(session: Session, msg: Incoming, joined: bool, now: dt.datetime) -> str | None:
    assert msg.channel_id is not None  # the router hears only a channel's presence
    return channel_membership_changed(session, msg.platform, msg.channel_id, msg.user_id,
                                      joined, now, msg.user_name)


def register(reg: Registry) -> None:
    reg.watch_presence(Presence("channel-following", _changed))

"""The questions an adapter asks of the store outside a command: which groups a form offers
or a shell completes, whether someone may invite the bot, and the display names a profile
gives.

Here so that no adapter runs a query of its own: each takes the session factory, opens a
short session, and returns plain values the adapter renders.
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from handlers.core.directory import find_identity
from storage.models import NAME_MAX, Channel, Group, MeetingSeries, Membership


def group_choices(sessions: sessionmaker[Session], platform: str, channel_id: str | None
                  ) -> tuple[list[tuple[str, str]], str | None]:
    """Every group as (slug, name), and the slug of the one bound to the channel if any
    (a form's choices and its default)."""
    with sessions() as session:
        groups = [(slug, name) for slug, name in session.execute(
            select(Group.slug, Group.name).order_by(Group.slug))]
        current = None
        if channel_id:
            current = session.scalar(
                select(Group.slug).join(Channel)
                .where(Channel.platform == platform, Channel.channel_id == channel_id))
    return groups, current


def active_slugs(sessions: sessionmaker[Session]) -> list[str]:
    """The slugs of the groups not archived (what a completion offers)."""
    with sessions() as session:
        return list(session.scalars(
            select(Group.slug).where(Group.archived_at.is_(None)).order_by(Group.slug)))


def known_member(sessions: sessionmaker[Session], admins: frozenset[str], platform: str,
                 external_id: str) -> bool:
    """Admins (configured or made in chat) and people who belong to some group: who may
    bring the bot into a room of their own."""
    if external_id in admins or f"{platform}:{external_id}" in admins:
        return True
    with sessions() as session:
        person = find_identity(session, platform, external_id)
        if person is None:
            return False
        if person.is_admin:
            return True
        return session.scalar(
            select(Membership.id).where(Membership.person_id == person.id).limit(1)
        ) is not None


def known_identity(sessions: sessionmaker[Session], platform: str, external_id: str) -> bool:
    """Whether someone is known by this id (a mail address an admin, a chair or the
    person themself put in): mail from anyone else runs nothing."""
    with sessions() as session:
        return find_identity(session, platform, external_id) is not None


def series_group(sessions: sessionmaker[Session], series_id: int) -> str | None:
    """The slug of the group whose meeting series this is (a calendar's answer names the
    series by its UID), or None."""
    with sessions() as session:
        return session.scalar(select(Group.slug).join(MeetingSeries)
                              .where(MeetingSeries.id == series_id))


def adopt_names(sessions: sessionmaker[Session], platform: str,
                names: Mapping[str, str]) -> None:
    """People first seen as a bare platform id (``tg add @bob:server``) take the display
    name their profile gives; a name someone already has is kept."""
    with sessions.begin() as session:
        for external_id, name in names.items():
            person = find_identity(session, platform, external_id)
            if person is not None and person.display_name == external_id:
                person.display_name = name[:NAME_MAX]

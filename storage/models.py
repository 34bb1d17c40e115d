"""SQLAlchemy models: the one store that the shell, Slack and Matrix share.

Instants are stored as naive UTC (``DateTime`` without zone) so SQLite and PostgreSQL agree,
and read and written as aware UTC datetimes through one column type (:class:`UtcDateTime`):
code never converts by hand. Meeting wall times are stored naive-local beside their zone
name, since a series must keep its local hour across DST changes.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator


class UtcDateTime(TypeDecorator[dt.datetime]):
    """An instant: stored as naive UTC, read back aware (UTC). A naive value written is
    taken as UTC already (what the store has always held); an aware one is converted."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None,
                           dialect: Dialect) -> dt.datetime | None:
        if value is None or value.tzinfo is None:
            return value
        return value.astimezone(dt.UTC).replace(tzinfo=None)

    def process_result_value(self, value: dt.datetime | None,
                             dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is not None:
            return value.astimezone(dt.UTC)
        return value.replace(tzinfo=dt.UTC)

# Stable constraint names, so Alembic batch mode on SQLite can find them again.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# Field limits, shared by the handlers' validation and the column sizes.
SLUG_MAX = 40
NAME_MAX = 120
PROJECT_MAX = 120
TITLE_MAX = 500
TEXT_MAX = 2000
URL_MAX = 500
# how a group is joined with ``tg join``: at once, by a chair's approval, or only by tg add
JOIN_POLICIES = ("open", "request", "closed")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Group(Base):
    __tablename__ = "groups"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(SLUG_MAX), unique=True)
    name: Mapped[str] = mapped_column(String(NAME_MAX))
    mandate: Mapped[str] = mapped_column(Text, default="")
    # boc / secretariat groups grant roles, so joining them is not self-service.
    restricted: Mapped[bool] = mapped_column(default=False)
    # what the delivery engine schedules for the group (handlers.scheduling.DEFAULTS)
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # the delivery engine's bookmark for the weekly digest (NULL: work it out again)
    next_digest_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    # one of JOIN_POLICIES; a restricted group, and boc and secretariat whatever is stored,
    # are closed (handlers.groups.join_policy reads it)
    join_policy: Mapped[str] = mapped_column(String(8), default="request",
                                             server_default="request")
    # set by ``tg archive``: nothing is scheduled for it and lists leave it out; its records
    # stay and are reported
    archived_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)

    channels: Mapped[list[Channel]] = relationship(
        back_populates="group", cascade="all, delete-orphan", order_by="Channel.id"
    )
    memberships: Mapped[list[Membership]] = relationship(
        back_populates="group", cascade="all, delete-orphan", order_by="Membership.id"
    )
    series: Mapped[MeetingSeries | None] = relationship(
        back_populates="group", cascade="all, delete-orphan", uselist=False
    )


class JoinRequest(Base):
    """Someone's ``tg join`` of a group whose join policy is ``request``, until a chair
    approves or denies it (one row per group and person; a later request reuses it)."""

    __tablename__ = "join_requests"
    __table_args__ = (UniqueConstraint("group_id", "person_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"))
    person_id: Mapped[int] = mapped_column(
        ForeignKey("people.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[str] = mapped_column(String(12), default="pending")  # approved | denied
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    decided_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    decided_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("people.id", ondelete="SET NULL")
    )

    group: Mapped[Group] = relationship()
    person: Mapped[Person] = relationship(foreign_keys=[person_id])
    decided_by: Mapped[Person | None] = relationship(foreign_keys=[decided_by_id])


class Channel(Base):
    """A chat channel or room bound to a group; several per group, across platforms."""

    __tablename__ = "channels"
    __table_args__ = (UniqueConstraint("platform", "channel_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"), index=True)
    platform: Mapped[str] = mapped_column(String(16))
    channel_id: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)

    group: Mapped[Group] = relationship(back_populates="channels")


class Person(Base):
    __tablename__ = "people"

    id: Mapped[int] = mapped_column(primary_key=True)
    display_name: Mapped[str] = mapped_column(String(NAME_MAX))
    is_admin: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    # the person's own choices (``me``): where personal messages go (``notify``)
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict, server_default="{}")

    identities: Mapped[list[Identity]] = relationship(
        back_populates="person", cascade="all, delete-orphan", order_by="Identity.id"
    )
    memberships: Mapped[list[Membership]] = relationship(back_populates="person")


class ContactCode(Base):
    """A code sent to an address someone asked to link (``me email``), until they type it
    back or it expires: only the hash of the code is kept. One pending per person."""

    __tablename__ = "contact_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(
        ForeignKey("people.id", ondelete="CASCADE"), unique=True)
    platform: Mapped[str] = mapped_column(String(16))
    external_id: Mapped[str] = mapped_column(String(255))
    code_hash: Mapped[str] = mapped_column(String(64))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)


class Identity(Base):
    """One platform account of a person (Slack user id, Matrix user id, shell name)."""

    __tablename__ = "identities"
    __table_args__ = (UniqueConstraint("platform", "external_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    platform: Mapped[str] = mapped_column(String(16))
    external_id: Mapped[str] = mapped_column(String(255))

    person: Mapped[Person] = relationship(back_populates="identities")


class Membership(Base):
    __tablename__ = "memberships"
    __table_args__ = (UniqueConstraint("group_id", "person_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"))
    person_id: Mapped[int] = mapped_column(
        ForeignKey("people.id", ondelete="CASCADE"), index=True
    )
    role: Mapped[str] = mapped_column(String(16), default="member")  # chair | member
    project: Mapped[str | None] = mapped_column(String(PROJECT_MAX))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)

    group: Mapped[Group] = relationship(back_populates="memberships")
    person: Mapped[Person] = relationship(back_populates="memberships")


class MeetingSeries(Base):
    """A group's monthly meeting: a naive-local RRULE placed in ``timezone``."""

    __tablename__ = "meeting_series"

    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int] = mapped_column(
        ForeignKey("groups.id", ondelete="CASCADE"), unique=True
    )
    rule: Mapped[str] = mapped_column(String(500))  # RRULE line, without DTSTART
    rule_text: Mapped[str] = mapped_column(String(200))  # as the user typed it
    start_time: Mapped[dt.time]
    timezone: Mapped[str] = mapped_column(String(64))
    duration_minutes: Mapped[int] = mapped_column(Integer, default=60)
    link: Mapped[str | None] = mapped_column(String(URL_MAX))
    remind_offsets: Mapped[str] = mapped_column(String(100), default="7d,1d,1h")
    starts_on: Mapped[dt.date] = mapped_column(Date)  # DTSTART's local date
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    # the delivery engine's bookmark: reminders due from this instant on are still to be
    # planned; a change to the series sets it to the time of the change
    next_reminder_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, index=True)
    # raised by every change (a new schedule, a skip, a move): a calendar invitation's
    # SEQUENCE, so a client replaces what it holds with the newer one
    sequence: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    group: Mapped[Group] = relationship(back_populates="series")
    exceptions: Mapped[list[MeetingException]] = relationship(
        back_populates="series",
        cascade="all, delete-orphan",
        order_by="MeetingException.original_date",
    )


class MeetingException(Base):
    """A skipped or moved occurrence, keyed by its original local date."""

    __tablename__ = "meeting_exceptions"
    __table_args__ = (UniqueConstraint("series_id", "original_date"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    series_id: Mapped[int] = mapped_column(ForeignKey("meeting_series.id", ondelete="CASCADE"))
    original_date: Mapped[dt.date] = mapped_column(Date)
    kind: Mapped[str] = mapped_column(String(8))  # skip | move
    new_start: Mapped[dt.datetime | None] = mapped_column(DateTime)  # naive local
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)

    series: Mapped[MeetingSeries] = relationship(back_populates="exceptions")


class MeetingRsvp(Base):
    """Whether someone is coming: to one meeting (``occurrence_date``, its original local
    date) or, with none, to every meeting of the series until they answer one otherwise
    (a calendar's answer to the whole series)."""

    __tablename__ = "meeting_rsvps"
    __table_args__ = (
        UniqueConstraint("series_id", "occurrence_date", "person_id"),
        # one answer for the whole series a person (NULLs are distinct in the constraint)
        Index("uq_meeting_rsvps_every", "series_id", "person_id", unique=True,
              sqlite_where=text("occurrence_date IS NULL"),
              postgresql_where=text("occurrence_date IS NULL")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    series_id: Mapped[int] = mapped_column(
        ForeignKey("meeting_series.id", ondelete="CASCADE"))
    occurrence_date: Mapped[dt.date | None] = mapped_column(Date)
    person_id: Mapped[int] = mapped_column(
        ForeignKey("people.id", ondelete="CASCADE"), index=True)
    answer: Mapped[str] = mapped_column(String(8))  # yes | no | maybe
    via: Mapped[str] = mapped_column(String(16))  # the platform it came from (email: a calendar)
    at: Mapped[dt.datetime] = mapped_column(UtcDateTime)

    person: Mapped[Person] = relationship()


class AgendaItem(Base):
    __tablename__ = "agenda_items"
    __table_args__ = (Index("ix_agenda_group_date", "group_id", "occurrence_date"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"))
    occurrence_date: Mapped[dt.date] = mapped_column(Date)  # original local date
    text: Mapped[str] = mapped_column(String(TITLE_MAX))
    author_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)

    author: Mapped[Person | None] = relationship()


class Meeting(Base):
    """A meeting held in a channel (meeting mode): open until ``ended_at``; its minutes are
    kept in three renderings so ``meeting minutes`` can return them as they were posted."""

    __tablename__ = "meetings"
    __table_args__ = (
        Index("ix_meetings_channel_open", "platform", "channel_id", "ended_at"),
        Index("ix_meetings_group_started", "group_id", "started_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"))
    platform: Mapped[str] = mapped_column(String(16))
    channel_id: Mapped[str] = mapped_column(String(255))
    # the series occurrence it holds (original local date), None for an ad-hoc meeting
    occurrence_date: Mapped[dt.date | None] = mapped_column(Date)
    chair_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    started_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("people.id", ondelete="SET NULL")
    )
    started_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    closes_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, index=True)  # auto-close
    ended_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    auto_closed: Mapped[bool] = mapped_column(default=False)
    minutes_text: Mapped[str | None] = mapped_column(Text)
    minutes_md: Mapped[str | None] = mapped_column(Text)
    minutes_html: Mapped[str | None] = mapped_column(Text)

    group: Mapped[Group] = relationship()
    items: Mapped[list[MeetingItem]] = relationship(
        back_populates="meeting", cascade="all, delete-orphan", order_by="MeetingItem.id"
    )
    attendees: Mapped[list[MeetingAttendee]] = relationship(
        back_populates="meeting", cascade="all, delete-orphan", order_by="MeetingAttendee.id"
    )


class MeetingItem(Base):
    """One captured line: topic, info, link, idea, action, agreed, decision or chair."""

    __tablename__ = "meeting_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(
        ForeignKey("meetings.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(12))
    text: Mapped[str] = mapped_column(String(TEXT_MAX))
    author_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"))
    action_id: Mapped[int | None] = mapped_column(ForeignKey("actions.id", ondelete="SET NULL"))
    decision_id: Mapped[int | None] = mapped_column(
        ForeignKey("decisions.id", ondelete="SET NULL")
    )
    agenda_item_id: Mapped[int | None] = mapped_column(
        ForeignKey("agenda_items.id", ondelete="SET NULL")
    )
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)

    meeting: Mapped[Meeting] = relationship(back_populates="items")
    author: Mapped[Person | None] = relationship()


class MeetingAttendee(Base):
    """Who spoke in a meeting (attendance), in the order they first spoke."""

    __tablename__ = "meeting_attendees"
    __table_args__ = (UniqueConstraint("meeting_id", "person_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id", ondelete="CASCADE"))
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"))
    lines: Mapped[int] = mapped_column(Integer, default=0)
    first_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)

    meeting: Mapped[Meeting] = relationship(back_populates="attendees")
    person: Mapped[Person] = relationship()


class Decision(Base):
    __tablename__ = "decisions"

    id: Mapped[int] = mapped_column(primary_key=True)
    text: Mapped[str] = mapped_column(String(TEXT_MAX))
    author_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, index=True)
    # set by ``decision revoke`` (the reason is in its DecisionEvent): kept in the register
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)

    author: Mapped[Person | None] = relationship()
    targets: Mapped[list[DecisionTarget]] = relationship(
        back_populates="decision", cascade="all, delete-orphan", order_by="DecisionTarget.id"
    )
    events: Mapped[list[DecisionEvent]] = relationship(
        back_populates="decision", cascade="all, delete-orphan", order_by="DecisionEvent.id"
    )
    actions: Mapped[list[Action]] = relationship(back_populates="decision", order_by="Action.id")


class DecisionTarget(Base):
    """A group a decision concerns, with that group's acknowledgement."""

    __tablename__ = "decision_targets"
    __table_args__ = (
        UniqueConstraint("decision_id", "group_id"),
        Index("ix_decision_targets_group_ack", "group_id", "acked_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    decision_id: Mapped[int] = mapped_column(ForeignKey("decisions.id", ondelete="CASCADE"))
    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"))
    acked_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"))
    acked_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    # when the delivery engine planned the "not acknowledged yet" reminder
    reminded_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)

    decision: Mapped[Decision] = relationship(back_populates="targets")
    group: Mapped[Group] = relationship()
    acked_by: Mapped[Person | None] = relationship()


class DecisionEvent(Base):
    """A change to a recorded decision: ``amend`` (``text`` is the new wording, ``previous``
    the old) or ``revoke`` (``text`` is the reason). ``decision show`` lists them."""

    __tablename__ = "decision_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    decision_id: Mapped[int] = mapped_column(
        ForeignKey("decisions.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(12))
    text: Mapped[str] = mapped_column(String(TEXT_MAX))
    previous: Mapped[str] = mapped_column(String(TEXT_MAX), default="")
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"))
    at: Mapped[dt.datetime] = mapped_column(UtcDateTime)

    decision: Mapped[Decision] = relationship(back_populates="events")
    actor: Mapped[Person | None] = relationship()


class Proposal(Base):
    """A question put to a group's members (its electorate, frozen at opening), closed at a
    deadline by its kind's rule and a quorum; a passed one ``for`` target groups becomes a
    decision. A motion in a meeting is one too (``meeting_id``), its electorate those there."""

    __tablename__ = "proposals"
    __table_args__ = (
        Index("ix_proposals_status_closes", "status", "closes_at"),
        Index("ix_proposals_group_opened", "group_id", "opened_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(TITLE_MAX))
    kind: Mapped[str] = mapped_column(String(12))  # consent | majority | consensus | poll
    options: Mapped[list[str]] = mapped_column(JSON, default=list)  # a poll's choices
    quorum_pct: Mapped[int] = mapped_column(Integer)
    # what the quorum is a share of, when it is not the electorate: a meeting's motion is
    # voted by those present, its quorum counted over all the group's members
    quorum_base: Mapped[int | None] = mapped_column(Integer)
    anonymous: Mapped[bool] = mapped_column(default=False)
    hidden: Mapped[bool] = mapped_column(default=False)  # the tally shown only once closed
    status: Mapped[str] = mapped_column(String(8), default="open")  # open | closed
    # passed | failed | no_quorum | winner | tie, and the counts it was closed on
    outcome: Mapped[str | None] = mapped_column(String(12))
    result: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    opened_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("people.id", ondelete="SET NULL"))
    opened_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    closes_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    closed_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    closed_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("people.id", ondelete="SET NULL"))
    # when the reminder to those who have not voted was planned (the deadline it was for)
    reminded_for: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    decision_id: Mapped[int | None] = mapped_column(
        ForeignKey("decisions.id", ondelete="SET NULL"))
    meeting_id: Mapped[int | None] = mapped_column(
        ForeignKey("meetings.id", ondelete="SET NULL"), index=True)

    group: Mapped[Group] = relationship()
    opened_by: Mapped[Person | None] = relationship(foreign_keys=[opened_by_id])
    targets: Mapped[list[ProposalTarget]] = relationship(
        back_populates="proposal", cascade="all, delete-orphan", order_by="ProposalTarget.id")
    electorate: Mapped[list[ProposalVoter]] = relationship(
        back_populates="proposal", cascade="all, delete-orphan",
        order_by="ProposalVoter.person_id")


class ProposalTarget(Base):
    """A group a proposal's decision, once passed, is for."""

    __tablename__ = "proposal_targets"
    __table_args__ = (UniqueConstraint("proposal_id", "group_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    proposal_id: Mapped[int] = mapped_column(ForeignKey("proposals.id", ondelete="CASCADE"))
    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"))

    proposal: Mapped[Proposal] = relationship(back_populates="targets")
    group: Mapped[Group] = relationship()


class ProposalVoter(Base):
    """One of a proposal's electorate, as it was when the proposal opened."""

    __tablename__ = "proposal_voters"

    proposal_id: Mapped[int] = mapped_column(
        ForeignKey("proposals.id", ondelete="CASCADE"), primary_key=True)
    person_id: Mapped[int] = mapped_column(
        ForeignKey("people.id", ondelete="CASCADE"), primary_key=True, index=True)
    project: Mapped[str | None] = mapped_column(String(NAME_MAX))

    proposal: Mapped[Proposal] = relationship(back_populates="electorate")
    person: Mapped[Person] = relationship()


class Vote(Base):
    """A vote; changing it writes a new row and marks the old one replaced (its history),
    so a proposal has at most one current vote per person (a partial unique index)."""

    __tablename__ = "votes"
    __table_args__ = (
        Index("uq_votes_current", "proposal_id", "person_id", unique=True,
              sqlite_where=text("replaced_at IS NULL"),
              postgresql_where=text("replaced_at IS NULL")),
        Index("ix_votes_proposal_choice", "proposal_id", "replaced_at", "choice"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    proposal_id: Mapped[int] = mapped_column(ForeignKey("proposals.id", ondelete="CASCADE"))
    person_id: Mapped[int] = mapped_column(
        ForeignKey("people.id", ondelete="CASCADE"), index=True)
    choice: Mapped[str] = mapped_column(String(NAME_MAX))
    reason: Mapped[str] = mapped_column(String(TEXT_MAX), default="")
    via: Mapped[str] = mapped_column(String(16), default="")  # the platform it came from
    cast_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    replaced_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)

    person: Mapped[Person] = relationship()


class CheckinRound(Base):
    """A check-in before one BoC meeting: each Task Group's askees are prompted on its
    opening day and answer until its close, when the answers are compiled for the Board.
    One per meeting (``series_id``, ``meeting_date``), so processes ticking together
    create it once."""

    __tablename__ = "checkin_rounds"
    __table_args__ = (
        UniqueConstraint("series_id", "meeting_date"),
        Index("ix_checkin_rounds_status_closes", "status", "closes_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    series_id: Mapped[int] = mapped_column(ForeignKey("meeting_series.id", ondelete="CASCADE"))
    meeting_date: Mapped[dt.date] = mapped_column(Date)  # the occurrence's original date
    meeting_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    zone: Mapped[str] = mapped_column(String(64))  # the BoC's, for showing its times
    opens_on: Mapped[dt.date] = mapped_column(Date)  # prompts at 09:00 where each askee is
    closes_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    status: Mapped[str] = mapped_column(String(8), default="open")  # open | closed
    # the governance file's questions when the round opened (None: the default three)
    questions: Mapped[list[str] | None] = mapped_column(JSON)
    blockers: Mapped[int] = mapped_column(Integer, default=0)  # its blockers' question, 1-based
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    closed_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)


class CheckinAskee(Base):
    """Someone a round asks for a group, as chosen when it opened, and when their prompt
    falls (09:00 in their zone)."""

    __tablename__ = "checkin_askees"

    round_id: Mapped[int] = mapped_column(
        ForeignKey("checkin_rounds.id", ondelete="CASCADE"), primary_key=True)
    group_id: Mapped[int] = mapped_column(
        ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True)
    person_id: Mapped[int] = mapped_column(
        ForeignKey("people.id", ondelete="CASCADE"), primary_key=True, index=True)
    prompt_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)

    person: Mapped[Person] = relationship()
    group: Mapped[Group] = relationship()


class CheckinAnswer(Base):
    """One person's answer to one question of a round for a group; edited in place until
    the round closes."""

    __tablename__ = "checkin_answers"
    __table_args__ = (UniqueConstraint("round_id", "group_id", "person_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("checkin_rounds.id", ondelete="CASCADE"))
    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"))
    person_id: Mapped[int] = mapped_column(
        ForeignKey("people.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column(Integer)  # the question's, 1-based
    text: Mapped[str] = mapped_column(String(TEXT_MAX))
    via: Mapped[str] = mapped_column(String(16), default="")
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)

    person: Mapped[Person] = relationship()


class Action(Base):
    __tablename__ = "actions"
    __table_args__ = (
        Index("ix_actions_status_due", "status", "due"),
        Index("ix_actions_group_status_due", "group_id", "status", "due"),
        Index("ix_actions_status_closed", "status", "closed_at"),
        # open and overdue per group (dashboard, summary) from the index alone
        Index("ix_actions_status_group_due", "status", "group_id", "due"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int | None] = mapped_column(ForeignKey("groups.id", ondelete="SET NULL"))
    title: Mapped[str] = mapped_column(String(TITLE_MAX))
    status: Mapped[str] = mapped_column(String(12), default="open")  # open | done | cancelled
    due: Mapped[dt.date | None] = mapped_column(Date)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"))
    decision_id: Mapped[int | None] = mapped_column(
        ForeignKey("decisions.id", ondelete="SET NULL"), index=True
    )
    meeting_series_id: Mapped[int | None] = mapped_column(
        ForeignKey("meeting_series.id", ondelete="SET NULL")
    )
    meeting_date: Mapped[dt.date | None] = mapped_column(Date)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    closed_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)

    group: Mapped[Group | None] = relationship()
    author: Mapped[Person | None] = relationship(foreign_keys=[author_id])
    decision: Mapped[Decision | None] = relationship(back_populates="actions")
    assignees: Mapped[list[ActionAssignee]] = relationship(
        back_populates="action", cascade="all, delete-orphan", order_by="ActionAssignee.id"
    )
    notes: Mapped[list[ActionNote]] = relationship(
        back_populates="action", cascade="all, delete-orphan", order_by="ActionNote.id"
    )
    events: Mapped[list[ActionEvent]] = relationship(
        back_populates="action", cascade="all, delete-orphan", order_by="ActionEvent.id"
    )


class ActionAssignee(Base):
    __tablename__ = "action_assignees"
    __table_args__ = (
        UniqueConstraint("action_id", "person_id"),
        Index("ix_action_assignees_person", "person_id", "action_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    action_id: Mapped[int] = mapped_column(ForeignKey("actions.id", ondelete="CASCADE"))
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"))

    action: Mapped[Action] = relationship(back_populates="assignees")
    person: Mapped[Person] = relationship()


class ActionNote(Base):
    __tablename__ = "action_notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    action_id: Mapped[int] = mapped_column(
        ForeignKey("actions.id", ondelete="CASCADE"), index=True
    )
    author_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"))
    text: Mapped[str] = mapped_column(String(TEXT_MAX))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)

    action: Mapped[Action] = relationship(back_populates="notes")
    author: Mapped[Person | None] = relationship()


class ActionEvent(Base):
    """The life-cycle history of one action: created, done, reopened, reassigned..."""

    __tablename__ = "action_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    action_id: Mapped[int] = mapped_column(
        ForeignKey("actions.id", ondelete="CASCADE"), index=True
    )
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(String(20))
    detail: Mapped[str] = mapped_column(String(TEXT_MAX), default="")
    at: Mapped[dt.datetime] = mapped_column(UtcDateTime)

    action: Mapped[Action] = relationship(back_populates="events")
    actor: Mapped[Person | None] = relationship()


class Outbox(Base):
    """One scheduled outgoing message; ``key`` makes every delivery happen at most once."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_status_due", "status", "due_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(255), unique=True)
    kind: Mapped[str] = mapped_column(String(32))
    platform: Mapped[str] = mapped_column(String(16))
    channel_id: Mapped[str] = mapped_column(String(255))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    due_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    status: Mapped[str] = mapped_column(String(12), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    claimed_until: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    # who holds a sending row: a mark by a ticker whose claim was taken over changes nothing
    claim_token: Mapped[str | None] = mapped_column(String(32))
    sent_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    message_id: Mapped[str | None] = mapped_column(String(255))
    last_error: Mapped[str | None] = mapped_column(String(TEXT_MAX))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)


class KvState(Base):
    """Small adapter state that must survive restarts: Matrix sync token and access token,
    recently handled event ids, and the like. ``key`` is namespaced (``matrix:sync_token``)."""

    __tablename__ = "kv_state"

    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    value: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)


class AuditLog(Base):
    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_entity", "entity", "entity_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"))
    verb: Mapped[str] = mapped_column(String(40))
    entity: Mapped[str] = mapped_column(String(40))
    entity_id: Mapped[int | None]
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    at: Mapped[dt.datetime] = mapped_column(UtcDateTime, index=True)


class LinkKey(Base):
    """A person's key for the links handed to them (calendar feeds, the dashboard). Every
    fetch looks the person up by it and checks their current roles; a new key (``meeting
    feed reset``, ``secretariat feeds reset``) revokes every link made with the old one."""

    __tablename__ = "link_keys"

    person_id: Mapped[int] = mapped_column(
        ForeignKey("people.id", ondelete="CASCADE"), primary_key=True)
    token: Mapped[str] = mapped_column(String(32), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)

"""A proposal's deadline and the reminder before it, through the delivery tick.

At the deadline a tick of any process closes the proposal (``close_proposal``: one UPDATE
only an open proposal matches, so with several processes ticking the outcome is posted
once) and queues its posts under keys of its own. A day before, each member of the
electorate who has not voted gets a personal reminder, once for each deadline
(``reminded_for``); its composer says nothing if they voted or the deadline moved since.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from handlers.core.context import CoreSettings, Ctx
from handlers.core.directory import SYSTEM_PLATFORM, system_person
from handlers.core.messages import Block, ChannelRef
from handlers.core.posts import queue_posts
from handlers.core.reach import personal_targets
from handlers.core.scheduling import MAX_GRACE, ScheduleKinds, outbox_row
from handlers.proposals._commands import (
    OPEN,
    close_proposal,
    not_voted,
    reminder_blocks,
)
from storage import outbox
from storage.models import Proposal, Vote

REMIND_BEFORE = dt.timedelta(hours=24)
KIND = "proposal_reminder"


def _ctx(session: Session, settings: CoreSettings, now: dt.datetime) -> Ctx:
    """The bot's own context at the tick's instant (the close is the bot's, at the
    deadline)."""
    return Ctx(session=session, actor=system_person(session), platform=SYSTEM_PLATFORM,
               channel_id=None, settings=settings, now=now)


def plan_proposals(session: Session, now: dt.datetime,
                   settings: CoreSettings) -> list[outbox.NewRow]:
    rows: list[outbox.NewRow] = []
    due = list(session.scalars(select(Proposal).where(
        Proposal.status == OPEN, Proposal.closes_at <= now).order_by(Proposal.id)))
    for proposal in due:
        ctx = _ctx(session, settings, now)
        posts = close_proposal(ctx, proposal, by=None)
        if posts:
            queue_posts(session, posts, now, f"proposal-close:{proposal.id}")
    # a motion in a meeting is voted there and then: no reminder for it
    soon = list(session.scalars(select(Proposal).where(
        Proposal.status == OPEN, Proposal.closes_at > now, Proposal.meeting_id.is_(None),
        Proposal.closes_at <= now + REMIND_BEFORE).order_by(Proposal.id)))
    for proposal in soon:
        if proposal.reminded_for == proposal.closes_at:
            continue
        proposal.reminded_for = proposal.closes_at
        stamp = int(proposal.closes_at.timestamp())
        for person, targets in personal_targets(session, not_voted(session, proposal),
                                                settings):
            for n, (platform, ext) in enumerate(targets):
                key = f"{KIND}:{proposal.id}:{stamp}:{person.id}" + (f":{platform}" if n else "")
                rows.append(outbox_row(
                    key, KIND, platform, ChannelRef.direct(platform, ext).channel_id,
                    {"proposal_id": proposal.id, "person_id": person.id, "closes": stamp},
                    now, MAX_GRACE, now))
    return rows


def compose_reminder(session: Session, payload: dict[str, Any],
                     settings: CoreSettings) -> list[Block] | None:
    proposal = session.get(Proposal, payload["proposal_id"])
    if (proposal is None or proposal.status != OPEN
            or int(proposal.closes_at.timestamp()) != payload["closes"]):
        return None  # closed, or its deadline moved (a reminder is planned for the new one)
    voted = session.scalar(select(Vote.id).where(
        Vote.proposal_id == proposal.id, Vote.person_id == payload["person_id"],
        Vote.replaced_at.is_(None)))
    if voted is not None:
        return None
    return reminder_blocks(_ctx(session, settings, settings.clock()), proposal)


def register(kinds: ScheduleKinds) -> None:
    kinds.planner(plan_proposals)
    kinds.kind(KIND, compose_reminder)

"""Reminders to the target groups that have not acknowledged a BoC decision in time,
sent in the group's working hours."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from handlers.core.context import CoreSettings
from handlers.core.i18n import _
from handlers.core.messages import Block, Button, Buttons, Text, topic
from handlers.core.reach import group_reach, reach_loads
from handlers.core.recurrence import parse_offsets
from handlers.core.scheduling import (
    DAY,
    MAX_GRACE,
    ScheduleKinds,
    group_zone,
    outbox_row,
    setting,
    working_time,
)
from handlers.decisions._commands import TOPIC
from storage import outbox
from storage.models import Decision, DecisionTarget, Group


def plan_ack_reminders(session: Session, now: dt.datetime,
                       settings: CoreSettings) -> list[outbox.NewRow]:
    """One reminder per target group that has not acknowledged a decision in time, sent
    in the group's working hours (``working_time``).

    ``reminded_at`` marks a target once its reminder is planned, so the query only ever
    sees the few targets still waiting for theirs.
    """
    rows: list[outbox.NewRow] = []
    pending = session.execute(
        select(DecisionTarget, Decision.created_at)
        .join(Decision, Decision.id == DecisionTarget.decision_id)
        .where(DecisionTarget.acked_at.is_(None), DecisionTarget.reminded_at.is_(None),
               Decision.revoked_at.is_(None), Decision.created_at <= now - DAY)
        .options(*reach_loads(DecisionTarget.group),
                 selectinload(DecisionTarget.group).selectinload(Group.series))
    ).all()
    for target, created in pending:
        value = setting(target.group, "ack_reminder")
        if value == "off" or target.group.archived_at is not None:
            continue
        due = working_time(created + parse_offsets(value)[0],
                           group_zone(target.group, settings))
        if due > now:
            continue
        target.reminded_at = now
        for ch in group_reach(target.group, settings.platforms):
            key = f"ack:{target.decision_id}:{target.group_id}:{ch.platform}:{ch.channel_id}"
            rows.append(outbox_row(key, "ack_reminder", ch.platform, ch.channel_id,
                                   {"decision_id": target.decision_id,
                                    "group_id": target.group_id},
                                   due, MAX_GRACE, now))
    return rows


def compose_ack_reminder(session: Session, payload: dict[str, Any],
                         settings: CoreSettings) -> list[Block] | None:
    target = session.scalar(select(DecisionTarget).where(
        DecisionTarget.decision_id == payload["decision_id"],
        DecisionTarget.group_id == payload["group_id"],
    ))
    if target is None or target.acked_at is not None:
        return None  # acknowledged in the meantime: nothing to remind
    decision = target.decision
    if decision.revoked_at is not None or target.group.archived_at is not None:
        return None  # revoked, or the group archived, in the meantime
    label = f"D-{decision.id}"
    return [
        Text((_("{group} has not acknowledged BoC decision {decision} yet:",
                group=target.group.name, decision=label),), "heading"),
        Text((decision.text,), "quote"),
        # TRANSLATORS: a button
        Buttons((Button(_("Acknowledge"), f"decision ack {label}", "primary"),)),
        topic(TOPIC, decision.id),
    ]


def register(kinds: ScheduleKinds) -> None:
    kinds.planner(plan_ack_reminders)
    kinds.kind("ack_reminder", compose_ack_reminder)

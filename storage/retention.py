"""What ``TASKBOT_RETENTION_DAYS`` lets go: the notes of actions closed longer ago than that,
and the outbox rows that are finished (sent, skipped, missed) and older than that.

The delivery tick calls :func:`purge` once a tick, a bounded batch each time, so the first
run on a large store does not hold a long write lock. What stays: the actions themselves
(the programme's record), their history of events, decisions, minutes and the audit log;
pending and failed outbox rows (still to send, or for the secretariat to look at).

An outbox key is what keeps a post or a reminder from going out twice; a finished row is only
deleted once it is past every look-back the planners make (a day for a daily slot, a week for
a post's grace), which :data:`MIN_DAYS` guarantees.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import and_, delete, func, select, update
from sqlalchemy.orm import Session

from storage.models import Action, ActionEvent, ActionNote, Outbox

MIN_DAYS = 7
BATCH = 500
FINISHED = ("sent", "skipped", "missed")
CLOSED = ("done", "cancelled")


@dataclass(frozen=True)
class Purged:
    notes: int = 0
    outbox: int = 0

    def __bool__(self) -> bool:
        return bool(self.notes or self.outbox)


def purge(session: Session, now: dt.datetime, days: int, batch: int = BATCH) -> Purged:
    """Delete at most ``batch`` rows of each kind older than ``days`` (at least MIN_DAYS)."""
    cutoff = now.astimezone(dt.UTC) - dt.timedelta(days=max(days, MIN_DAYS))
    notes = session.execute(
        select(ActionNote.id, ActionNote.action_id).join(Action, Action.id == ActionNote.action_id)
        .where(Action.status.in_(CLOSED), Action.closed_at < cutoff)
        .order_by(ActionNote.id).limit(batch)).all()
    note_ids = [note_id for note_id, _action in notes]
    if note_ids:
        session.execute(delete(ActionNote).where(ActionNote.id.in_(note_ids)))
        # a note's text was once copied into its history line too: that copy goes with it
        session.execute(update(ActionEvent).where(
            ActionEvent.action_id.in_(sorted({a for _n, a in notes})),
            ActionEvent.kind == "note", ActionEvent.detail != "").values(detail=""))
    row_ids = list(session.scalars(
        select(Outbox.id).where(and_(
            Outbox.status.in_(FINISHED),
            func.coalesce(Outbox.sent_at, Outbox.due_at) < cutoff))
        .order_by(Outbox.id).limit(batch)))
    if row_ids:
        session.execute(delete(Outbox).where(Outbox.id.in_(row_ids)))
    return Purged(len(note_ids), len(row_ids))

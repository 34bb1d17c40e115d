"""Outbox queries: insert-once by key, claim with a lease, mark the outcome.

Claiming is safe with any number of ticking processes: PostgreSQL skips rows another
transaction holds (``FOR UPDATE SKIP LOCKED``); SQLite serialises writers through
``BEGIN IMMEDIATE`` (see storage.db). A claimed row carries a lease; a process that dies
mid-send leaves the row to be claimed again once the lease runs out. Each claim writes a
fresh token on its rows, and every mark names it: a ticker whose lease ran out and whose rows
another ticker took over marks nothing (the marks return False), so it cannot overwrite the
other's outcome.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from storage.models import Outbox

PENDING, SENDING, SENT, MISSED, FAILED, SKIPPED = (
    "pending", "sending", "sent", "missed", "failed", "skipped"
)


@dataclass(frozen=True)
class NewRow:
    key: str
    kind: str
    platform: str
    channel_id: str
    payload: dict[str, Any]
    due_at: dt.datetime  # naive UTC
    status: str = PENDING


def insert_new(session: Session, rows: Iterable[NewRow], now: dt.datetime) -> list[str]:
    """Insert rows whose key is new; returns the keys that were inserted."""
    values = [
        {
            "key": r.key, "kind": r.kind, "platform": r.platform, "channel_id": r.channel_id,
            "payload": r.payload, "due_at": r.due_at, "status": r.status, "attempts": 0,
            "created_at": now,
        }
        for r in rows
    ]
    if not values:
        return []
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    # one cached statement with the rows as its parameters (SQLAlchemy batches them into
    # multi-row INSERTs itself): a ``.values(list)`` statement was compiled anew each call,
    # which cost a command's three posts as much as their insert
    stmt = (
        insert(Outbox)
        .on_conflict_do_nothing(index_elements=["key"])
        .returning(Outbox.key)
    )
    return list(session.scalars(stmt, values))


def existing_keys(session: Session, keys: list[str]) -> set[str]:
    found: set[str] = set()
    for start in range(0, len(keys), 500):
        chunk = keys[start : start + 500]
        found.update(session.scalars(select(Outbox.key).where(Outbox.key.in_(chunk))))
    return found


def new_token() -> str:
    return secrets.token_hex(16)


def claim(
    session: Session, now: dt.datetime, lease: dt.timedelta, limit: int, platforms: list[str],
    token: str, keys: Sequence[str] | None = None,
) -> list[Outbox]:
    """Take up to ``limit`` due rows under ``token``: pending ones whose retry time has
    come, and sending ones whose lease ran out (their process died or took too long).

    For a pending row ``claimed_until`` is the earliest retry time, for a sending row the
    end of its lease. ``keys``, when given, limits the claim to those rows.
    """
    query = (
        select(Outbox)
        .where(
            Outbox.due_at <= now,
            Outbox.platform.in_(platforms),
            or_(
                (Outbox.status == PENDING)
                & or_(Outbox.claimed_until.is_(None), Outbox.claimed_until <= now),
                (Outbox.status == SENDING) & (Outbox.claimed_until < now),
            ),
        )
        .order_by(Outbox.due_at, Outbox.id)
        .limit(limit)
    )
    if keys is not None:  # these rows only (a command's posts, sent as it answers)
        query = query.where(Outbox.key.in_(keys))
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    # the ids first (locked on PostgreSQL), then one UPDATE for all of them, then the rows
    # as they now are: the unit of work's per-object bookkeeping cost a fan-out of a
    # thousand mails more than the rows' own writes
    ids = list(session.scalars(query.with_only_columns(Outbox.id)))
    if not ids:
        return []
    session.execute(
        update(Outbox).where(Outbox.id.in_(ids))
        .values(status=SENDING, claimed_until=now + lease, claim_token=token,
                attempts=Outbox.attempts + 1)
        .execution_options(synchronize_session=False))
    return list(session.scalars(
        select(Outbox).where(Outbox.id.in_(ids)).order_by(Outbox.due_at, Outbox.id)
        .execution_options(populate_existing=True)))


def _held(row_id: int, token: str) -> Any:
    return (Outbox.id == row_id) & (Outbox.status == SENDING) & (Outbox.claim_token == token)


def mark_sent(session: Session | Connection, row_id: int, token: str, message_id: str,
              now: dt.datetime) -> bool:
    """Sent, if ``token`` still holds the row; False (nothing written) when it does not.

    The delivery engine marks each row the moment it is sent, in a transaction of its
    own, so it passes a plain connection: a session's set-up cost four times the update
    (a fan-out of a thousand mails marks a thousand rows)."""
    result = session.execute(
        update(Outbox)
        .where(_held(row_id, token))
        .values(status=SENT, sent_at=now, message_id=message_id, claimed_until=None,
                claim_token=None, last_error=None)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0) == 1)


def mark_status(
    session: Session, row_id: int, token: str, status: str, error: str | None,
    retry_at: dt.datetime | None = None, *, untried: bool = False,
) -> bool:
    """Record an outcome other than sent, if ``token`` still holds the row; ``retry_at``
    keeps a pending row back until then, ``untried`` gives back the claim's attempt."""
    values: dict[str, Any] = {"status": status, "claimed_until": retry_at,
                              "claim_token": None, "last_error": error}
    if untried:
        values["attempts"] = Outbox.attempts - 1
    result = session.execute(
        update(Outbox).where(_held(row_id, token)).values(**values)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0) == 1)

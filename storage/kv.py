"""A tiny key-value table for adapter state that must outlive the process.

Sync tokens, access tokens and recently handled event ids are not domain data, but losing
them means replaying commands or making a new device on every start. Keys are namespaced
by their owner (``matrix:sync_token``).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from storage.models import KvState


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def get(session: Session, key: str) -> str | None:
    return session.scalar(select(KvState.value).where(KvState.key == key))


def get_many(session: Session, prefix: str) -> dict[str, str]:
    """Every key starting with ``prefix`` (escaped: ``_`` and ``%`` are literal)."""
    escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    rows = session.execute(
        select(KvState.key, KvState.value).where(KvState.key.like(escaped + "%", escape="\\"))
    )
    return {k: v for k, v in rows}


def put(session: Session, key: str, value: str) -> None:
    """Insert or overwrite (one writer per key: the adapter that owns the namespace)."""
    row = session.get(KvState, key)
    if row is None:
        session.add(KvState(key=key, value=value, updated_at=_now()))
    else:
        row.value, row.updated_at = value, _now()


def drop(session: Session, key: str) -> None:
    session.execute(delete(KvState).where(KvState.key == key))


def claim(session: Session, key: str) -> bool:
    """Write ``key`` in the caller's transaction unless it is there; False if it was.

    An idempotency key: committed with the work it guards, so the two cannot part. A
    concurrent claim of the same key waits on the row (PostgreSQL) or the write lock
    (SQLite) and then finds it, or loses the insert race and is told so.
    """
    if get(session, key) is not None:
        return False
    try:
        with session.begin_nested():
            session.add(KvState(key=key, value="", updated_at=_now()))
    except IntegrityError:
        return False
    return True

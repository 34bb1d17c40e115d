"""A tiny key-value table for adapter state that must outlive the process.

Sync tokens, access tokens and recently handled event ids are not domain data, but losing
them means replaying commands or making a new device on every start. Keys are namespaced
by their owner (``matrix:sync_token``).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from storage.models import KvState


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


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


def claim(session: Session, key: str, now: dt.datetime | None = None) -> bool:
    """Write ``key`` in the caller's transaction unless it is there; False if it was.

    An idempotency key: committed with the work it guards, so the two cannot part. One
    ``INSERT ... ON CONFLICT DO NOTHING``: a concurrent claim of the same key waits on the
    row (PostgreSQL) or the write lock (SQLite) and then inserts nothing.
    """
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    stmt = (insert(KvState).values(key=key, value="", updated_at=now or _now())
            .on_conflict_do_nothing(index_elements=["key"]).returning(KvState.key))
    return session.execute(stmt).first() is not None

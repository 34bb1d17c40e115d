"""Reader sessions (web routes, exports) never hold up the writers on SQLite."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import Engine, create_engine, func, insert, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from storage.db import make_reader_factory, make_session_factory
from storage.models import Group

NOW = dt.datetime(2026, 12, 1, 9, 0)


def _impatient_writer(engine: Engine) -> Engine:
    """A second connection to the same file that gives up at once on a locked store."""
    return create_engine(engine.url, connect_args={"timeout": 0})


def _write(engine: Engine, slug: str) -> None:
    with engine.begin() as conn:
        conn.execute(insert(Group), {"slug": slug, "name": slug, "created_at": NOW})


def _hold_a_read(sessions: sessionmaker[Session], writer: Engine, slug: str) -> int:
    """Read inside an open transaction while another connection writes; returns the
    count the reader still sees (its snapshot) after the write."""
    with sessions() as s:
        before = s.scalar(select(func.count()).select_from(Group)) or 0
        _write(writer, slug)
        after = s.scalar(select(func.count()).select_from(Group)) or 0
        assert after == before  # one snapshot for the whole read
        return after


def test_a_reader_lets_a_writer_commit(sqlite_engine: Engine) -> None:
    writer = _impatient_writer(sqlite_engine)
    try:
        seen = _hold_a_read(make_reader_factory(sqlite_engine), writer, "while-reading")
        with make_session_factory(sqlite_engine)() as s:
            assert s.scalar(select(func.count()).select_from(Group)) == seen + 1
    finally:
        writer.dispose()


def test_an_ordinary_session_holds_the_write_lock(sqlite_engine: Engine) -> None:
    """The contrast that makes the test above mean something."""
    writer = _impatient_writer(sqlite_engine)
    try:
        with pytest.raises(OperationalError, match="locked"):
            _hold_a_read(make_session_factory(sqlite_engine), writer, "blocked")
    finally:
        writer.dispose()


def test_readers_read_on_both_databases(engine: Engine) -> None:
    with make_session_factory(engine).begin() as s:
        s.add(Group(slug="g1", name="G1", created_at=NOW))
    with make_reader_factory(engine)() as s:
        assert s.scalars(select(Group.slug)).all() == ["g1"]

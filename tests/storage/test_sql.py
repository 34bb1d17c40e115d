"""``undated_last`` sorts the same on both databases, each in its own spelling."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Engine, func, insert, select
from sqlalchemy.dialects import postgresql, sqlite

from storage.models import Action
from storage.sql import undated_last

DUES = [dt.date(2027, 3, 1), None, dt.date(2026, 1, 5), None, dt.date(2027, 3, 1)]


def test_undated_actions_come_last_in_due_then_id_order(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(insert(Action), [
            {"title": f"a{i}", "status": "open", "due": due,
             "created_at": dt.datetime(2026, 1, 1)}
            for i, due in enumerate(DUES)])
    stmt = select(Action.title).order_by(undated_last(Action.due), Action.id)
    rank = func.row_number().over(order_by=(undated_last(Action.due), Action.id))
    ranked = select(Action.title, rank).order_by(Action.id)
    with engine.connect() as conn:
        assert list(conn.scalars(stmt)) == ["a2", "a0", "a4", "a1", "a3"]
        assert [r for _, r in conn.execute(ranked)] == [2, 4, 1, 5, 3]


def test_each_database_gets_its_own_spelling() -> None:
    stmt = select(Action.id).order_by(undated_last(Action.due), Action.id)
    assert str(stmt.compile(dialect=sqlite.dialect())).endswith(
        "ORDER BY actions.due IS NULL, actions.due, actions.id")
    assert str(stmt.compile(dialect=postgresql.dialect())).endswith(
        "ORDER BY actions.due, actions.id")


def test_statement_cache_keeps_columns_apart() -> None:
    """Two keys on different columns must not share a cached compilation."""
    a = select(Action.id).order_by(undated_last(Action.due))
    b = select(Action.id).order_by(undated_last(Action.meeting_date))
    key_a, key_b = a._generate_cache_key(), b._generate_cache_key()
    assert key_a is not None and key_b is not None and key_a != key_b
    assert "meeting_date IS NULL" in str(b.compile(dialect=sqlite.dialect()))

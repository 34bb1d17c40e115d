"""Alembic builds the schema from empty on both databases, and it matches the models."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, inspect, text
from sqlalchemy.engine import make_url

from storage.db import is_empty, make_engine, upgrade
from storage.models import Base


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "sqlite":
        eng = make_engine(f"sqlite:///{tmp_path / 'empty.sqlite3'}")
        yield eng
        eng.dispose()
        return
    url = make_url(request.getfixturevalue("pg_url"))
    name = f"empty_{abs(hash(request.node.nodeid)) % 10**8}"
    admin = f"host={url.host} port={url.port} user={url.username} dbname=postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name}")
        conn.execute(f"CREATE DATABASE {name}")
    eng = make_engine(url.set(database=name).render_as_string(hide_password=False))
    yield eng
    eng.dispose()
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name}")


def test_upgrade_from_empty_matches_models(empty_engine: Engine) -> None:
    assert is_empty(empty_engine)
    upgrade(empty_engine)
    assert not is_empty(empty_engine)
    tables = set(inspect(empty_engine).get_table_names())
    assert {t.name for t in Base.metadata.sorted_tables} <= tables
    with empty_engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == [], f"models and migrations differ; add a revision with scripts/new-migration: {diff}"


def test_upgrade_is_idempotent(empty_engine: Engine) -> None:
    upgrade(empty_engine)
    upgrade(empty_engine)
    with empty_engine.connect() as conn:
        version = conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
    assert version


def test_sqlite_pragmas(tmp_path: Path) -> None:
    eng = make_engine(f"sqlite:///{tmp_path / 'p.sqlite3'}")
    with eng.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 10_000
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    eng.dispose()


def test_one_head() -> None:
    """Every revision chains onto the last: two heads would leave ``upgrade head`` refusing."""
    from alembic.script import ScriptDirectory

    from storage.db import alembic_config

    script = ScriptDirectory.from_config(alembic_config(make_engine("sqlite://")))
    assert len(script.get_heads()) == 1, script.get_heads()


def test_join_policy_revision_closes_restricted_groups(empty_engine: Engine) -> None:
    """Groups stored before join policies: restricted ones become closed, the rest take
    requests; the revision before it, with data, upgrades on both databases."""
    upgrade(empty_engine, "9bbc930d4094")
    with empty_engine.begin() as conn:
        for slug, restricted in (("boc", True), ("sec2", True), ("repl", False)):
            conn.execute(text(
                "INSERT INTO groups (slug, name, mandate, restricted, settings, created_at) "
                "VALUES (:slug, :slug, '', :restricted, '{}', '2026-11-01 09:00:00')"),
                {"slug": slug, "restricted": restricted})
        conn.execute(text("INSERT INTO decisions (text, created_at) "
                          "VALUES ('Adopt', '2026-11-01 09:00:00')"))
    upgrade(empty_engine)
    with empty_engine.connect() as conn:
        rows = dict(conn.execute(text("SELECT slug, join_policy FROM groups")).all())
        assert rows == {"boc": "closed", "sec2": "closed", "repl": "request"}
        assert conn.execute(text("SELECT archived_at FROM groups")).scalars().all() == [
            None, None, None]
        assert conn.execute(text("SELECT revoked_at FROM decisions")).scalar_one() is None
        assert conn.execute(text("SELECT count(*) FROM join_requests")).scalar_one() == 0
        assert conn.execute(text("SELECT count(*) FROM decision_events")).scalar_one() == 0
    # and back down, and up again
    from alembic import command

    from storage.db import alembic_config

    command.downgrade(alembic_config(empty_engine), "9bbc930d4094")
    assert "join_requests" not in inspect(empty_engine).get_table_names()
    upgrade(empty_engine)
    assert "join_requests" in inspect(empty_engine).get_table_names()

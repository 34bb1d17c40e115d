"""Two ``taskbot db upgrade`` processes at once (as two workers of ``taskbot run`` starting on
a pending revision): both exit 0 and the store is at head once, on both databases, from an
empty store and from the revision before d580 (the index built concurrently on PostgreSQL).

On PostgreSQL the test holds ``alembic_version`` locked until both processes have reached
the store, so they truly overlap; on SQLite it holds the file's write lock until both
processes have the file open.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect, text
from sqlalchemy.engine import make_url

from storage.db import alembic_config, make_engine, upgrade
from storage.models import Base
from tests.storage.test_migrations import empty_engine  # noqa: F401

ROOT = Path(__file__).resolve().parents[2]
HEAD = ScriptDirectory.from_config(alembic_config(make_engine("sqlite://"))).get_current_head()


def start_upgrade(url: str, cwd: Path, n: int) -> tuple[subprocess.Popen[bytes], Path]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL",))}
    env.update({"DATABASE_URL": url, "PYTHONPATH": str(ROOT)})
    log = cwd / f"upgrade{n}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "bot", "db", "upgrade"], cwd=cwd,
                                env=env, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL)
    return proc, log


def wait_until(ready: object, procs: list[subprocess.Popen[bytes]], what: str) -> None:
    deadline = time.monotonic() + 60
    while not ready():  # type: ignore[operator]
        if any(p.poll() is not None for p in procs) or time.monotonic() > deadline:
            return  # one ended early (the assertions below say why) or never got there
        time.sleep(0.02)


def has_open(pid: int, path: Path) -> bool:
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return False
    for fd in fds:
        try:
            if os.readlink(f"/proc/{pid}/fd/{fd}") == str(path):
                return True
        except OSError:
            continue
    return False


def url_of(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=False)


@pytest.mark.parametrize("start", ["empty", "0001"])
def test_two_processes_upgrade_at_once(empty_engine: Engine, tmp_path: Path,  # noqa: F811
                                       start: str) -> None:
    engine = empty_engine
    if start != "empty":
        upgrade(engine, start)
    url = url_of(engine)
    procs: list[subprocess.Popen[bytes]] = []
    logs: list[Path] = []
    if engine.dialect.name == "postgresql" and start != "empty":
        pg = make_url(url)
        dsn = (f"host={pg.host} port={pg.port} user={pg.username} dbname={pg.database}")
        with psycopg.connect(dsn) as holder:
            holder.execute("LOCK TABLE alembic_version IN ACCESS EXCLUSIVE MODE")
            for n in range(2):
                proc, log = start_upgrade(url, tmp_path, n)
                procs.append(proc)
                logs.append(log)

            def both_arrived() -> bool:
                with psycopg.connect(dsn, autocommit=True) as probe:
                    waiting, others = probe.execute(
                        "SELECT count(*) FILTER (WHERE wait_event_type = 'Lock'), count(*) "
                        "FROM pg_stat_activity WHERE datname = current_database() "
                        "AND backend_type = 'client backend' AND pid NOT IN "
                        "(pg_backend_pid(), %s)", (holder.info.backend_pid,)).fetchone()
                # before the fix each process blocks on the table; with it the first one
                # blocks (holding the migration lock, on two connections) and the second
                # polls for the migration lock
                return bool(waiting >= 2 or (waiting >= 1 and others >= 3))

            wait_until(both_arrived, procs, "both processes at the store")
            holder.rollback()
    elif engine.dialect.name == "sqlite":
        path = Path(str(engine.url.database))
        with engine.connect() as holder:  # BEGIN IMMEDIATE: the write lock
            holder.execute(text("SELECT 1"))
            for n in range(2):
                proc, log = start_upgrade(url, tmp_path, n)
                procs.append(proc)
                logs.append(log)
            wait_until(lambda: all(has_open(p.pid, path) for p in procs), procs,
                       "both processes have the file open")
            holder.rollback()
    else:
        for n in range(2):
            proc, log = start_upgrade(url, tmp_path, n)
            procs.append(proc)
            logs.append(log)
    codes = [p.wait(120) for p in procs]
    outputs = [log.read_text() for log in logs]
    assert codes == [0, 0], outputs
    with engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all() \
            == [HEAD]
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []
    indexes = [i["name"] for i in inspect(engine).get_indexes("actions")]
    assert indexes.count("ix_actions_status_group_due") == 1


@pytest.fixture
def pg_engine(empty_engine: Engine) -> Iterator[Engine]:  # noqa: F811
    if empty_engine.dialect.name != "postgresql":
        pytest.skip("an invalid index is PostgreSQL's")
    yield empty_engine


def test_an_invalid_index_left_by_an_interrupted_build_is_rebuilt(pg_engine: Engine) -> None:
    """CREATE INDEX CONCURRENTLY that failed half-way leaves an invalid index of that name;
    IF NOT EXISTS alone would keep it (never used); the revision drops and rebuilds it."""
    upgrade(pg_engine, "0001")
    with pg_engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("INSERT INTO groups (slug, name, mandate, restricted, settings, "
                          "created_at) VALUES ('g', 'G', '', false, '{}', now())"))
        # a unique build over duplicate rows fails after the index was made: left invalid
        conn.execute(text(
            "INSERT INTO actions (group_id, title, status, created_at) "
            "SELECT id, 't', 'open', now() FROM groups CROSS JOIN generate_series(1, 2)"
        ))
        with pytest.raises(Exception, match=r"duplicate|unique"):
            conn.execute(text("CREATE UNIQUE INDEX CONCURRENTLY ix_actions_status_group_due "
                              "ON actions (status, group_id)"))
        assert conn.scalar(text(
            "SELECT indisvalid FROM pg_index WHERE indexrelid = "
            "'ix_actions_status_group_due'::regclass")) is False
    upgrade(pg_engine)
    with pg_engine.connect() as conn:
        valid, unique, columns = conn.execute(text(
            "SELECT indisvalid, indisunique, indnatts FROM pg_index WHERE indexrelid = "
            "'ix_actions_status_group_due'::regclass")).one()
    assert (valid, unique, columns) == (True, False, 3)

"""Engine and session setup for SQLite and PostgreSQL.

SQLite gets WAL, a busy timeout and ``BEGIN IMMEDIATE`` for every transaction so that
concurrent writers queue instead of failing half-way with "database is locked". Sessions
from :func:`make_reader_factory` only read: they begin deferred, so a long read (an export,
a dashboard page, a calendar feed) never holds up the writers.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from storage.sql import SQLITE_LOWER, sqlite_lower

MIGRATIONS = Path(__file__).parent / "migrations"
BUSY_TIMEOUT_MS = 10_000
READ_ONLY = "taskbot_read_only"  # execution option of the reader sessions' engine
MIGRATION_LOCK = 0x7461736B626F74  # PostgreSQL advisory lock key held while upgrading
UPGRADE_WAIT_S = 1800.0  # how long a process waits for another one's upgrade

log = logging.getLogger(__name__)


def normalise_url(url: str) -> str:
    """Accept the URLs hosting platforms hand out and route PostgreSQL through psycopg 3."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


def make_engine(url: str, **kwargs: Any) -> Engine:
    url = normalise_url(url)
    if url.startswith("sqlite"):
        engine = create_engine(
            url, connect_args={"timeout": BUSY_TIMEOUT_MS / 1000, "check_same_thread": False},
            **kwargs,
        )
        _tune_sqlite(engine)
        return engine
    return create_engine(url, pool_pre_ping=True, **kwargs)


def _tune_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, decide when transactions begin.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        if engine.url.database not in (None, "", ":memory:"):
            cur.execute("PRAGMA journal_mode=WAL")
        cur.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()
        # case-insensitive search beyond ASCII (storage.sql.folded)
        dbapi_conn.create_function(SQLITE_LOWER, 1, sqlite_lower, deterministic=True)

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # straight to the driver: this runs before every transaction, and the engine's
        # statement machinery (events, compilation cache lookup) cost more than the BEGIN.
        # A reader's BEGIN is deferred: in WAL mode it reads a snapshot and takes no lock.
        reader = conn.get_execution_options().get(READ_ONLY, False)
        conn.connection.driver_connection.execute("BEGIN" if reader else "BEGIN IMMEDIATE")


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def make_reader_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions that only read (the web routes, ``taskbot report``): on SQLite they take
    no write lock, which every other transaction takes from its start. So do not write in
    one: once another writer has committed, its upgrade fails at once, without queueing."""
    return sessionmaker(engine.execution_options(**{READ_ONLY: True}), expire_on_commit=False)


def alembic_config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


def upgrade(engine: Engine, revision: str = "head", *,
            wait: float = UPGRADE_WAIT_S) -> None:
    """Run Alembic migrations to ``revision`` on ``engine``, one process at a time.

    Every ``taskbot run`` migrates on start, so two workers may start on a pending revision
    together. PostgreSQL: an advisory lock is held around the upgrade; the others wait for
    it and then find the store at head. SQLite: the upgrade is one ``BEGIN IMMEDIATE``
    transaction (storage/migrations/env.py); a process that finds the file locked past
    the busy timeout tries again. Either waits at most ``wait`` seconds.
    """
    deadline = time.monotonic() + wait
    if engine.dialect.name != "postgresql":
        while True:
            try:
                command.upgrade(alembic_config(engine), revision)
                return
            except OperationalError as err:
                if "locked" not in str(err) or time.monotonic() > deadline:
                    raise
                log.info("another process is upgrading the store; waiting")
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as lock:
        # try-lock in a loop rather than pg_advisory_lock: a backend blocked in a statement
        # keeps a snapshot, which CREATE INDEX CONCURRENTLY in the holder would wait for
        waiting = False
        while not lock.scalar(text("SELECT pg_try_advisory_lock(:k)"), {"k": MIGRATION_LOCK}):
            if time.monotonic() > deadline:
                raise TimeoutError(f"another process held the migration lock for {wait:.0f}s")
            if not waiting:
                log.info("another process is upgrading the store; waiting")
                waiting = True
            time.sleep(0.2)
        try:
            command.upgrade(alembic_config(engine), revision)
        finally:
            lock.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": MIGRATION_LOCK})


def is_empty(engine: Engine) -> bool:
    return not inspect(engine).has_table("groups")

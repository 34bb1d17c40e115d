"""Alembic environment: runs on the engine the caller hands in (or DATABASE_URL)."""

from __future__ import annotations

import os

from alembic import context
from sqlalchemy import Engine

from storage.db import make_engine
from storage.models import Base

config = context.config
engine: Engine | None = config.attributes.get("engine")
if engine is None:
    engine = make_engine(os.environ.get("DATABASE_URL", "sqlite:///taskbot.sqlite3"))

with engine.connect() as connection:
    if connection.dialect.name == "sqlite":
        # the whole upgrade in one BEGIN IMMEDIATE transaction: a second process upgrading
        # the same file waits for it and then finds the store at head (storage.db.upgrade
        # retries while it waits); Alembic would otherwise commit per revision, and a second
        # process would run revisions the first had planned too
        connection.begin()
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=True,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
